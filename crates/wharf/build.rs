//! Link options of the `wharf` binary.

fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36+): the loader reads 5 KB instead
    // of 450 KB of them, a tenth of `wharf version`'s time. A linker that does not know
    // the option warns and ignores it.
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
