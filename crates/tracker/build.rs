//! Link settings for the tracker's WebAssembly.

/// The tracker's stack: its calls are shallow and keep their texts on the heap, so
/// a page of 64 KiB is plenty. Rust's default of 1 MiB made the module declare 17
/// pages of memory at start, all of it paid by the page that loads it; a deeper
/// stack than this would trap (the stack sits first in memory), not overwrite data.
const STACK_BYTES: u32 = 64 * 1024;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=-zstack-size={STACK_BYTES}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
