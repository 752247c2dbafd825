//! The bare-metal hostile guest under the hypervisor (test_guest/, mode
//! `hostile`): every attempt must be refused or contained, the hypervisor
//! must log each refusal, and the system must still power off cleanly.

use super::plan::TestCase;
use super::scenarios::{start, with_tail, Prepared, BOOT_TIMEOUT, STEP_TIMEOUT};
use crate::cli::Args;
use crate::paths::Paths;
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::session::Session;
use crate::test_guest::{self, Mode};
use anyhow::{ensure, Context, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

/// The whole attack list runs in a few seconds; TCG on a loaded host is
/// slower, never this slow.
const HOSTILE_TIMEOUT: Duration = Duration::from_secs(180);
/// Fewer cases than this means a group silently stopped running.
const MIN_CASES: u32 = 60;
/// The scratch-disk sector the refused OUT request aimed at.
const TARGET_SECTOR: u64 = 8;

/// Builds the test guest, writes its disk for `mode` and boots it.
fn boot_guest(
    paths: &Paths,
    prepared: &Prepared,
    case: &TestCase,
    args: &Args,
    mode: Mode,
) -> Result<(Session, PathBuf)> {
    args.reject_unknown(Machine::OPTIONS)?;
    let m = Machine::from_args(args)?;
    let image = test_guest::build(paths)?;
    let dir = paths.work("xtest").join(&case.name);
    let disk = test_guest::disk(paths, &dir, &image, mode)?;
    let launch = Launch {
        machine: m,
        boot: Boot::Firmware(prepared.uboot.clone()),
        disk: Some(disk.clone()),
        console: Console::Pipe,
    };
    let mut s = start(paths, case, &launch)?;
    s.fail_on("test-guest: FAIL");
    Ok((s, disk))
}

pub fn hostile(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    let (mut s, disk) = boot_guest(paths, prepared, case, args, Mode::Hostile)?;
    s.fail_on("is stuck:");
    let r = (|| {
        s.expect_contains("boot: entering the guest", BOOT_TIMEOUT)?;
        s.expect_contains("test-guest: Hostile mode", STEP_TIMEOUT)?;
        let tally = s.expect_line("the hostile tally", HOSTILE_TIMEOUT, |l| {
            l.starts_with("hostile: ") && l.contains(" cases, ")
        })?;
        let (cases, failed) = parse_tally(&tally).context("reading the tally line")?;
        ensure!(failed == 0, "{failed} hostile cases failed: {tally}");
        ensure!(
            cases >= MIN_CASES,
            "only {cases} hostile cases ran (expected at least {MIN_CASES})"
        );
        s.expect_exact("test-guest: hostile done", STEP_TIMEOUT)?;
        s.expect_contains("guest: PSCI SYSTEM_OFF", STEP_TIMEOUT)?;
        let status = s.expect_exit(STEP_TIMEOUT)?;
        ensure!(status.success(), "QEMU exited with {status}");
        Ok(())
    })();
    with_tail(&s, r)?;
    // Each refusal must be in the hypervisor's log, not only in the guest's.
    let log = s.transcript_text();
    for (what, min) in [
        ("external abort injected", 40),
        ("prefetch abort injected", 2),
        ("virtio-blk request refused:", 10),
        ("virtio-blk refused to enable a queue", 1),
    ] {
        let n = log.lines().filter(|l| l.contains(what)).count();
        ensure!(
            n >= min,
            "the hypervisor logged {n} lines with {what:?}, expected at least {min}"
        );
    }
    check_sector_untouched(&disk)
}

/// The exit-cost micro-benchmark guest (mode `bench`) runs every
/// measurement to the end and powers off. Only that it works is checked:
/// the numbers belong to `cargo xtask bench`, never to a pass/fail test.
pub fn bench_guest(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    let (mut s, _) = boot_guest(paths, prepared, case, args, Mode::Bench)?;
    let r = (|| {
        s.expect_contains("boot: entering the guest", BOOT_TIMEOUT)?;
        for name in test_guest::EXIT_BENCHES {
            let line = s.expect_line(name, HOSTILE_TIMEOUT, |l| {
                l.starts_with(&format!("bench-exit: {name} "))
            })?;
            let exit = test_guest::parse_exit_bench(&line)
                .with_context(|| format!("malformed line {line:?}"))?;
            ensure!(exit.samples > 0 && exit.min_ns <= exit.median_ns, "{line}");
        }
        s.expect_exact("test-guest: bench done", STEP_TIMEOUT)?;
        s.expect_contains("guest: PSCI SYSTEM_OFF", STEP_TIMEOUT)?;
        let status = s.expect_exit(STEP_TIMEOUT)?;
        ensure!(status.success(), "QEMU exited with {status}");
        Ok(())
    })();
    with_tail(&s, r)
}

/// `hostile: N cases, F failed`.
fn parse_tally(line: &str) -> Option<(u32, u32)> {
    let rest = line.strip_prefix("hostile: ")?;
    let (cases, rest) = rest.split_once(" cases, ")?;
    let failed = rest.strip_suffix(" failed")?;
    Some((cases.trim().parse().ok()?, failed.trim().parse().ok()?))
}

/// The refused write request (data from outside guest RAM) left the scratch
/// disk's target sector as it was: zeros.
fn check_sector_untouched(disk: &std::path::Path) -> Result<()> {
    let layout =
        crate::disk::Layout::new(crate::image::BOOT_PART_MIB, crate::image::ROOT_PART_MIB)?;
    let (p2, _) = layout.p2_bytes();
    let mut f = std::fs::File::open(disk)?;
    f.seek(SeekFrom::Start(p2 + TARGET_SECTOR * 512))?;
    let mut sector = [0u8; 512];
    f.read_exact(&mut sector)?;
    ensure!(
        sector.iter().all(|&b| b == 0),
        "sector {TARGET_SECTOR} of the scratch disk was written by a refused request"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_tally;

    #[test]
    fn tally_line() {
        assert_eq!(parse_tally("hostile: 71 cases, 0 failed"), Some((71, 0)));
        assert_eq!(parse_tally("hostile: 71 cases, 2 failed"), Some((71, 2)));
        assert_eq!(parse_tally("hostile: x cases, 0 failed"), None);
        assert_eq!(parse_tally("hostile: memory read: ok"), None);
    }
}
