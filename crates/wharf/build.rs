//! Link options of the `wharf` binary.

use std::path::Path;

fn main() {
    // At a fixed address, as a Go binary is (Compose's among them): the loader has no
    // relocation to apply, and 80 fewer pages are copied at each start (`wharf version`
    // 1.8 ms -> 1.5 ms, `config` 0.9x). Only the binary's own address is no longer
    // randomized; its libraries', heap's and stack's still are.
    println!("cargo:rustc-link-arg-bins=-no-pie");
    hot_functions_together();
}

/// The functions a `wharf config` runs, placed side by side at the start of the code
/// (`hot-functions.txt`, written by `scripts/order-hot-functions`). Scattered through
/// 16 MiB of code, they cost a page fault for each 64 KiB they touch: 120 faults a
/// run before, 90 after, and a run after an idle quarter second 0.8x the time. Release builds
/// on x86-64 Linux only, where rustc links with its own lld, which reads such a list;
/// a function the list names that is gone is passed over.
fn hot_functions_together() {
    let list = Path::new("hot-functions.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    let lld_by_default = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64")
        && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if !lld_by_default || std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    let list = std::fs::canonicalize(list).expect("crates/wharf/hot-functions.txt is there");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        list.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
