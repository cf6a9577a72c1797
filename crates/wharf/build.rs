//! Link options of the `wharf` binary.

fn main() {
    // At a fixed address, as a Go binary is (Compose's among them): the loader has no
    // relocation to apply, and 80 fewer pages are copied at each start (`wharf version`
    // 1.8 ms -> 1.5 ms, `config` 0.9x). Only the binary's own address is no longer
    // randomized; its libraries', heap's and stack's still are.
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
