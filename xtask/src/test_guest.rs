//! The bare-metal test guest (`test_guest/`): built for the hypervisor's
//! target, flattened into an arm64 Image, and put on a disk whose
//! `hypervisor.cfg` picks its mode (`mode=bench` or `mode=hostile`).

use crate::disk::{self, DiskSpec, Layout};
use crate::image::{BOOT_PART_MIB, ROOT_PART_MIB};
use crate::paths::Paths;
use crate::uboot::{self, DtbArg};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bench,
    Hostile,
    /// FF-A conformance through the proxy, under the secure variant.
    Ffa,
}

impl Mode {
    fn word(self) -> &'static str {
        match self {
            Mode::Bench => "bench",
            Mode::Hostile => "hostile",
            Mode::Ffa => "ffa",
        }
    }
}

/// Guest RAM. With 16 MiB the first IPA past guest RAM is 0x4100_0000,
/// the hypervisor's own physical load address (bootloader/link.ld), which
/// the hostile guest then probes.
pub const MEM_MIB: u32 = 16;
/// The micro-benchmarks time IPIs between two vCPUs.
pub const VCPUS: u32 = 2;

/// Builds the test guest and writes `build/work/test-guest/Image`.
pub fn build(paths: &Paths) -> Result<PathBuf> {
    eprintln!("xtask: building test-guest for {}", crate::hyp::TARGET);
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&paths.root)
        .args([
            "build",
            "--release",
            "-p",
            "test-guest",
            "--target",
            crate::hyp::TARGET,
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building test-guest failed");
    }
    let elf_path = paths
        .root
        .join("target")
        .join(crate::hyp::TARGET)
        .join("release")
        .join("test-guest");
    let elf =
        std::fs::read(&elf_path).with_context(|| format!("reading {}", elf_path.display()))?;
    let (layout, image) = crate::rpi5::flatten(&elf).context("flattening test-guest")?;
    let magic = image.get(56..60);
    if magic != Some(b"ARM\x64".as_slice()) {
        bail!("test-guest has no arm64 Image header at offset 56 (keep .text.boot first)");
    }
    if layout.load_address != 0x4000_0000 {
        bail!(
            "test-guest links at {:#x}; the hypervisor loads it at 0x40000000",
            layout.load_address
        );
    }
    let out = paths.work("test-guest").join("Image");
    std::fs::create_dir_all(out.parent().unwrap_or(Path::new(".")))?;
    std::fs::write(&out, &image).with_context(|| format!("writing {}", out.display()))?;
    Ok(out)
}

/// `hypervisor.cfg` for the test guest in `mode`.
pub fn config_text(mode: Mode) -> String {
    file::config::Config {
        kernel: "Image",
        initrd: None,
        dtb: None,
        bootargs: Some(&format!("test-guest mode={}", mode.word())),
        memory: Some(u64::from(MEM_MIB) << 20),
        vcpus: Some(VCPUS),
    }
    .to_string()
}

/// `dir/disk.img`: U-Boot's boot script, the hypervisor, the test guest's
/// Image and its configuration; partition 2 (the guest's virtio disk) is a
/// zeroed scratch disk.
pub fn disk(paths: &Paths, dir: &Path, image: &Path, mode: Mode) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let scr = dir.join("boot.scr");
    uboot::make_boot_scr(paths, DtbArg::Control, None, &scr)?;
    let cfg = dir.join("hypervisor.cfg");
    std::fs::write(&cfg, config_text(mode))?;
    let spec = DiskSpec {
        layout: Layout::new(BOOT_PART_MIB, ROOT_PART_MIB)?,
        boot_files: vec![
            ("boot.scr".into(), scr),
            ("elf-hypervisor.elf".into(), paths.hypervisor_elf()),
            ("Image".into(), image.to_path_buf()),
            ("hypervisor.cfg".into(), cfg),
        ],
        root_image: None,
    };
    let out = dir.join("disk.img");
    disk::build(&out, &spec)?;
    Ok(out)
}

/// The measurements the bench guest prints, in order.
pub const EXIT_BENCHES: [&str; 6] = [
    "svc",
    "hvc",
    "mmio_read",
    "cntvct",
    "vtimer_latency",
    "vipi_latency",
];

/// One `bench-exit: NAME median_ns=M min_ns=A max_ns=B samples=S` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitBench {
    pub name: String,
    pub median_ns: u64,
    pub min_ns: u64,
    pub max_ns: u64,
    pub samples: u64,
}

pub fn parse_exit_bench(line: &str) -> Option<ExitBench> {
    let mut words = line.strip_prefix("bench-exit: ")?.split_whitespace();
    let name = words.next()?.to_string();
    let mut field = |key: &str| -> Option<u64> {
        words
            .next()?
            .strip_prefix(key)?
            .strip_prefix('=')?
            .parse()
            .ok()
    };
    Some(ExitBench {
        median_ns: field("median_ns")?,
        min_ns: field("min_ns")?,
        max_ns: field("max_ns")?,
        samples: field("samples")?,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_bench_lines() {
        assert_eq!(
            parse_exit_bench("bench-exit: hvc median_ns=1200 min_ns=1100 max_ns=1500 samples=15"),
            Some(ExitBench {
                name: "hvc".into(),
                median_ns: 1200,
                min_ns: 1100,
                max_ns: 1500,
                samples: 15
            })
        );
        assert_eq!(
            parse_exit_bench("bench-exit: hvc median_ns=x min_ns=1 max_ns=1 samples=1"),
            None
        );
        assert_eq!(parse_exit_bench("bench-exit: vipi skipped: no CPU"), None);
    }

    #[test]
    fn config_names_the_mode() {
        assert!(config_text(Mode::Hostile).contains("bootargs = test-guest mode=hostile"));
        assert!(config_text(Mode::Bench).contains("vcpus = 2"));
    }
}
