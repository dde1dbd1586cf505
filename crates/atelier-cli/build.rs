//! Link settings of the `atelier` binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // A release build packs its relative relocations (DT_RELR, binutils 2.38 and glibc 2.36 or
    // later, as on the machines this project targets): the dynamic loader then no longer reads
    // 3.3 MB of relocation entries at every start, about a tenth of an idle server's memory.
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if release && linux_gnu {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
