//! TF-A for the secure variant (issue #8): fetched as Debian trixie's
//! `arm-trusted-firmware` source package (2.12: it loads an SPMC manifest
//! and SP packages on QEMU; bookworm's 2.8 does not), built for
//! `PLAT=qemu` with the SPMD and our SPMC at S-EL2 as BL32, and U-Boot as
//! BL33. The result is QEMU's `-bios` image (`qemu_fw.bios`: BL1 at 0,
//! the FIP at 256 KiB).
//!
//! Source: a private apt state with `deb-src` lines from the host's own
//! archive (apt.rs), so apt checks the tarball against the signed index;
//! cached under `build/cache/tfa/`, a second run does no network access.
//! Builds: `build/tfa/<key>/`, keyed by everything that goes in.

use crate::apt;
use crate::paths::Paths;
use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCE_PACKAGE: &str = "arm-trusted-firmware";
const SUITE: &str = "trixie";

/// `make` variables, from platform-facts.md (TF-A 2.12 on QEMU 7.2):
/// SPMD with the SPMC at S-EL2, S-EL2 and FP context switching, no SVE/SME
/// for the normal world (QEMU runs with `sve=off,sme=off`), no SPE (QEMU
/// 7.2 has none: EL3 would fault).
const FLAGS: &[&str] = &[
    "PLAT=qemu",
    "SPD=spmd",
    "SPMD_SPM_AT_SEL2=1",
    "CTX_INCLUDE_EL2_REGS=1",
    "ENABLE_FEAT_SEL2=1",
    "ARM_ARCH_MINOR=5",
    "CTX_INCLUDE_FPREGS=1",
    "ENABLE_SVE_FOR_NS=0",
    "ENABLE_SME_FOR_NS=0",
    "ENABLE_SPE_FOR_LOWER_ELS=0",
    "QEMU_USE_GIC_DRIVER=QEMU_GICV3",
    "CROSS_COMPILE=aarch64-linux-gnu-",
];

/// The CPU for secure-variant runs: TF-A keeps SVE and SME from the
/// normal world (ENABLE_SVE_FOR_NS=0, ENABLE_SME_FOR_NS=0), so the CPU
/// must not advertise them or Linux would trap to EL3 using them.
pub const SECURE_CPU: &str = "max,pauth-impdef=on,sve=off,sme=off";

/// The manifests in scripts/tfa/.
const MANIFEST: &str = "spmc_manifest.dts";
const TB_FW_CONFIG: &str = "tb_fw_config.dts";
const SP_LAYOUT: &str = "sp_layout.json";

/// Builds (or reuses) the flash image with `bl32` (our SPMC, flat) and
/// `bl33` (U-Boot) and returns its path.
pub fn flash_bin(paths: &Paths, bl32: &Path, bl33: &Path) -> Result<PathBuf> {
    crate::deps::ensure(crate::deps::TFA)?;
    let src = source(paths)?;
    let scripts = paths.root.join("scripts").join("tfa");
    let inputs: Vec<Vec<u8>> = [bl32, bl33]
        .into_iter()
        .map(PathBuf::from)
        .chain([MANIFEST, TB_FW_CONFIG, SP_LAYOUT].map(|f| scripts.join(f)))
        .map(|p| std::fs::read(&p).with_context(|| format!("reading {}", p.display())))
        .collect::<Result<_>>()?;
    let key = cache_key(&src, &inputs);
    let out = paths.build().join("tfa").join(&key);
    let bios = out.join("qemu").join("release").join("qemu_fw.bios");
    if bios.is_file() {
        return Ok(bios);
    }
    eprintln!(
        "tfa: building TF-A ({}) with the SPMC as BL32",
        src.display()
    );
    let _ = std::fs::remove_dir_all(&out);
    let mut make = Command::new("make");
    make.current_dir(&src)
        .arg("-j2")
        .args(FLAGS)
        .arg(format!("BUILD_BASE={}", out.display()))
        .arg(format!(
            "QEMU_TOS_FW_CONFIG_DTS={}",
            scripts.join(MANIFEST).display()
        ))
        .arg(format!(
            "QEMU_TB_FW_CONFIG_DTS={}",
            scripts.join(TB_FW_CONFIG).display()
        ))
        .arg(format!(
            "SP_LAYOUT_FILE={}",
            scripts.join(SP_LAYOUT).display()
        ))
        .arg(format!("BL32={}", bl32.display()))
        .arg(format!("BL33={}", bl33.display()))
        .args(["all", "fip"]);
    let log = out.with_extension("log");
    std::fs::create_dir_all(paths.build().join("tfa"))?;
    let output = make.output().context("running make for TF-A")?;
    std::fs::write(
        &log,
        [output.stdout.as_slice(), output.stderr.as_slice()].concat(),
    )?;
    if !output.status.success() || !bios.is_file() {
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        bail!(
            "building TF-A failed (log: {}):\n{}",
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    eprintln!("tfa: wrote {}", bios.display());
    Ok(bios)
}

/// The unpacked upstream source tree, fetched once.
fn source(paths: &Paths) -> Result<PathBuf> {
    let cache = paths.cache().join("tfa");
    let stamp = cache.join("source.done");
    if let Ok(dir) = std::fs::read_to_string(&stamp) {
        let dir = cache.join(dir.trim());
        if dir.join("Makefile").is_file() {
            return Ok(dir);
        }
    }
    eprintln!("tfa: fetching the {SOURCE_PACKAGE} source package from Debian {SUITE}");
    let archive = apt::host_archive().context("reading the host's apt sources")?;
    let state =
        apt::PrivateApt::new_source(&paths.cache().join("apt"), "trixie-src", &archive, &[SUITE])?;
    state.update()?;
    let dl = cache.join("download");
    let _ = std::fs::remove_dir_all(&dl);
    state.download_source(SOURCE_PACKAGE, &dl)?;
    let orig = std::fs::read_dir(&dl)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().contains(".orig.tar."))
        .context("the source package has no .orig tarball")?;
    let status = Command::new("tar")
        .arg("xf")
        .arg(&orig)
        .current_dir(&cache)
        .status()
        .context("running tar")?;
    ensure!(status.success(), "unpacking {} failed", orig.display());
    let dir = std::fs::read_dir(&cache)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(SOURCE_PACKAGE))
        })
        .context("no source directory after unpacking")?;
    ensure!(
        dir.join("Makefile").is_file(),
        "{} has no Makefile",
        dir.display()
    );
    let name = dir
        .file_name()
        .context("source dir name")?
        .to_string_lossy()
        .to_string();
    std::fs::write(&stamp, &name)?;
    let _ = std::fs::remove_dir_all(&dl);
    Ok(dir)
}

/// sha256 over the source directory name (its version), the flags and
/// every input file, 16 hex digits.
fn cache_key(src: &Path, inputs: &[Vec<u8>]) -> String {
    let mut h = Sha256::new();
    h.update(
        src.file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or_default(),
    );
    for f in FLAGS {
        h.update(f.as_bytes());
        h.update([0]);
    }
    for i in inputs {
        h.update((i.len() as u64).to_le_bytes());
        h.update(i);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_every_input() {
        let a = cache_key(
            Path::new("/x/arm-trusted-firmware-2.12.1"),
            &[b"spmc".to_vec()],
        );
        assert_eq!(a.len(), 16);
        assert_ne!(
            a,
            cache_key(
                Path::new("/x/arm-trusted-firmware-2.12.2"),
                &[b"spmc".to_vec()]
            )
        );
        assert_ne!(
            a,
            cache_key(
                Path::new("/x/arm-trusted-firmware-2.12.1"),
                &[b"spmd".to_vec()]
            )
        );
        assert_eq!(
            a,
            cache_key(
                Path::new("/y/arm-trusted-firmware-2.12.1"),
                &[b"spmc".to_vec()]
            )
        );
    }
}
