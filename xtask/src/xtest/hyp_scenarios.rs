//! Linux under the hypervisor: the product's main job, and its failure
//! paths. Every check reads an exact marker from the serial line.

use super::plan::TestCase;
use super::scenarios::{
    start, with_tail, Prepared, BOOT_TIMEOUT, LINUX_BOOT_TIMEOUT, STEP_TIMEOUT,
};
use crate::cli::Args;
use crate::paths::Paths;
use crate::payload::{self, verify};
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::session::Session;
use crate::{disk, image};
use anyhow::{bail, ensure, Context, Result};
use std::path::PathBuf;
use std::time::Duration;

/// The guest sees partition 2 as its whole disk.
const GUEST_ROOT: &str = "/dev/vda";
/// Guest RAM ends here (IPA 0x4000_0000 + 512 MiB): nothing is mapped above.
const OUTSIDE_GUEST_RAM: &str = "0x60000000";

fn launch(prepared: &Prepared, m: &Machine, disk: PathBuf) -> Launch {
    Launch {
        machine: m.clone(),
        boot: Boot::Firmware(prepared.uboot.clone()),
        disk: Some(disk),
        console: Console::Pipe,
    }
}

/// Linux boots under the hypervisor to a shell; then, in the same boot:
/// all vCPUs online and taking interrupts, SGIs between them, the virtual
/// timer (`sleep 1` takes about a second), device interrupts under load (a
/// 64 MiB file written and read back with the same checksum), a read outside
/// guest RAM aborts inside the guest while the hypervisor logs it and keeps
/// running, and a file synced before `poweroff -f` is on the disk image.
pub fn linux(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.extend(payload::OPTIONS);
    known.push("quick");
    args.reject_unknown(&known)?;
    let m = Machine::from_args(args)?;
    let p = payload::prepare(paths, &payload::options_from_args(args, &m)?)?;
    let dir = paths.work("xtest").join(&case.name);
    let disk = image::hypervisor_disk(paths, &dir, &p)?;
    let mut s = start(paths, case, &launch(prepared, &m, disk.clone()))?;
    // `--quick yes`: boot checks only (the full set runs on the cloud kernel).
    let quick = args.value("quick") == Some("yes");
    let r = (|| {
        s.expect_contains("boot: entering the guest", BOOT_TIMEOUT)?;
        verify::expect_shell(&mut s, LINUX_BOOT_TIMEOUT)?;
        // Keep kernel messages (still in dmesg) off the console the checks
        // parse.
        verify::run_ok(&mut s, "dmesg -n 1")?;
        verify::check_cpus(&mut s, m.smp)?;
        verify::check_root_mount(&mut s, GUEST_ROOT)?;
        verify::check_os_release(&mut s)?;
        if !quick {
            check_interrupts(&mut s, m.smp)?;
            check_timer(&mut s)?;
            check_disk_io(&mut s)?;
            check_isolation(&mut s)?;
        }
        let content = format!("hyp-marker {}", std::process::id());
        verify::write_and_sync(&mut s, verify::MARKER_PATH, &content)?;
        verify::power_off(&mut s)?;
        Ok(content)
    })();
    let content = with_tail(&s, r)?;
    drop(s);
    let layout = disk::Layout::new(image::BOOT_PART_MIB, image::ROOT_PART_MIB)?;
    let found = payload::read_root_file(&disk, &layout, verify::MARKER_PATH)?;
    ensure!(
        found == format!("{content}\n").into_bytes(),
        "{} on the disk image holds {:?}, expected {content:?}",
        verify::MARKER_PATH,
        String::from_utf8_lossy(&found)
    );
    Ok(())
}

/// Per-CPU counts from a /proc/interrupts line whose name contains `name`.
fn per_cpu(lines: &[String], name: &str, cpus: u32) -> Option<Vec<u64>> {
    let line = lines.iter().find(|l| l.contains(name))?;
    let counts: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(cpus as usize)
        .filter_map(|w| w.parse().ok())
        .collect();
    (counts.len() == cpus as usize).then_some(counts)
}

/// Every vCPU takes timer interrupts, and every vCPU has received IPIs
/// (SGIs through the trapped ICC_SGI1R_EL1) after work ran on each CPU.
fn check_interrupts(s: &mut Session, cpus: u32) -> Result<()> {
    let online = verify::run_ok(s, "cat /sys/devices/system/cpu/online")?;
    let want = if cpus == 1 {
        "0".to_string()
    } else {
        format!("0-{}", cpus - 1)
    };
    ensure!(
        online.iter().any(|l| l.trim() == want),
        "online CPUs {online:?}, expected {want}"
    );
    let work = (0..cpus).map(|c| {
        format!(
            "taskset {} sh -c 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done' &",
            1u32 << c
        )
    });
    verify::run_ok(s, &format!("{} wait", work.collect::<Vec<_>>().join(" ")))?;
    let lines = verify::run_ok(s, "cat /proc/interrupts")?;
    let timer =
        per_cpu(&lines, "arch_timer", cpus).context("no arch_timer line in /proc/interrupts")?;
    ensure!(
        timer.iter().all(|&c| c > 0),
        "a vCPU took no timer interrupts: {timer:?}"
    );
    let mut ipis = vec![0u64; cpus as usize];
    for l in lines.iter().filter(|l| l.trim_start().starts_with("IPI")) {
        let counts: Vec<u64> = l
            .split_whitespace()
            .skip(1)
            .take(cpus as usize)
            .filter_map(|w| w.parse().ok())
            .collect();
        for (t, c) in ipis.iter_mut().zip(counts) {
            *t += c;
        }
    }
    ensure!(
        ipis.iter().all(|&c| c > 0),
        "a vCPU received no IPIs (SGIs): {ipis:?}"
    );
    Ok(())
}

/// `sleep 1` lasts about one second of guest time.
fn check_timer(s: &mut Session) -> Result<()> {
    let out = verify::run_ok(
        s,
        "a=$(cat /proc/uptime); sleep 1; b=$(cat /proc/uptime); echo \"UP $a $b\"",
    )?;
    let line = out
        .iter()
        .find(|l| l.starts_with("UP "))
        .context("no uptime line")?;
    let w: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    ensure!(w.len() >= 3, "bad uptime line {line:?}");
    // /proc/uptime: "<uptime> <idle>", twice.
    let dt = w[2] - w[0];
    ensure!(
        (0.9..2.0).contains(&dt),
        "sleep 1 took {dt:.2} s of guest time"
    );
    Ok(())
}

/// A 64 MiB file through the virtio disk: write, sync, drop caches,
/// re-read: same checksum.
fn check_disk_io(s: &mut Session) -> Result<()> {
    let cmd = "dd if=/dev/urandom of=/root/io.bin bs=1M count=64 2>/dev/null && sync && \
               a=$(md5sum /root/io.bin | cut -d' ' -f1) && echo 3 > /proc/sys/vm/drop_caches && \
               b=$(md5sum /root/io.bin | cut -d' ' -f1) && echo \"MD5 $a $b\" && rm /root/io.bin && sync";
    let out = verify::run(s, cmd, Duration::from_secs(240))?;
    ensure!(out.status == 0, "disk I/O check failed: {:?}", out.lines);
    let line = out
        .lines
        .iter()
        .find(|l| l.starts_with("MD5 "))
        .context("no checksum line")?;
    // Kernel messages can land on the same console line after the sums.
    let w: Vec<&str> = line.split_whitespace().take(3).collect();
    ensure!(
        w.len() == 3 && w[1].len() == 32 && w[1] == w[2],
        "checksums differ after re-read: {line}"
    );
    Ok(())
}

/// A read outside guest RAM: the guest gets an external abort (busybox
/// devmem dies with SIGBUS), the hypervisor logs it, and the shell answers.
fn check_isolation(s: &mut Session) -> Result<()> {
    let out = verify::run(s, &format!("devmem {OUTSIDE_GUEST_RAM} 32"), STEP_TIMEOUT)?;
    ensure!(
        out.status != 0,
        "devmem outside guest RAM succeeded: {:?}",
        out.lines
    );
    let alive = verify::run_ok(s, "echo still-alive")?;
    ensure!(
        alive.iter().any(|l| l.trim() == "still-alive"),
        "the shell stopped answering"
    );
    Ok(())
}

/// A change to partition 1's file list (name on disk, source file).
type FileEdit = dyn Fn(&mut Vec<(String, PathBuf)>) -> Result<()>;

/// Broken guest files on partition 1: the hypervisor prints one clear line
/// and powers off (QEMU exits 0), never hangs or panics.
pub fn bad_input(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.push("case");
    args.reject_unknown(&known)?;
    let m = Machine::from_args(args)?;
    let p = payload::prepare(paths, &payload::options_from_args(args, &m)?)?;
    let dir = paths.work("xtest").join(&case.name);
    std::fs::create_dir_all(&dir)?;
    let (edit, wanted): (Box<FileEdit>, &str) =
        match args.value("case") {
            Some("missing-kernel") => (
                Box::new(|files| {
                    files.retain(|(n, _)| n != "Image");
                    Ok(())
                }),
                "error: guest: file \"Image\" not found on partition 1",
            ),
            Some("bad-magic") => {
                let bad = dir.join("Image.bad");
                let mut data = std::fs::read(&p.image)?;
                data[56..60].copy_from_slice(b"JUNK");
                std::fs::write(&bad, data)?;
                (
                    Box::new(move |files| {
                        for f in files.iter_mut().filter(|(n, _)| n == "Image") {
                            f.1 = bad.clone();
                        }
                        Ok(())
                    }),
                    "error: guest: kernel: not an arm64 Image: magic 0x4b4e554a at offset 56",
                )
            }
            Some("missing-initrd") => {
                let cfg = dir.join("hypervisor.cfg");
                let text = std::fs::read_to_string(&p.config)?.replace("initrd = initrd.img", "initrd = nothere.img");
                std::fs::write(&cfg, text)?;
                (
                    Box::new(move |files| {
                        for f in files.iter_mut().filter(|(n, _)| n == "hypervisor.cfg") {
                            f.1 = cfg.clone();
                        }
                        Ok(())
                    }),
                    "error: guest: file \"nothere.img\" not found on partition 1",
                )
            }
            Some("missing-config") => (
                Box::new(|files| {
                    files.retain(|(n, _)| n != "hypervisor.cfg");
                    Ok(())
                }),
                "error: guest: file \"hypervisor.cfg\" not found on partition 1",
            ),
            other => bail!("hyp-bad-input --case missing-kernel|bad-magic|missing-initrd|missing-config, not {other:?}"),
        };
    let disk = image::hypervisor_disk_edited(paths, &dir, &p, edit)?;
    let mut s = start(paths, case, &launch(prepared, &m, disk))?;
    let r = (|| {
        s.expect_contains(wanted, BOOT_TIMEOUT)?;
        s.expect_contains("powering off", STEP_TIMEOUT)?;
        let status = s.expect_exit(STEP_TIMEOUT)?;
        ensure!(status.success(), "QEMU exited with {status}");
        Ok(())
    })();
    with_tail(&s, r)
}

/// The Raspberry Pi route, on QEMU: the flat `kernel_2712.img` is started
/// through the Linux boot protocol (x0 = DTB) with the guest's files in a
/// newc archive given as the initrd, as the Pi firmware's `initramfs
/// guest.cpio followkernel` does. The hypervisor must find the archive in
/// /chosen, load the guest from it, and still give it the root disk.
pub fn archive(paths: &Paths, _prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    args.reject_unknown(Machine::OPTIONS)?;
    let m = Machine::from_args(args)?;
    let p = payload::prepare(paths, &payload::options_from_args(args, &m)?)?;
    let dir = paths.work("xtest").join(&case.name);
    let disk = image::hypervisor_disk(paths, &dir, &p)?;
    let image = crate::rpi5::build(paths)?.join("kernel_2712.img");
    let cpio = dir.join("guest.cpio");
    let mut w = payload::cpio::Writer::new(std::fs::File::create(&cpio)?);
    for (name, src) in [
        ("Image", &p.image),
        ("initrd.img", &p.initrd),
        ("hypervisor.cfg", &p.config),
    ] {
        w.file(
            name,
            0o644,
            &std::fs::read(src).with_context(|| format!("reading {}", src.display()))?,
        )?;
    }
    w.finish()?;
    let launch = Launch {
        machine: m.clone(),
        boot: Boot::LinuxImage {
            image,
            initrd: cpio,
        },
        disk: Some(disk),
        console: Console::Pipe,
    };
    let mut s = start(paths, case, &launch)?;
    let r = (|| {
        s.expect_contains("(from the loader)", BOOT_TIMEOUT)?;
        s.expect_contains("files: guest archive from the firmware at 0x", STEP_TIMEOUT)?;
        s.expect_contains("boot: entering the guest", STEP_TIMEOUT)?;
        verify::expect_shell(&mut s, LINUX_BOOT_TIMEOUT)?;
        verify::check_cpus(&mut s, m.smp)?;
        verify::check_root_mount(&mut s, GUEST_ROOT)?;
        verify::power_off(&mut s)?;
        Ok(())
    })();
    with_tail(&s, r)
}
