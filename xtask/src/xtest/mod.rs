//! `cargo xtest`: runs the tests listed in `xtest.txt`, prints PASS/FAIL and
//! the duration of each, and ends with `N passed, M failed`.

mod gdb_scenario;
mod guest_scenarios;
mod hyp_scenarios;
mod plan;
mod scenarios;
mod spmc_scenarios;

use crate::cli::Args;
use crate::paths::Paths;
use anyhow::{bail, Context, Result};
use plan::{Category, TestCase};
use std::process::Command;
use std::time::Instant;

pub fn main(paths: &Paths, args: &Args) -> Result<()> {
    args.reject_unknown(&["category", "list"])?;
    let text = std::fs::read_to_string(paths.xtest_list()).context("reading xtest.txt")?;
    let cases = plan::parse(&text)?;
    let category = match args.value("category") {
        None => None,
        Some(c) => Some(
            Category::parse(c)
                .with_context(|| format!("unknown category {c:?} (std, lint, qemu, fuzz)"))?,
        ),
    };
    let selected = plan::select(&cases, args.words(), category);
    if selected.is_empty() {
        bail!("no test in xtest.txt matches the filter");
    }
    if args.flag("list") {
        for c in &selected {
            println!(
                "{:<5} {:<28} {}",
                format!("{:?}", c.category).to_lowercase(),
                c.name,
                c.command.join(" ")
            );
        }
        return Ok(());
    }

    let started = Instant::now();
    // Shared preparation for QEMU tests; a failure fails each of them.
    let prepared = if selected.iter().any(|c| c.category == Category::Qemu) {
        Some(scenarios::prepare(paths))
    } else {
        None
    };

    let (mut passed, mut failed) = (0, 0);
    let mut failures: Vec<String> = Vec::new();
    for case in &selected {
        println!("RUN  {}", case.name);
        let t0 = Instant::now();
        let result = match case.category {
            Category::Std => run_std(paths, case),
            Category::Lint => run_lint(paths, case),
            Category::Fuzz => run_fuzz(paths, case),
            Category::Qemu => match &prepared {
                Some(Ok(p)) => scenarios::run(paths, p, case),
                Some(Err(e)) => Err(anyhow::anyhow!("preparation failed: {e:#}")),
                None => unreachable!("qemu tests imply preparation"),
            },
        };
        let secs = t0.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                passed += 1;
                println!("PASS {} ({secs:.1}s)", case.name);
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {} ({secs:.1}s): {e:#}", case.name);
                failures.push(case.name.clone());
            }
        }
    }
    println!();
    if !failures.is_empty() {
        println!("failed: {}", failures.join(" "));
    }
    println!("total time {:.1}s", started.elapsed().as_secs_f64());
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn cargo(paths: &Paths) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&paths.root);
    cmd
}

/// Runs a command, keeping its output in the test's log; on failure the
/// error carries the output's tail.
fn run_logged(paths: &Paths, name: &str, cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let dir = paths.work("xtest");
    std::fs::create_dir_all(&dir)?;
    let mut log = out.stdout.clone();
    log.extend_from_slice(&out.stderr);
    std::fs::write(dir.join(format!("{name}.log")), &log)?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = text.lines().collect();
        bail!(
            "{}\n{}",
            out.status,
            lines[lines.len().saturating_sub(40)..].join("\n")
        );
    }
    Ok(())
}

/// `fuzz NAME TARGET SECONDS`: builds the targets (warm: a second) and
/// runs one; a crash fails with the input and how to reproduce it.
fn run_fuzz(paths: &Paths, case: &TestCase) -> Result<()> {
    let run = case.fuzz_run()?;
    crate::fuzz::build(paths)?;
    let summary = crate::fuzz::run(paths, run.target, run.seconds)?;
    std::fs::create_dir_all(paths.work("xtest"))?;
    std::fs::write(
        paths.work("xtest").join(format!("{}.log", case.name)),
        summary + "\n",
    )?;
    Ok(())
}

fn run_std(paths: &Paths, case: &TestCase) -> Result<()> {
    let mut cmd = cargo(paths);
    cmd.arg("test")
        .arg("-p")
        .arg(&case.command[0])
        .args(&case.command[1..]);
    run_logged(paths, &case.name, &mut cmd)
}

fn run_lint(paths: &Paths, case: &TestCase) -> Result<()> {
    let mut cmd = cargo(paths);
    match case.command[0].as_str() {
        "fmt" => cmd.args(["fmt", "--all", "--", "--check"]),
        // Host crates (the workspace's default members) with their tests.
        "clippy-host" => cmd.args(["clippy", "--all-targets", "--", "-D", "warnings"]),
        // The hypervisor's host-testable core (its binary is bare-metal only).
        "clippy-hyp-core" => cmd.args([
            "clippy",
            "-p",
            "elf-hypervisor",
            "--lib",
            "--tests",
            "--",
            "-D",
            "warnings",
        ]),
        // The hypervisor and everything it links, and the test guest, for
        // the bare-metal target.
        "clippy-hyp" => cmd.args([
            "clippy",
            "-p",
            "elf-hypervisor",
            "-p",
            "test-guest",
            // Both binaries: the normal-world hypervisor and the SPMC.
            "--features",
            "elf-hypervisor/spmc",
            "--target",
            crate::hyp::TARGET,
            "--",
            "-D",
            "warnings",
        ]),
        // fuzz/ is its own workspace (so the normal build never compiles
        // libFuzzer): formatted and linted on its own, uninstrumented, in
        // a target directory of its own.
        "fmt-fuzz" => cmd.args([
            "fmt",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--all",
            "--",
            "--check",
        ]),
        "clippy-fuzz" => cmd
            .args([
                "clippy",
                "--manifest-path",
                "fuzz/Cargo.toml",
                "--all-targets",
                "--target-dir",
            ])
            .arg(paths.build().join("fuzz").join("clippy"))
            .args(["--", "-D", "warnings"]),
        other => bail!(
            "unknown lint {other:?} (fmt, fmt-fuzz, clippy-host, clippy-hyp, clippy-hyp-core, \
             clippy-fuzz)"
        ),
    };
    run_logged(paths, &case.name, &mut cmd)
}
