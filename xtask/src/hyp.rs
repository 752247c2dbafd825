//! `cargo xbuild`: builds the hypervisor ELF and places it in `bin/`.

use crate::paths::Paths;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

pub const TARGET: &str = "aarch64-unknown-none-softfloat";

#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    pub spmc: bool,
}

/// Builds `elf-hypervisor` and copies it to `bin/elf-hypervisor.elf`.
pub fn build(paths: &Paths, opts: &BuildOptions) -> Result<PathBuf> {
    eprintln!("xtask: building elf-hypervisor for {TARGET}");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&paths.root).args([
        "build",
        "--release",
        "-p",
        "elf-hypervisor",
        "--target",
        TARGET,
    ]);
    if opts.spmc {
        cmd.args(["--features", "spmc"]);
    }
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("building elf-hypervisor failed");
    }
    let built = paths
        .root
        .join("target")
        .join(TARGET)
        .join("release")
        .join("elf-hypervisor");
    if opts.spmc {
        spmc_outputs(paths)?;
    }
    let bytes = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    check_loadable(&bytes)?;
    std::fs::create_dir_all(paths.bin())?;
    let out = paths.hypervisor_elf();
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "xtask: wrote {} ({} KiB)",
        out.display(),
        bytes.len() / 1024
    );
    Ok(out)
}

/// The SPMC variant: `bin/elf-spmc.elf` (for debuggers) and the flat
/// `bin/spmc.bin` TF-A loads as BL32 at its link address.
fn spmc_outputs(paths: &Paths) -> Result<PathBuf> {
    let built = paths
        .root
        .join("target")
        .join(TARGET)
        .join("release")
        .join("elf-spmc");
    let elf = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    let (layout, flat) = crate::rpi5::flatten(&elf).context("flattening elf-spmc")?;
    std::fs::create_dir_all(paths.bin())?;
    std::fs::write(paths.bin().join("elf-spmc.elf"), &elf)?;
    let out = paths.spmc_bin();
    std::fs::write(&out, &flat).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "xtask: wrote {} ({} KiB, loads at {:#x})",
        out.display(),
        flat.len() / 1024,
        layout.load_address
    );
    Ok(out)
}

/// U-Boot's `bootelf` needs a little-endian AArch64 ET_EXEC: it rejects a PIE
/// (ET_DYN) with a misleading "Not a 32-bit elf image".
pub fn check_loadable(elf: &[u8]) -> Result<()> {
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" {
        bail!("not an ELF file");
    }
    if elf[4] != 2 || elf[5] != 1 {
        bail!("not a little-endian ELF64");
    }
    let e_type = u16::from_le_bytes([elf[16], elf[17]]);
    let e_machine = u16::from_le_bytes([elf[18], elf[19]]);
    if e_machine != 183 {
        bail!("ELF machine {e_machine}, expected AArch64 (183)");
    }
    if e_type != 2 {
        bail!("ELF type {e_type}, expected ET_EXEC (2): a PIE cannot be loaded by bootelf");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(e_type: u16, machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[16..18].copy_from_slice(&e_type.to_le_bytes());
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn accepts_only_aarch64_exec() {
        assert!(check_loadable(&header(2, 183)).is_ok());
        assert!(check_loadable(&header(3, 183))
            .unwrap_err()
            .to_string()
            .contains("PIE"));
        assert!(check_loadable(&header(2, 62)).is_err());
        assert!(check_loadable(b"junk").is_err());
    }
}
