//! `cargo xtask fuzz [--seconds N] [--jobs J] [TARGET...]`: the libFuzzer
//! targets in `fuzz/`, built on the pinned stable toolchain (no cargo-fuzz,
//! no nightly) with the instrumentation `cargo fuzz build --sanitizer none`
//! uses, and run for a bounded time each, J at a time. `cargo xtest` runs a
//! short smoke of each (`fuzz` lines in xtest.txt).
//!
//! Corpora live in `build/fuzz/corpus/<target>` (the targets write their
//! generated seeds there on start), crashes in `build/fuzz/artifacts/<target>/`
//! next to the last run's libFuzzer log.

use crate::cli::Args;
use crate::paths::Paths;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
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

/// What cargo-fuzz 0.13 passes for `cargo fuzz build` with `--sanitizer
/// none` on Linux (src/project.rs, `cargo()`): SanitizerCoverage's inline
/// 8-bit counters, PC table, comparison tracing and stack depth, which
/// libFuzzer (linked by libfuzzer-sys) reads; no branch folding, so each
/// branch keeps its own counter; `--cfg fuzzing`; debug assertions (cargo
/// fuzz's default); one codegen unit, because the sancov pass otherwise
/// stops ThinLTO from inlining across units. All are stable `-C` flags.
/// Overflow checks are on too: an overflow in a parser is a finding.
const RUSTFLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "-Cllvm-args=-sanitizer-coverage-stack-depth",
    "-Cllvm-args=-simplifycfg-branch-fold-threshold=0",
    "--cfg",
    "fuzzing",
    "-Cdebug-assertions",
    "-Coverflow-checks",
    "-Ccodegen-units=1",
];

/// Per input: longer is a hang, more memory a leak (libFuzzer reports
/// both as failures with the input saved).
const INPUT_TIMEOUT_S: u64 = 10;
const RSS_LIMIT_MB: u64 = 2048;

pub fn main(paths: &Paths, args: &Args) -> Result<()> {
    args.reject_unknown(&["seconds", "jobs"])?;
    let seconds = args.parsed::<u64>("seconds")?.unwrap_or(60).max(1);
    let targets = selected(args.words())?;
    let jobs = args
        .parsed::<usize>("jobs")?
        .unwrap_or(1)
        .clamp(1, targets.len());
    build(paths)?;

    // Each libFuzzer process is single-threaded: J of them use J cores.
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                while let Some(&t) = targets.get(next.fetch_add(1, Ordering::Relaxed)) {
                    match run(paths, t, seconds) {
                        Ok(line) => println!("fuzz: {t}: {line}"),
                        Err(e) => {
                            println!("fuzz: {t}: FAILED: {e:#}");
                            failed.lock().unwrap_or_else(|p| p.into_inner()).push(t);
                        }
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap_or_else(|p| p.into_inner());
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

/// The `host:` line of `rustc -vV`: binaries are built for an explicit
/// `--target` so that RUSTFLAGS (and with them the sancov pass, whose
/// symbols only libFuzzer provides) skip build scripts and proc macros.
fn host_triple(paths: &Paths) -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .current_dir(&paths.root)
        .arg("-vV")
        .output()
        .with_context(|| format!("running {rustc} -vV"))?;
    parse_host(&String::from_utf8_lossy(&out.stdout)).context("no `host:` in rustc -vV")
}

fn parse_host(version: &str) -> Option<String> {
    version
        .lines()
        .find_map(|l| l.strip_prefix("host:"))
        .map(|h| h.trim().to_string())
}

fn bin_path(paths: &Paths, target: &str) -> Result<PathBuf> {
    Ok(target_dir(paths)
        .join(host_triple(paths)?)
        .join("release")
        .join(target))
}

/// Builds every target (incremental: a warm build takes a second).
pub fn build(paths: &Paths) -> Result<()> {
    crate::deps::ensure(crate::deps::FUZZ)?;
    println!("fuzz: building the targets (libFuzzer, coverage instrumentation)");
    // A user's RUSTFLAGS go last, so they can override ours (as with cargo
    // fuzz); an encoded set from an outer cargo would replace them all.
    let mut flags = RUSTFLAGS.join(" ");
    if let Ok(extra) = std::env::var("RUSTFLAGS") {
        flags = format!("{flags} {extra}");
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(paths.root.join("fuzz"))
        .env("RUSTFLAGS", flags)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(["build", "--release", "--bins", "--target"])
        .arg(host_triple(paths)?)
        .arg("--target-dir")
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
    let bin = bin_path(paths, target)?;
    let corpus = paths.build().join("fuzz").join("corpus").join(target);
    let artifacts = paths.build().join("fuzz").join("artifacts").join(target);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    println!("fuzz: {target}: running {seconds} s");
    let t0 = Instant::now();
    let out = Command::new(&bin)
        .arg(&corpus)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(format!("-timeout={INPUT_TIMEOUT_S}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg("-print_final_stats=1")
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let log_path = artifacts.join("last-run.log");
    std::fs::write(&log_path, log.as_bytes())?;
    if !out.status.success() {
        let crash = log
            .lines()
            .find_map(|l| l.split("Test unit written to ").nth(1))
            .map(str::trim)
            .unwrap_or("(no artifact written)");
        // The panic message is the line after "panicked at".
        let lines: Vec<&str> = log.lines().collect();
        let why = match lines.iter().position(|l| l.contains("panicked at")) {
            Some(i) => lines[i..lines.len().min(i + 2)].join(" "),
            None => lines
                .iter()
                .find(|l| l.contains("ERROR: libFuzzer"))
                .map_or_else(|| out.status.to_string(), |l| l.to_string()),
        };
        bail!(
            "{}\n  crash input: {crash}\n  reproduce: {} {crash}\n  \
             (or: cargo fuzz run {target} {crash})\n  log: {}",
            why.trim(),
            bin.display(),
            log_path.display()
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
    let last = |key: &str| {
        log.lines()
            .rev()
            .find_map(|l| l.split(key).nth(1))
            .and_then(|v| v.split_whitespace().next())
            .unwrap_or("?")
            .to_string()
    };
    format!(
        "{runs} runs in {secs:.0} s ({:.0}/s), coverage {}, corpus {}",
        runs as f64 / secs.max(0.001),
        last(" cov: "),
        last(" corp: ")
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

    #[test]
    fn host_from_rustc_version() {
        let v = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\n\
                 host: aarch64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(parse_host(v).as_deref(), Some("aarch64-unknown-linux-gnu"));
        assert_eq!(parse_host("rustc 1.95.0\n"), None);
    }

    /// The flags libfuzzer-sys needs to find its counters and PC table,
    /// and the cfg the targets' crates may test.
    #[test]
    fn instrumentation_flags() {
        for f in [
            "-Cpasses=sancov-module",
            "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
            "-Cllvm-args=-sanitizer-coverage-pc-table",
            "fuzzing",
        ] {
            assert!(RUSTFLAGS.contains(&f), "{f}");
        }
    }
}
