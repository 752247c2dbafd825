//! Building the payload: fetch and unpack the packages, then the
//! initramfs, the root filesystem, the DTBs and `hypervisor.cfg`, each
//! reused when its inputs have not changed.

use super::cache::{cached, dir_contents, inputs_key, prune, write_if_changed};
use super::{busybox, describe, fetch, guest_dtb, initramfs, kernel, modules, rootfs};
use super::{Options, Package, Payload, BUILD_FORMAT, ROOT_WAIT_SECONDS};
use crate::apt::PkgSpec;
use crate::paths::Paths;
use crate::qemu::{Boot, Machine};
use anyhow::{Context, Result};

/// Fetches, unpacks and builds everything for `opts` (cached).
pub fn prepare(paths: &Paths, opts: &Options) -> Result<Payload> {
    let cache = paths.cache();
    let _lock = super::cache::lock(&cache.join("payload"))?;
    let guest_dir = paths.root.join("scripts/guest");
    let kpkg = fetch::fetch_unpacked(&cache, opts.flavour.spec(), kernel::check_tree)
        .with_context(|| format!("guest kernel ({} flavour)", opts.flavour.name()))?;
    let bpkg = fetch::fetch_unpacked(
        &cache,
        PkgSpec::Exact("busybox-static"),
        busybox::check_tree,
    )
    .context("guest busybox")?;
    let k = kernel::locate(&kpkg.dir)?;
    let header = kernel::check_image(&k.image)?;
    let bb_binary = std::fs::read(busybox::binary(&bpkg.dir))?;
    let applets = busybox::applets(&bb_binary)?;

    let out_dir = cache.join("payload").join(opts.flavour.name());
    std::fs::create_dir_all(&out_dir)?;

    // initramfs: kernel modules + busybox + /init.
    let init_script = guest_dir.join("init");
    let key = inputs_key(&[
        BUILD_FORMAT.as_bytes(),
        b"initrd",
        kpkg.sha256.as_bytes(),
        bpkg.sha256.as_bytes(),
        &std::fs::read(&init_script)
            .with_context(|| format!("reading {}", init_script.display()))?,
        rootfs::LABEL.as_bytes(),
        ROOT_WAIT_SECONDS.to_string().as_bytes(),
        modules::ROOTS.join(",").as_bytes(),
    ]);
    let initrd = out_dir.join(format!("initrd-{key}.img"));
    let modules = match cached(&initrd, initramfs::check) {
        Some(entries) => initramfs::load_order(&entries),
        None => {
            let mut db = modules::KernelModules::scan(&k.modules)?;
            let order = modules::resolve(&mut db, modules::ROOTS)?;
            eprintln!(
                "payload: building initramfs for {} (modules, in load order: {})",
                k.release,
                if order.is_empty() {
                    "none".to_string()
                } else {
                    order.join(" ")
                }
            );
            let mut kos = Vec::new();
            for m in &order {
                kos.push((m.clone(), db.load(m)?));
            }
            let tree = initramfs::tree(initramfs::Inputs {
                busybox: bb_binary.clone(),
                applets: &applets,
                init_script: std::fs::read(&init_script)?,
                modules: kos,
                root_label: rootfs::LABEL,
                root_wait_seconds: ROOT_WAIT_SECONDS,
            });
            let tmp = initrd.with_extension("tmp");
            initramfs::write(&tree, &tmp)?;
            initramfs::check(&tmp)?;
            std::fs::rename(&tmp, &initrd)?;
            prune(&out_dir, "initrd-", &initrd);
            order
        }
    };

    // Root filesystem: busybox userland + scripts/guest/rootfs.
    let overlay = guest_dir.join("rootfs");
    let flavour = opts.flavour.name();
    let template = |s: &str| {
        s.replace("@FLAVOUR@", flavour)
            .replace("@KERNEL_PACKAGE@", &kpkg.name)
            .replace("@KERNEL_VERSION@", &kpkg.version)
            .replace("@BUSYBOX_VERSION@", &bpkg.version)
    };
    let mut parts: Vec<Vec<u8>> = vec![
        BUILD_FORMAT.into(),
        b"rootfs".to_vec(),
        bpkg.sha256.clone().into(),
        template("@FLAVOUR@ @KERNEL_PACKAGE@ @KERNEL_VERSION@ @BUSYBOX_VERSION@").into(),
        rootfs::LABEL.into(),
        rootfs::SIZE_MIB.to_string().into(),
    ];
    parts.extend(dir_contents(&overlay)?);
    let key = inputs_key(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let root = out_dir.join(format!("root-{key}.ext4"));
    if cached(&root, rootfs::check).is_none() {
        eprintln!(
            "payload: building root filesystem ({} MiB ext4, LABEL={})",
            rootfs::SIZE_MIB,
            rootfs::LABEL
        );
        let tree = rootfs::tree(bb_binary, &applets, &overlay, &template)?;
        let staging = out_dir.join("rootfs.staging");
        let _ = std::fs::remove_dir_all(&staging);
        tree.write_to(&staging)?;
        let tmp = root.with_extension("tmp");
        rootfs::make_ext4(&staging, &tmp)?;
        let _ = std::fs::remove_dir_all(&staging);
        rootfs::check(&tmp)?;
        std::fs::rename(&tmp, &root)?;
        prune(&out_dir, "root-", &root);
    }

    // Device trees and hypervisor.cfg for this machine shape.
    // Both boot through U-Boot, which changes QEMU's tree (see qemu_dtb).
    let boot = Boot::Firmware(crate::uboot::firmware(paths)?);
    let native_dtb = guest_dtb::guest_dtb(&cache, &opts.machine, &boot, &opts.bootargs)?;
    let guest_machine = Machine {
        smp: opts.guest_vcpus,
        mem_mib: opts.guest_mem_mib,
        ..opts.machine.clone()
    };
    let guest_dtb = guest_dtb::guest_dtb(&cache, &guest_machine, &boot, &opts.bootargs)?;
    let config = guest_dtb.with_file_name("hypervisor.cfg");
    write_if_changed(&config, &config_text(opts))?;

    let payload = Payload {
        options: opts.clone(),
        kernel_package: Package {
            name: kpkg.name,
            version: kpkg.version,
            sha256: kpkg.sha256,
        },
        busybox_package: Package {
            name: bpkg.name,
            version: bpkg.version,
            sha256: bpkg.sha256,
        },
        kernel_release: k.release,
        image: k.image,
        image_effective_size: header.image_size,
        initrd,
        modules,
        applets: applets.len(),
        rootfs: root,
        native_dtb,
        guest_dtb,
        config,
        manifest: cache.join(format!("payload-{flavour}.txt")),
    };
    write_if_changed(&payload.manifest, &describe(&payload))?;
    Ok(payload)
}

/// `hypervisor.cfg` for `opts` (the format is `file::config`'s).
pub fn config_text(opts: &Options) -> String {
    file::config::Config {
        kernel: "Image",
        initrd: Some("initrd.img"),
        // The hypervisor builds the guest's DTB from the host's, with only
        // the devices it gives the guest; a `dtb =` line would override it.
        dtb: None,
        bootargs: Some(&opts.bootargs),
        memory: Some(u64::from(opts.guest_mem_mib) << 20),
        vcpus: Some(opts.guest_vcpus),
    }
    .to_string()
}
