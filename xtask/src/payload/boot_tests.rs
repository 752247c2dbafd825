//! End-to-end native boots (U-Boot `booti`, no hypervisor) of the real
//! payload in QEMU: `cargo test -p xtask payload::boot_tests -- --ignored --nocapture`.
//! They need the network on a cold cache; each boot takes 6-15 s.

use super::*;
use crate::paths::Paths;
use crate::qemu::{Boot, Console, Launch};
use crate::session::Session;
use anyhow::Result;
use std::path::Path;
use std::time::{Duration, Instant};

fn native_boot(flavour: Flavour, gic: u8) {
    native_boot_on(
        flavour,
        Machine {
            gic,
            ..Machine::default()
        },
        "",
    );
}

fn native_boot_on(flavour: Flavour, machine: Machine, tag: &str) {
    let paths = Paths::discover();
    let gic = machine.gic;
    let t = Instant::now();
    let payload = prepare(&paths, &Options::new(flavour, &machine)).unwrap();
    eprintln!(
        "{}prepared in {:.1}s",
        describe(&payload),
        t.elapsed().as_secs_f64()
    );
    let name = format!("native-{}-gic{gic}{tag}", flavour.name());
    let dir = paths.work("payload-tests").join(&name);
    let (disk, layout) = native_disk(&paths, &payload, &dir, 128).unwrap();
    let launch = Launch {
        machine: machine.clone(),
        boot: Boot::Firmware(crate::uboot::firmware(&paths).unwrap()),
        disk: Some(disk.clone()),
        console: Console::Pipe,
    };
    let started = Instant::now();
    let mut s = Session::spawn(
        "qemu-system-aarch64",
        &launch.args(),
        &dir.join("serial.log"),
    )
    .unwrap();
    let r = (|| -> Result<String> {
        verify::expect_shell(&mut s, Duration::from_secs(240))?;
        let to_shell = started.elapsed();
        eprintln!("{name}: QEMU start -> shell {:.1}s", to_shell.as_secs_f64());
        verify::check_cpus(&mut s, machine.smp)?;
        let root = verify::check_root_mount(&mut s, "/dev/vda2")?;
        eprintln!("{name}: root {root}");
        verify::check_os_release(&mut s)?;
        let content = format!("native {name}");
        verify::write_and_sync(&mut s, verify::MARKER_PATH, &content)?;
        verify::power_off(&mut s)?;
        Ok(content)
    })();
    let content = match r {
        Ok(c) => c,
        Err(e) => panic!("{name}: {e:#}\n--- serial ---\n{}", s.tail(60)),
    };
    drop(s);
    let back = read_root_file(&disk, &layout, verify::MARKER_PATH).unwrap();
    assert_eq!(String::from_utf8_lossy(&back), format!("{content}\n"));
    eprintln!(
        "{name}: marker found on the host in partition 2 ({:.1}s total)",
        started.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore = "network on a cold cache; boots QEMU (about a minute)"]
fn native_cloud_gicv3() {
    native_boot(Flavour::Cloud, 3);
}

#[test]
#[ignore = "network on a cold cache; boots QEMU (about a minute)"]
fn native_cloud_gicv2() {
    native_boot(Flavour::Cloud, 2);
}

#[test]
#[ignore = "network on a cold cache; boots QEMU (about a minute)"]
fn native_generic_gicv3() {
    native_boot(Flavour::Generic, 3);
}

#[test]
#[ignore = "network on a cold cache; boots QEMU (about a minute)"]
fn native_generic_gicv2() {
    native_boot(Flavour::Generic, 2);
}

/// The smallest machine xrun allows: the load addresses still fit.
#[test]
#[ignore = "network on a cold cache; boots QEMU"]
fn native_generic_256m_1cpu() {
    let m = Machine {
        smp: 1,
        mem_mib: 256,
        ..Machine::default()
    };
    native_boot_on(Flavour::Generic, m, "-256m-1cpu");
}

/// A warm `prepare` touches neither apt nor the builders; damaged cached
/// artifacts are noticed and rebuilt (each with a one-line notice).
#[test]
#[ignore = "network on a cold cache; rewrites cached artifacts"]
fn warm_cache_and_repair() {
    let paths = Paths::discover();
    let opts = Options::new(Flavour::Cloud, &Machine::default());
    let first = prepare(&paths, &opts).unwrap();
    let state = paths.cache().join("apt/bookworm-arm64");
    let _ = std::fs::remove_dir_all(&state);
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let stamps = [
        mtime(&first.initrd),
        mtime(&first.rootfs),
        mtime(&first.native_dtb),
    ];
    let t = Instant::now();
    let warm = prepare(&paths, &opts).unwrap();
    eprintln!("warm prepare: {:.2}s", t.elapsed().as_secs_f64());
    assert!(!state.exists(), "a warm prepare used apt");
    assert_eq!(
        stamps,
        [
            mtime(&warm.initrd),
            mtime(&warm.rootfs),
            mtime(&warm.native_dtb)
        ]
    );
    assert_eq!(describe(&first), describe(&warm));

    // Damage each artifact; prepare repairs it.
    let image_len = std::fs::metadata(&first.image).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&first.image)
        .unwrap()
        .set_len(image_len / 2)
        .unwrap();
    let initrd = std::fs::read(&first.initrd).unwrap();
    std::fs::write(&first.initrd, &initrd[..initrd.len() - 100]).unwrap();
    std::fs::write(&first.rootfs, b"not ext4").unwrap();
    std::fs::write(&first.native_dtb, b"junk").unwrap();
    let qemu_dtb = first.native_dtb.with_file_name("qemu.dtb");
    std::fs::write(&qemu_dtb, b"junk").unwrap();
    let repaired = prepare(&paths, &opts).unwrap();
    assert_eq!(std::fs::metadata(&repaired.image).unwrap().len(), image_len);
    kernel::check_image(&repaired.image).unwrap();
    initramfs::check(&repaired.initrd).unwrap();
    rootfs::check(&repaired.rootfs).unwrap();
    guest_dtb::check(&std::fs::read(&repaired.native_dtb).unwrap()).unwrap();
    assert_eq!(describe(&first), describe(&repaired));
}

/// No root filesystem: /init says so in one line and gives a shell.
#[test]
#[ignore = "network on a cold cache; boots QEMU"]
fn native_missing_root_rescues() {
    let paths = Paths::discover();
    let machine = Machine::default();
    let payload = prepare(&paths, &Options::new(Flavour::Cloud, &machine)).unwrap();
    let dir = paths.work("payload-tests").join("native-no-root");
    let (disk, layout) = native_disk(&paths, &payload, &dir, 128).unwrap();
    // Wipe partition 2's superblock area.
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(&disk).unwrap();
    f.seek(SeekFrom::Start(layout.p2_bytes().0)).unwrap();
    f.write_all(&[0u8; 1 << 16]).unwrap();
    drop(f);
    let launch = Launch {
        machine,
        boot: Boot::Firmware(crate::uboot::firmware(&paths).unwrap()),
        disk: Some(disk),
        console: Console::Pipe,
    };
    let mut s = Session::spawn(
        "qemu-system-aarch64",
        &launch.args(),
        &dir.join("serial.log"),
    )
    .unwrap();
    let err = verify::expect_shell(&mut s, Duration::from_secs(240))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "guest initramfs failed: initramfs: root LABEL=hyproot not found; dropping to a shell"
    );
    // The rescue shell works.
    let out = verify::run(&mut s, "cat /proc/cmdline", Duration::from_secs(30)).unwrap();
    assert_eq!(out.status, 0);
    assert_eq!(out.lines, [DEFAULT_BOOTARGS]);
    verify::power_off(&mut s).unwrap();
}
