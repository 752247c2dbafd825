//! The guest payload: Debian's arm64 kernel and busybox (fetched through the
//! private apt state, see apt.rs), an initramfs that loads the modules the
//! root disk needs, an ext4 root filesystem, the guest DTB and
//! `hypervisor.cfg`. Everything is cached under `build/cache` and keyed by
//! its inputs, so a warm run makes no network access and rebuilds nothing.
//!
//! Entry points: [`prepare`] builds (or finds) everything for a flavour and
//! machine shape; [`boot_files`] and [`root_image`] say what goes on the
//! disk; [`describe`] is the human summary `xrun` prints; `verify` has the
//! serial-console checks the QEMU tests share.

mod boot;
mod busybox;
mod cache;
mod commands;
pub mod cpio;
mod fetch;
pub mod guest_dtb;
mod initramfs;
mod kernel;
mod modules;
mod prepare;
pub mod rootfs;
mod tree;
mod uimage;
pub mod verify;

#[cfg(test)]
mod boot_tests;

use crate::apt::PkgSpec;
use crate::qemu::Machine;
use std::path::PathBuf;

// The module's API for main.rs, run.rs, image.rs and the xtest scenarios.
#[cfg(test)]
use {boot::native_boot_cmd, prepare::config_text};
pub use {
    boot::{boot_files, describe, native_disk, root_image},
    commands::{options_from_args, payload_main, setup_dtb_main, OPTIONS},
    guest_dtb::DEFAULT_BOOTARGS,
    prepare::prepare,
    rootfs::read_root_file,
};

/// Partition 2 holds exactly the root filesystem image.
pub const ROOT_PART_MIB: u64 = rootfs::SIZE_MIB;
/// How long `/init` polls for the root disk to appear.
pub const ROOT_WAIT_SECONDS: u32 = 5;
/// Bump when the way artifacts are built changes, to invalidate the cache.
const BUILD_FORMAT: &str = "payload-v2";

/// Which Debian kernel flavour the guest runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flavour {
    /// `linux-image-6.12.*-cloud-arm64`: small, virtio drivers, ext4 built in.
    #[default]
    Cloud,
    /// `linux-image-6.12.*-arm64`: Debian's generic kernel, ext4 as a module.
    Generic,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Cloud => "cloud",
            Flavour::Generic => "generic",
        }
    }

    fn spec(self) -> PkgSpec<'static> {
        let suffix = match self {
            Flavour::Cloud => "-cloud-arm64",
            Flavour::Generic => "-arm64",
        };
        PkgSpec::NewestWithPrefixAndSuffix("linux-image-6.12.", suffix)
    }
}

impl std::str::FromStr for Flavour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cloud" => Ok(Flavour::Cloud),
            "generic" => Ok(Flavour::Generic),
            _ => Err(format!("unknown kernel flavour {s:?} (cloud, generic)")),
        }
    }
}

/// Who starts the guest kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// U-Boot `booti`, no hypervisor (the reference boot).
    Native,
    /// The hypervisor, reading `hypervisor.cfg`.
    Hypervisor,
}

/// What to build.
#[derive(Clone, Debug)]
pub struct Options {
    pub flavour: Flavour,
    /// The QEMU machine the disk boots on.
    pub machine: Machine,
    pub bootargs: String,
    /// The guest's share under the hypervisor (`hypervisor.cfg`).
    pub guest_vcpus: u32,
    pub guest_mem_mib: u32,
}

impl Options {
    /// Defaults: the default bootargs; under the hypervisor the guest gets
    /// every CPU and half the memory.
    pub fn new(flavour: Flavour, machine: &Machine) -> Self {
        Self {
            flavour,
            machine: machine.clone(),
            bootargs: DEFAULT_BOOTARGS.to_string(),
            guest_vcpus: machine.smp,
            guest_mem_mib: machine.mem_mib / 2,
        }
    }
}

/// A Debian package as resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

/// Everything built, ready to put on a disk.
#[derive(Clone, Debug)]
pub struct Payload {
    pub options: Options,
    pub kernel_package: Package,
    pub busybox_package: Package,
    /// e.g. `6.12.117+deb12-cloud-arm64`.
    pub kernel_release: String,
    /// The uncompressed arm64 Image (inside the unpacked package).
    pub image: PathBuf,
    /// Image header's effective size (with BSS).
    pub image_effective_size: u64,
    pub initrd: PathBuf,
    /// Modules in the initramfs, in load order.
    pub modules: Vec<String>,
    pub applets: usize,
    pub rootfs: PathBuf,
    /// QEMU's DTB for `options.machine` with `options.bootargs`.
    pub native_dtb: PathBuf,
    /// QEMU's DTB for the guest's share (vCPUs, memory), same bootargs.
    pub guest_dtb: PathBuf,
    pub config: PathBuf,
    /// `build/cache/payload-<flavour>.txt`: [`describe`]'s text.
    pub manifest: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;

    #[test]
    fn flavours() {
        assert_eq!("cloud".parse::<Flavour>().unwrap(), Flavour::Cloud);
        assert_eq!("generic".parse::<Flavour>().unwrap(), Flavour::Generic);
        assert!("rt".parse::<Flavour>().is_err());
        assert!(Flavour::Cloud
            .spec()
            .matches("linux-image-6.12.117+deb12-cloud-arm64"));
        assert!(Flavour::Generic
            .spec()
            .matches("linux-image-6.12.117+deb12-arm64"));
        assert!(!Flavour::Generic
            .spec()
            .matches("linux-image-6.12.117+deb12-cloud-arm64"));
    }

    #[test]
    fn config_is_parseable_by_the_hypervisor_side() {
        let opts = Options::new(Flavour::Cloud, &Machine::default());
        let text = config_text(&opts);
        let c = file::config::parse(&text).unwrap();
        assert_eq!(c.kernel, "Image");
        assert_eq!(c.initrd, Some("initrd.img"));
        assert_eq!(c.dtb, None, "the hypervisor builds the guest DTB itself");
        assert_eq!(c.bootargs, Some(DEFAULT_BOOTARGS));
        assert_eq!(c.memory, Some(512 << 20));
        assert_eq!(c.vcpus, Some(4));
    }

    /// The shipped guest scripts use only applets busybox is checked for.
    #[test]
    fn shipped_scripts_are_complete() {
        let root = Paths::discover().root.join("scripts/guest");
        let init = std::fs::read_to_string(root.join("init")).unwrap();
        for word in [
            "findfs",
            "switch_root",
            "insmod",
            initramfs::LOAD_ORDER,
            initramfs::CONF,
            "ROOT_LABEL",
        ] {
            let word = word.trim_start_matches("etc/").trim_start_matches("lib/");
            assert!(init.contains(word), "init lacks {word}");
        }
        let profile = std::fs::read_to_string(root.join("rootfs/etc/profile")).unwrap();
        assert!(profile.contains(verify::SHELL_READY));
        assert!(profile.contains(&format!("PS1='{}", verify::PROMPT_PREFIX)));
        let inittab = std::fs::read_to_string(root.join("rootfs/etc/inittab")).unwrap();
        assert!(inittab.contains("::sysinit:/etc/init.d/rcS"));
        let cmd = std::fs::read_to_string(native_boot_cmd(&Paths::discover())).unwrap();
        assert!(cmd.contains("booti ${guest_kernel} ${guest_initrd}:${filesize} ${guest_fdt}"));
        assert!(cmd.contains("setenv guest_kernel 0x40400000"));
        assert!(cmd.contains("setenv guest_initrd 0x48000000"));
        // The initrd address leaves MAX_EFFECTIVE_SIZE above the kernel.
        assert_eq!(0x4800_0000 - 0x4040_0000, kernel::MAX_EFFECTIVE_SIZE);
    }
}
