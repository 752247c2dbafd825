//! U-Boot: the firmware (`u-boot.bin`, from Debian trixie's `u-boot-qemu`)
//! and our boot script (`boot.scr`).

use crate::apt;
use crate::paths::Paths;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `u-boot-qemu` keeps the arm64 QEMU build.
const UBOOT_BIN_IN_PKG: &str = "usr/lib/u-boot/qemu_arm64/u-boot.bin";

/// Returns the path of a `u-boot.bin` whose `bootelf` works, fetching and
/// unpacking it into the cache on first use.
pub fn firmware(paths: &Paths) -> Result<PathBuf> {
    let cache = paths.cache().join("apt");
    let fetched = apt::fetch_cached(
        &cache,
        "trixie-all",
        &["trixie"],
        "all",
        apt::PkgSpec::Exact("u-boot-qemu"),
    )
    .context("fetching U-Boot (u-boot-qemu from Debian trixie)")?;
    let dir = paths.cache().join("u-boot").join(&fetched.sha256[..16]);
    let bin = dir.join(UBOOT_BIN_IN_PKG);
    if !bin.is_file() {
        let tmp = dir.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        apt::extract_deb(&fetched.deb, &tmp)?;
        if !tmp.join(UBOOT_BIN_IN_PKG).is_file() {
            bail!("{} has no {UBOOT_BIN_IN_PKG}", fetched.deb.display());
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir)?;
        eprintln!(
            "xtask: U-Boot {} unpacked to {}",
            fetched.version,
            dir.display()
        );
    }
    Ok(bin)
}

/// What the boot script passes to the hypervisor as its DTB argument. Tests
/// use the odd ones to check the fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtbArg {
    /// `${fdtcontroladdr}`: the normal case.
    Control,
    /// No argument at all.
    Missing,
    /// An address that holds no DTB (the ELF file's load buffer).
    NotADtb,
    /// A word that is not a hex number.
    Garbage,
    /// A copy of the control DTB with a corrupted header (valid magic,
    /// structure block offset far outside the blob).
    Corrupt,
}

const DTB_ARG_KINDS: &str = "control, missing, not-a-dtb, garbage, corrupt";

impl std::str::FromStr for DtbArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "control" => Self::Control,
            "missing" => Self::Missing,
            "not-a-dtb" => Self::NotADtb,
            "garbage" => Self::Garbage,
            "corrupt" => Self::Corrupt,
            _ => return Err(format!("unknown DTB argument kind {s:?} ({DTB_ARG_KINDS})")),
        })
    }
}

/// Where the corrupted DTB copy goes (free RAM on qemu_arm64).
pub const CORRUPT_DTB_ADDR: u64 = 0x4800_0000;
const CORRUPT_PREFIX_NOTE: &str = "# test variant: pass a corrupted copy of the control DTB";

/// The boot script text for `arg`, from `u-boot/boot.cmd`.
pub fn script_text(template: &str, arg: DtbArg) -> Result<String> {
    const CONTROL: &str = " ${fdtcontroladdr}";
    if !template.contains(CONTROL) {
        bail!("u-boot/boot.cmd no longer passes ${{fdtcontroladdr}} to bootelf");
    }
    let replacement = match arg {
        DtbArg::Control => CONTROL,
        DtbArg::Missing => "",
        DtbArg::NotADtb => " ${ramdisk_addr_r}",
        DtbArg::Garbage => " not-hex",
        DtbArg::Corrupt => " 48000000",
    };
    let script = template.replace(CONTROL, replacement);
    if arg == DtbArg::Corrupt {
        // mw.l stores little-endian: header bytes 8..12 (off_dt_struct,
        // big-endian) become 0x7fffffff.
        return Ok(format!(
            "{CORRUPT_PREFIX_NOTE}\ncp.b ${{fdtcontroladdr}} {CORRUPT_DTB_ADDR:#x} 0x100000\nmw.l {:#x} 0xffffff7f\n{script}",
            CORRUPT_DTB_ADDR + 8
        ));
    }
    Ok(script)
}

/// Compiles the boot script for `arg` into `out` with mkimage. `extra` is
/// appended to the hypervisor's arguments (e.g. `selftest=panic`).
pub fn make_boot_scr(paths: &Paths, arg: DtbArg, extra: Option<&str>, out: &Path) -> Result<()> {
    let template_path = paths.uboot_dir().join("boot.cmd");
    let template = std::fs::read_to_string(&template_path)
        .with_context(|| format!("reading {}", template_path.display()))?;
    let mut text = script_text(&template, arg)?;
    if let Some(extra) = extra {
        text = append_argument(&text, extra)?;
    }
    let src = out.with_extension("cmd");
    std::fs::write(&src, text)?;
    let output = Command::new("mkimage")
        .args([
            "-A",
            "arm64",
            "-O",
            "linux",
            "-T",
            "script",
            "-C",
            "none",
            "-n",
            "elf-hypervisor boot",
        ])
        .arg("-d")
        .arg(&src)
        .arg(out)
        .output()
        .context("running mkimage (package u-boot-tools)")?;
    if !output.status.success() {
        bail!(
            "mkimage failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Adds `extra` after the DTB argument on the `bootelf` line.
pub fn append_argument(script: &str, extra: &str) -> Result<String> {
    let mut found = false;
    let lines: Vec<String> = script
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("bootelf ") {
                found = true;
                format!("{l} {extra}")
            } else {
                l.to_string()
            }
        })
        .collect();
    if !found {
        bail!("boot script has no bootelf line");
    }
    Ok(lines.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_variants() {
        let t = "bootelf -p ${ramdisk_addr_r} ${fdtcontroladdr}\n";
        assert_eq!(script_text(t, DtbArg::Control).unwrap(), t);
        assert_eq!(
            script_text(t, DtbArg::Missing).unwrap(),
            "bootelf -p ${ramdisk_addr_r}\n"
        );
        assert!(script_text(t, DtbArg::Garbage)
            .unwrap()
            .ends_with(" not-hex\n"));
        assert!(script_text("bootelf -p 0", DtbArg::Control).is_err());
        let c = script_text(t, DtbArg::Corrupt).unwrap();
        assert!(c.contains("mw.l 0x48000008 0xffffff7f"), "{c}");
        assert!(
            c.ends_with("bootelf -p ${ramdisk_addr_r} 48000000\n"),
            "{c}"
        );
    }

    #[test]
    fn appends_arguments() {
        let s = append_argument("a\n  bootelf -p 1 2\nb\n", "selftest=panic").unwrap();
        assert_eq!(s, "a\n  bootelf -p 1 2 selftest=panic\nb\n");
        assert!(append_argument("go 0", "x").is_err());
    }

    #[test]
    fn shipped_script_passes_the_control_dtb() {
        let t = include_str!("../../u-boot/boot.cmd");
        assert!(script_text(t, DtbArg::Control)
            .unwrap()
            .contains("bootelf -p ${ramdisk_addr_r} ${fdtcontroladdr}"));
    }
}
