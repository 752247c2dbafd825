//! QEMU scenarios named in `xtest.txt`. Each boots a configuration and
//! passes only on exact serial markers; a panic marker, QEMU exiting early or
//! a deadline fails it.

use super::plan::TestCase;
use crate::cli::Args;
use crate::paths::Paths;
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::session::Session;
use crate::uboot::DtbArg;
use crate::{deps, hyp, image, payload};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::time::Duration;

/// What every QEMU scenario needs, made once per `xtest` run.
pub struct Prepared {
    pub uboot: PathBuf,
    pub hypervisor: PathBuf,
}

pub fn prepare(paths: &Paths) -> Result<Prepared> {
    deps::ensure(deps::BASE)?;
    let hypervisor = hyp::build(paths, &hyp::BuildOptions::default())?;
    let uboot = crate::uboot::firmware(paths)?;
    Ok(Prepared { uboot, hypervisor })
}

/// U-Boot runs its boot script after a 2 s autoboot delay; under TCG on a
/// busy 2-core host reaching the hypervisor can take a while longer.
pub(super) const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
pub(super) const STEP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(paths: &Paths, prepared: &Prepared, case: &TestCase) -> Result<()> {
    let args = Args::parse(&case.command[1..], &[])?;
    match case.command[0].as_str() {
        "banner" => banner(paths, prepared, case, &args),
        "direct" => direct(paths, prepared, case, &args),
        "dtb-fallback" => dtb_fallback(paths, prepared, case, &args),
        "selftest" => selftest(paths, prepared, case, &args),
        "native" => native(paths, prepared, case, &args),
        "rpi5-image" => rpi5_image(paths),
        "hyp-archive" => super::hyp_scenarios::archive(paths, prepared, case, &args),
        "hyp-linux" => super::hyp_scenarios::linux(paths, prepared, case, &args),
        "hyp-gdb" => super::gdb_scenario::gdb(paths, prepared, case, &args),
        "hyp-bench-guest" => super::guest_scenarios::bench_guest(paths, prepared, case, &args),
        "spmc-linux" => super::spmc_scenarios::linux(paths, prepared, case, &args),
        "spmc-ffa" => super::spmc_scenarios::ffa(paths, prepared, case, &args),
        "hyp-hostile" => super::guest_scenarios::hostile(paths, prepared, case, &args),
        "hyp-bad-input" => super::hyp_scenarios::bad_input(paths, prepared, case, &args),
        other => bail!("xtest.txt:{}: unknown scenario {other:?}", case.line),
    }
}

pub(super) fn start(paths: &Paths, case: &TestCase, launch: &Launch) -> Result<Session> {
    let dir = paths.work("xtest");
    std::fs::create_dir_all(&dir)?;
    Session::spawn(
        "qemu-system-aarch64",
        &launch.args(),
        &dir.join(format!("{}.log", case.name)),
    )
}

pub(super) fn with_tail<T>(session: &Session, r: Result<T>) -> Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e:#}\n--- last serial lines ---\n{}", session.tail(25)))
}

/// The banner reports EL2 and the CPU count and memory size QEMU was given,
/// then the hypervisor powers off cleanly (QEMU exits with status 0).
fn expect_banner_and_power_off(
    s: &mut Session,
    m: &Machine,
    first_timeout: Duration,
) -> Result<()> {
    s.expect_exact("CurrentEL: EL2", first_timeout)?;
    s.expect_exact(&format!("CPUs: {}", m.smp), STEP_TIMEOUT)?;
    s.expect_exact(&format!("memory: {} MiB", m.mem_mib), STEP_TIMEOUT)?;
    s.expect_contains("powering off", STEP_TIMEOUT)?;
    let status = s.expect_exit(STEP_TIMEOUT)?;
    if !status.success() {
        bail!("QEMU exited with {status} after power-off");
    }
    Ok(())
}

fn uboot_launch(
    paths: &Paths,
    prepared: &Prepared,
    case: &TestCase,
    m: Machine,
    arg: DtbArg,
    extra: Option<&str>,
) -> Result<Launch> {
    let disk = image::boot_disk(paths, &paths.work("xtest").join(&case.name), arg, extra)?;
    Ok(Launch {
        machine: m,
        boot: Boot::Firmware(prepared.uboot.clone()),
        disk: Some(disk),
        console: Console::Pipe,
    })
}

/// U-Boot → boot.scr → bootelf → our banner.
fn banner(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    args.reject_unknown(Machine::OPTIONS)?;
    let m = Machine::from_args(args)?;
    let launch = uboot_launch(paths, prepared, case, m.clone(), DtbArg::Control, None)?;
    let mut s = start(paths, case, &launch)?;
    let r = (|| {
        s.expect_contains("elf-hypervisor: loading elf-hypervisor.elf", BOOT_TIMEOUT)?;
        s.expect_contains("DTB at 0x", STEP_TIMEOUT)?;
        expect_banner_and_power_off(&mut s, &m, STEP_TIMEOUT)
    })();
    with_tail(&s, r)
}

/// QEMU's ELF loader enters at EL2 with x0 = 0: no argument, so the
/// hypervisor must warn and use the DTB at 0x4000_0000.
fn direct(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    args.reject_unknown(Machine::OPTIONS)?;
    let m = Machine::from_args(args)?;
    let launch = Launch {
        machine: m.clone(),
        boot: Boot::Kernel(prepared.hypervisor.clone()),
        disk: None,
        console: Console::Pipe,
    };
    let mut s = start(paths, case, &launch)?;
    let r = (|| {
        s.expect_contains("DTB argument: ", BOOT_TIMEOUT)?;
        expect_banner_and_power_off(&mut s, &m, STEP_TIMEOUT)
    })();
    with_tail(&s, r)
}

/// A boot script that passes no, a non-DTB, or a malformed DTB argument: the
/// hypervisor names the problem, falls back to QEMU's DTB, and still boots.
fn dtb_fallback(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.push("dtb-arg");
    args.reject_unknown(&known)?;
    let m = Machine::from_args(args)?;
    let arg: DtbArg = match args.value("dtb-arg") {
        Some(v) => v.parse().map_err(anyhow::Error::msg)?,
        None => bail!("dtb-fallback needs --dtb-arg"),
    };
    let reason = match arg {
        DtbArg::Control => bail!("dtb-fallback with --dtb-arg control tests nothing"),
        DtbArg::Missing => "DTB argument: no device-tree address argument",
        // The ELF file sits there: its first word is "\x7fELF".
        DtbArg::NotADtb => "no valid DTB at 0x44000000 (from the loader): device tree: bad header: bad magic 0x7f454c46",
        DtbArg::Garbage => "DTB argument: device-tree address argument is not a hexadecimal number",
        DtbArg::Corrupt => "no valid DTB at 0x48000000 (from the loader): ",
    };
    let launch = uboot_launch(paths, prepared, case, m.clone(), arg, None)?;
    let mut s = start(paths, case, &launch)?;
    let r = (|| {
        let line = s.expect_contains(reason, BOOT_TIMEOUT)?;
        if !line.contains("warning: ") || !line.contains("using the DTB at 0x40000000 instead") {
            bail!("expected a warning naming the fallback DTB, got {line:?}");
        }
        expect_banner_and_power_off(&mut s, &m, STEP_TIMEOUT)
    })();
    with_tail(&s, r)
}

/// `selftest=panic|abort` as the hypervisor's second argument: the failure
/// path must print its one-line reason and power off (QEMU exits 0), never
/// hang.
fn selftest(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.push("kind");
    args.reject_unknown(&known)?;
    let m = Machine::from_args(args)?;
    let (kind, wanted) = match args.value("kind") {
        Some("panic") => ("panic", "!!! PANIC at bootloader/src/selftest.rs:"),
        Some("abort") => ("abort", "!!! PANIC at bootloader/src/trap.rs:"),
        other => bail!("selftest --kind panic|abort, not {other:?}"),
    };
    let launch = uboot_launch(
        paths,
        prepared,
        case,
        m.clone(),
        DtbArg::Control,
        Some(&format!("selftest={kind}")),
    )?;
    let mut s = start(paths, case, &launch)?;
    s.allow_marker("!!! PANIC");
    let r = (|| {
        s.expect_exact(&format!("CPUs: {}", m.smp), BOOT_TIMEOUT)?;
        let line = s.expect_contains(wanted, STEP_TIMEOUT)?;
        let detail = match kind {
            "panic" => "deliberate panic (selftest=panic)",
            _ => "(data abort): ESR_EL2=",
        };
        if !line.contains(detail) {
            bail!("panic line lacks {detail:?}: {line}");
        }
        let status = s.expect_exit(STEP_TIMEOUT)?;
        if !status.success() {
            bail!("QEMU exited with {status} after the panic's power-off");
        }
        Ok(())
    })();
    with_tail(&s, r)
}

/// The payload booted by U-Boot's `booti` without the hypervisor: the shell
/// answers, `nproc` is the vCPU count, the root is ext4 on the virtio disk,
/// and a file written and synced before `poweroff -f` is on the disk image.
fn native(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.extend(payload::OPTIONS);
    args.reject_unknown(&known)?;
    let m = Machine::from_args(args)?;
    let p = payload::prepare(paths, &payload::options_from_args(args, &m)?)?;
    let (disk, layout) = payload::native_disk(
        paths,
        &p,
        &paths.work("xtest").join(&case.name),
        image::BOOT_PART_MIB,
    )?;
    let launch = Launch {
        machine: m.clone(),
        boot: Boot::Firmware(prepared.uboot.clone()),
        disk: Some(disk.clone()),
        console: Console::Pipe,
    };
    let mut s = start(paths, case, &launch)?;
    let r = payload::verify::smoke(&mut s, LINUX_BOOT_TIMEOUT, m.smp, "/dev/vda2");
    let content = with_tail(&s, r)?;
    drop(s);
    let found = payload::read_root_file(&disk, &layout, payload::verify::MARKER_PATH)?;
    if found != format!("{content}\n").into_bytes() {
        bail!(
            "{} on the disk image holds {:?}, expected {content:?}",
            payload::verify::MARKER_PATH,
            String::from_utf8_lossy(&found)
        );
    }
    Ok(())
}

/// Linux to a shell under TCG: 5-15 s here; generous for a loaded host.
pub(super) const LINUX_BOOT_TIMEOUT: Duration = Duration::from_secs(180);

/// `cargo xrun rpi5` output: kernel_2712.img is the flat image of the ELF,
/// entered at offset 0, loaded at the address config.txt names.
fn rpi5_image(paths: &Paths) -> Result<()> {
    let dir = crate::rpi5::build(paths)?;
    let img = std::fs::read(dir.join("kernel_2712.img"))?;
    let elf = std::fs::read(paths.hypervisor_elf())?;
    let layout = crate::rpi5::image_layout(&elf)?;
    if layout.entry_offset != 0 {
        bail!(
            "entry at offset {:#x}, the Pi firmware enters at 0",
            layout.entry_offset
        );
    }
    let cfg = std::fs::read_to_string(dir.join("config.txt"))?;
    let addr =
        crate::rpi5::config_kernel_address(&cfg).context("config.txt has no kernel_address")?;
    if addr != layout.load_address {
        bail!(
            "config.txt loads at {addr:#x}, the image is linked at {:#x}",
            layout.load_address
        );
    }
    if img.len() < 64 || img[..4] != elf[layout_file_offset(&elf)?..layout_file_offset(&elf)? + 4] {
        bail!("kernel_2712.img does not start with the ELF's first loadable bytes");
    }
    Ok(())
}

/// File offset of the ELF's first PT_LOAD segment.
fn layout_file_offset(elf: &[u8]) -> Result<usize> {
    let phoff = u64::from_le_bytes(elf[32..40].try_into()?) as usize;
    let phentsize = u16::from_le_bytes(elf[54..56].try_into()?) as usize;
    let phnum = u16::from_le_bytes(elf[56..58].try_into()?) as usize;
    for i in 0..phnum {
        let ph = &elf[phoff + i * phentsize..phoff + (i + 1) * phentsize];
        if u32::from_le_bytes(ph[0..4].try_into()?) == 1 {
            return Ok(u64::from_le_bytes(ph[8..16].try_into()?) as usize);
        }
    }
    bail!("no PT_LOAD segment")
}
