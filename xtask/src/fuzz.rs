//! `cargo xtask fuzz [--seconds N] [TARGET...]`: the libFuzzer targets in
//! `fuzz/`, built on the pinned stable toolchain (no cargo-fuzz, no
//! nightly) with the same coverage instrumentation `cargo fuzz` uses under
//! `--sanitizer none`, and run for a bounded time each. `cargo xtest` runs
//! a short smoke of each (`fuzz` lines in xtest.txt).
//!
//! Corpora live in `build/fuzz/corpus/<target>` (seeded by the targets
//! themselves), crashes in `build/fuzz/artifacts/<target>/`.

use crate::cli::Args;
use crate::paths::Paths;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Every target in fuzz/Cargo.toml.
pub const TARGETS: [&str; 7] = [
    "dtb",
    "image",
    "fat",
    "mmio_decode",
    "virtqueue",
    "rsp_demux",
    "rsp_session",
];

/// libFuzzer instrumentation on stable rustc: SanitizerCoverage's
/// inline 8-bit counters, PC table and comparison tracing (what
/// libfuzzer-sys expects), plus the checks `cargo fuzz` turns on.
const RUSTFLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg",
    "fuzzing",
    "-Cdebug-assertions",
    "-Coverflow-checks",
];

/// Instrumented code only for the target: build scripts and proc macros
/// (host artifacts) are built without RUSTFLAGS when a target is named.
const HOST_TRIPLE: &str = "x86_64-unknown-linux-gnu";

pub fn main(paths: &Paths, args: &Args) -> Result<()> {
    args.reject_unknown(&["seconds"])?;
    let seconds = args.parsed::<u64>("seconds")?.unwrap_or(60).max(1);
    let targets = selected(args.words())?;
    build(paths)?;
    let mut failed = Vec::new();
    for t in &targets {
        match run(paths, t, seconds) {
            Ok(line) => println!("fuzz: {t}: {line}"),
            Err(e) => {
                println!("fuzz: {t}: FAILED: {e:#}");
                failed.push(*t);
            }
        }
    }
    if !failed.is_empty() {
        bail!("fuzz targets failed: {}", failed.join(", "));
    }
    Ok(())
}

fn selected(words: &[String]) -> Result<Vec<&'static str>> {
    if words.is_empty() {
        return Ok(TARGETS.to_vec());
    }
    words
        .iter()
        .map(|w| {
            TARGETS.iter().find(|t| *t == w).copied().with_context(|| {
                format!("unknown fuzz target {w:?} (known: {})", TARGETS.join(", "))
            })
        })
        .collect()
}

fn target_dir(paths: &Paths) -> PathBuf {
    paths.build().join("fuzz").join("target")
}

/// Builds every target (incremental: a warm build takes a second).
pub fn build(paths: &Paths) -> Result<()> {
    crate::deps::ensure(crate::deps::FUZZ)?;
    eprintln!("fuzz: building the targets (libFuzzer, coverage instrumentation)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(paths.root.join("fuzz"))
        .env("RUSTFLAGS", RUSTFLAGS.join(" "))
        .args([
            "build",
            "--release",
            "--bins",
            "--target",
            HOST_TRIPLE,
            "--target-dir",
        ])
        .arg(target_dir(paths))
        .status()
        .context("running cargo build in fuzz/")?;
    if !status.success() {
        bail!("building the fuzz targets failed");
    }
    Ok(())
}

/// Runs `target` for `seconds`; returns a one-line summary, or an error
/// naming the crash file and how to reproduce it.
pub fn run(paths: &Paths, target: &str, seconds: u64) -> Result<String> {
    let bin = target_dir(paths)
        .join(HOST_TRIPLE)
        .join("release")
        .join(target);
    let corpus = paths.build().join("fuzz").join("corpus").join(target);
    let artifacts = paths.build().join("fuzz").join("artifacts").join(target);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    eprintln!("fuzz: {target}: running {seconds} s");
    let t0 = Instant::now();
    let out = Command::new(&bin)
        .arg(&corpus)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        // An input that takes over 10 s or 2 GiB is a hang or a leak.
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1")
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let log = String::from_utf8_lossy(&out.stderr);
    std::fs::write(artifacts.join("last-run.log"), log.as_bytes())?;
    if !out.status.success() {
        let crash = log
            .lines()
            .find_map(|l| l.split("Test unit written to ").nth(1))
            .map(str::trim)
            .unwrap_or("(no artifact written)");
        let why = log
            .lines()
            .find(|l| l.contains("panicked at") || l.contains("ERROR: libFuzzer"))
            .unwrap_or("")
            .trim();
        bail!(
            "{why}\n  crash input: {crash}\n  reproduce: {} {crash}\n  log: {}",
            bin.display(),
            artifacts.join("last-run.log").display()
        );
    }
    Ok(summary(&log, t0.elapsed().as_secs_f64()))
}

/// "N runs in S s (R/s), coverage C, corpus K" from libFuzzer's stats.
fn summary(log: &str, secs: f64) -> String {
    let stat = |key: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let runs = stat("stat::number_of_executed_units:").unwrap_or(0);
    let cov = log
        .lines()
        .rev()
        .find_map(|l| l.split(" cov: ").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("?");
    let corpus = log
        .lines()
        .rev()
        .find_map(|l| l.split(" corp: ").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("?");
    format!(
        "{runs} runs in {secs:.0} s ({:.0}/s), coverage {cov}, corpus {corpus}",
        runs as f64 / secs.max(0.001)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_libfuzzer_stats() {
        let log = "#2\tINITED cov: 10 ft: 11 corp: 3/30b exec/s: 0\n\
                   #500\tDONE   cov: 412 ft: 900 corp: 77/2048b lim: 4 exec/s: 250\n\
                   stat::number_of_executed_units: 500\n";
        assert_eq!(
            summary(log, 2.0),
            "500 runs in 2 s (250/s), coverage 412, corpus 77/2048b"
        );
    }

    #[test]
    fn target_selection() {
        assert_eq!(selected(&[]).unwrap().len(), TARGETS.len());
        assert_eq!(selected(&["fat".into()]).unwrap(), vec!["fat"]);
        assert!(selected(&["nope".into()]).is_err());
    }
}
