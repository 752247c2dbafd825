//! Assembling a bootable `disk.img` from the built pieces.

use crate::disk::{self, DiskSpec, Layout};
use crate::paths::Paths;
use crate::payload;
use crate::uboot::{self, DtbArg};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Partition 1 holds the hypervisor and boot script now, and the guest's
/// kernel (34-43 MiB), DTB and initramfs later.
pub const BOOT_PART_MIB: u64 = 128;
/// Partition 2 is the guest's root filesystem.
pub const ROOT_PART_MIB: u64 = crate::payload::ROOT_PART_MIB;

/// The full disk `cargo xrun` boots: the hypervisor, its boot script, the
/// guest payload on partition 1 and the guest's root filesystem on 2.
pub fn hypervisor_disk(paths: &Paths, dir: &Path, p: &payload::Payload) -> Result<PathBuf> {
    hypervisor_disk_edited(paths, dir, p, |_| Ok(()))
}

/// As [`hypervisor_disk`], with `edit` changing partition 1's file list
/// first (the bad-input tests drop or replace files).
pub fn hypervisor_disk_edited(
    paths: &Paths,
    dir: &Path,
    p: &payload::Payload,
    edit: impl Fn(&mut Vec<(String, PathBuf)>) -> Result<()>,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let scr = dir.join("boot.scr");
    uboot::make_boot_scr(paths, DtbArg::Control, None, &scr)?;
    let mut boot_files = vec![
        ("boot.scr".into(), scr),
        ("elf-hypervisor.elf".into(), paths.hypervisor_elf()),
    ];
    boot_files.extend(payload::boot_files(p, payload::Mode::Hypervisor));
    edit(&mut boot_files)?;
    let spec = DiskSpec {
        layout: Layout::new(BOOT_PART_MIB, ROOT_PART_MIB)?,
        boot_files,
        root_image: Some(payload::root_image(p)),
    };
    let out = dir.join("disk.img");
    disk::build(&out, &spec)?;
    Ok(out)
}

/// Writes `dir/disk.img` with the hypervisor and a boot script passing `arg`.
pub fn boot_disk(paths: &Paths, dir: &Path, arg: DtbArg, extra: Option<&str>) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let scr = dir.join("boot.scr");
    uboot::make_boot_scr(paths, arg, extra, &scr)?;
    let spec = DiskSpec {
        layout: Layout::new(BOOT_PART_MIB, ROOT_PART_MIB)?,
        boot_files: vec![
            ("boot.scr".into(), scr),
            ("elf-hypervisor.elf".into(), paths.hypervisor_elf()),
        ],
        root_image: None,
    };
    let out = dir.join("disk.img");
    disk::build(&out, &spec)?;
    Ok(out)
}
