//! Links the daemon with packed relative relocations (`-z pack-relative-relocs`, DT_RELR) when the
//! C library it is built against can load them.
//!
//! The binary is position-independent, so every pointer in its read-only data (vtables, string
//! tables) needs a relocation at start-up. As classic RELA entries (24 bytes each) they take close
//! to 1 MB of the file, which the loader reads whole, so it stays in the daemon's resident memory
//! for its whole life. Packed, the same relocations take about 10 KB. glibc loads them from 2.36
//! on; an older glibc would refuse to start the binary, so there the link stays as it was.

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if glibc_loads_packed_relocations() {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// True when building natively for Linux with glibc 2.36 or newer (the version that reads DT_RELR):
/// the C library found here is the one the binary will be linked against and run with.
fn glibc_loads_packed_relocations() -> bool {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" || var("TARGET") != var("HOST") {
        return false;
    }
    // `getconf GNU_LIBC_VERSION` prints e.g. "glibc 2.36".
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut numbers = text.trim().trim_start_matches("glibc ").split('.').map(str::parse::<u32>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= (2, 36),
        _ => false,
    }
}
