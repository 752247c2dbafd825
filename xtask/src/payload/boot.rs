//! What goes on the disk, and the human summary.

use super::{rootfs, uimage, Mode, Payload, ROOT_PART_MIB};
use crate::disk::{DiskSpec, Layout};
use crate::paths::Paths;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Files for partition 1 (FAT32 root directory): (name, source). The boot
/// script (`boot.scr`) and the hypervisor ELF are the caller's.
pub fn boot_files(p: &Payload, mode: Mode) -> Vec<(String, PathBuf)> {
    let mut files = vec![
        ("Image".to_string(), p.image.clone()),
        ("initrd.img".to_string(), p.initrd.clone()),
    ];
    match mode {
        Mode::Native => files.push(("guest.dtb".into(), p.native_dtb.clone())),
        Mode::Hypervisor => files.push(("hypervisor.cfg".into(), p.config.clone())),
    }
    files
}

/// The ext4 image for partition 2 (exactly [`ROOT_PART_MIB`] MiB).
pub fn root_image(p: &Payload) -> PathBuf {
    p.rootfs.clone()
}

/// `scripts/guest/boot-native.cmd`.
pub fn native_boot_cmd(paths: &Paths) -> PathBuf {
    paths.root.join("scripts/guest/boot-native.cmd")
}

/// Compiles `boot-native.cmd` into `out`: the U-Boot script image that
/// `mkimage -A arm64 -O linux -T script -C none` would write (made
/// in-process, see uimage.rs).
pub fn make_native_boot_scr(paths: &Paths, out: &Path) -> Result<()> {
    let src = native_boot_cmd(paths);
    let text =
        std::fs::read_to_string(&src).with_context(|| format!("reading {}", src.display()))?;
    let image = uimage::script("elf-hypervisor native boot", &text)?;
    std::fs::write(out, image).with_context(|| format!("writing {}", out.display()))
}

/// Writes `dir/disk.img` for a native boot: `boot.scr` from
/// `boot-native.cmd`, the [`boot_files`] and the root filesystem. Returns
/// the disk and its layout (partition 1 is `boot_mib` MiB).
pub fn native_disk(
    paths: &Paths,
    p: &Payload,
    dir: &Path,
    boot_mib: u64,
) -> Result<(PathBuf, Layout)> {
    std::fs::create_dir_all(dir)?;
    let scr = dir.join("boot.scr");
    make_native_boot_scr(paths, &scr)?;
    let mut files = vec![("boot.scr".to_string(), scr)];
    files.extend(boot_files(p, Mode::Native));
    let layout = Layout::new(boot_mib, ROOT_PART_MIB)?;
    let disk = dir.join("disk.img");
    crate::disk::build(
        &disk,
        &DiskSpec {
            layout,
            boot_files: files,
            root_image: Some(root_image(p)),
        },
    )?;
    Ok((disk, layout))
}

/// A few lines for humans: packages, versions, what was built, where.
pub fn describe(p: &Payload) -> String {
    let mib = |path: &Path| {
        std::fs::metadata(path)
            .map(|m| m.len() as f64 / (1 << 20) as f64)
            .unwrap_or(0.0)
    };
    let rel = |path: &Path| {
        let root = Paths::discover().root;
        path.strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let o = &p.options;
    let modules = if p.modules.is_empty() {
        "none (all built in)".to_string()
    } else {
        p.modules.join(" ")
    };
    format!(
        "guest payload ({} flavour)\n\
         \x20 kernel   {} {} ({}, Image {:.1} MiB, {:.1} MiB in memory)\n\
         \x20 busybox  {} {} ({} applets)\n\
         \x20 initrd   {} ({:.1} MiB; modules: {modules})\n\
         \x20 rootfs   {} ({} MiB ext4, LABEL={})\n\
         \x20 dtb      native {}, guest {} ({} vCPUs, {} MiB)\n\
         \x20 bootargs {}\n",
        o.flavour.name(),
        p.kernel_package.name,
        p.kernel_package.version,
        p.kernel_release,
        mib(&p.image),
        p.image_effective_size as f64 / (1u64 << 20) as f64,
        p.busybox_package.name,
        p.busybox_package.version,
        p.applets,
        rel(&p.initrd),
        mib(&p.initrd),
        rel(&p.rootfs),
        rootfs::SIZE_MIB,
        rootfs::LABEL,
        rel(&p.native_dtb),
        rel(&p.guest_dtb),
        o.guest_vcpus,
        o.guest_mem_mib,
        o.bootargs,
    )
}
