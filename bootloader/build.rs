//! Links the hypervisor at its fixed load address (`link.ld`) when building
//! for bare metal, and records the git revision for the banner.
use std::process::Command;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    if target.starts_with("aarch64-unknown-none") {
        println!("cargo:rustc-link-arg-bin=elf-hypervisor=-T{dir}/link.ld");
        // The SPMC variant (feature `spmc`) runs from secure RAM.
        println!("cargo:rustc-link-arg-bin=elf-spmc=-T{dir}/link-spmc.ld");
        // A non-PIE executable: U-Boot's bootelf rejects ET_DYN.
        println!("cargo:rustc-link-arg-bins=--no-pie");
    }
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-changed=link-spmc.ld");
    let rev = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HYP_GIT_REV={rev}");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/heads");
}
