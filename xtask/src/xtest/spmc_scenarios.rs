//! The secure variant (issue #8): TF-A (BL1 → BL2 → BL31 with the SPMD)
//! enters our SPMC at S-EL2 on every core, then U-Boot → the normal-world
//! hypervisor → its guest. Markers come from all three layers on the one
//! UART, each line labelled by who wrote it.

use super::plan::TestCase;
use super::scenarios::{
    start, with_tail, Prepared, BOOT_TIMEOUT, LINUX_BOOT_TIMEOUT, STEP_TIMEOUT,
};
use crate::cli::Args;
use crate::paths::Paths;
use crate::payload::{self, verify};
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::test_guest::{self, Mode};
use crate::{hyp, image, tfa};
use anyhow::{ensure, Result};
use std::path::PathBuf;

fn flash(paths: &Paths, prepared: &Prepared) -> Result<PathBuf> {
    hyp::build(paths, &hyp::BuildOptions { spmc: true })?;
    tfa::flash_bin(paths, &paths.spmc_bin(), &prepared.uboot)
}

fn secure_machine(args: &Args) -> Result<Machine> {
    let mut m = Machine::from_args(args)?;
    if args.value("cpu").is_none() {
        m.cpu = tfa::SECURE_CPU.into();
    }
    Ok(m)
}

/// The SPMC comes up on the boot core, then on every core Linux brings
/// online through the hypervisor's PSCI; the normal world finds FF-A and
/// Linux reaches its shell with all CPUs.
pub fn linux(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    args.reject_unknown(Machine::OPTIONS)?;
    let m = secure_machine(args)?;
    let flash = flash(paths, prepared)?;
    let p = payload::prepare(paths, &payload::options_from_args(args, &m)?)?;
    let dir = paths.work("xtest").join(&case.name);
    let disk = image::hypervisor_disk(paths, &dir, &p)?;
    let launch = Launch {
        machine: m.clone(),
        boot: Boot::SecureFirmware(flash),
        disk: Some(disk),
        console: Console::Pipe,
    };
    let mut s = start(paths, case, &launch)?;
    let r = (|| {
        s.expect_contains("[spmc] elf-spmc", BOOT_TIMEOUT)?;
        s.expect_contains("[spmc] core 0: init done", STEP_TIMEOUT)?;
        s.expect_contains(
            "ffa: FF-A v1.1: our id Some(0), SPMC id Some(32768), direct messaging supported",
            BOOT_TIMEOUT,
        )?;
        verify::expect_shell(&mut s, LINUX_BOOT_TIMEOUT)?;
        verify::run_ok(&mut s, "dmesg -n 1")?;
        verify::check_cpus(&mut s, m.smp)?;
        let text = s.transcript_text();
        for core in 1..m.smp {
            let line = format!("[spmc] core {core}: up");
            ensure!(
                text.contains(&line),
                "no {line:?}: the SPMC did not start on every core"
            );
        }
        verify::power_off(&mut s)?;
        Ok(())
    })();
    with_tail(&s, r)
}

/// FF-A conformance from a VM through the hypervisor's proxy to the SPMC.
pub fn ffa(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    args.reject_unknown(Machine::OPTIONS)?;
    let m = secure_machine(args)?;
    let flash = flash(paths, prepared)?;
    let image = test_guest::build(paths)?;
    let dir = paths.work("xtest").join(&case.name);
    let disk = test_guest::disk(paths, &dir, &image, Mode::Ffa)?;
    let launch = Launch {
        machine: m,
        boot: Boot::SecureFirmware(flash),
        disk: Some(disk),
        console: Console::Pipe,
    };
    let mut s = start(paths, case, &launch)?;
    s.fail_on("test-guest: FAIL");
    let r = (|| {
        s.expect_contains("[spmc] core 0: init done", BOOT_TIMEOUT)?;
        let tally = s.expect_line("the FF-A tally", BOOT_TIMEOUT, |l| {
            l.starts_with("ffa: ") && l.contains(" cases, ")
        })?;
        ensure!(tally.trim().ends_with(", 0 failed"), "{tally}");
        s.expect_exact("test-guest: ffa done", STEP_TIMEOUT)?;
        Ok(())
    })();
    with_tail(&s, r)
}
