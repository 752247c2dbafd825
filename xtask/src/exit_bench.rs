//! Exit costs for `cargo xtask bench`: boots the bare-metal test guest in
//! `mode=bench` under the hypervisor and collects its `bench-exit:` lines
//! (HVC and emulated-MMIO round trips, virtual timer and virtual IPI
//! latency, and the guest's own SVC round trip as the native floor).

use crate::paths::Paths;
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::session::Session;
use crate::test_guest::{self, ExitBench, Mode, EXIT_BENCHES};
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(240);

/// One boot of the bench guest on `m`'s CPU model (GICv3, 2 vCPUs).
pub fn run(paths: &Paths, m: &Machine, bios: &Path) -> Result<Vec<ExitBench>> {
    if m.gic != 3 {
        bail!("the exit-cost guest needs GICv3 (run with --gic 3)");
    }
    let image = test_guest::build(paths)?;
    let dir = paths.build().join("bench").join("exits");
    let disk = test_guest::disk(paths, &dir, &image, Mode::Bench)?;
    let launch = Launch {
        machine: Machine {
            smp: m.smp.max(test_guest::VCPUS),
            ..m.clone()
        },
        boot: Boot::Firmware(bios.to_path_buf()),
        disk: Some(disk),
        console: Console::Pipe,
    };
    let mut s = Session::spawn(
        "qemu-system-aarch64",
        &launch.args(),
        &dir.join("exits.log"),
    )?;
    s.fail_on("test-guest: FAIL");
    let mut rows = Vec::new();
    for name in EXIT_BENCHES {
        let line = s.expect_line(name, TIMEOUT, |l| {
            l.starts_with(&format!("bench-exit: {name} "))
        })?;
        rows.push(
            test_guest::parse_exit_bench(&line).with_context(|| format!("malformed {line:?}"))?,
        );
    }
    s.expect_exact("test-guest: bench done", TIMEOUT)?;
    s.expect_exit(TIMEOUT)?;
    Ok(rows)
}

/// What each measurement is, for the table.
fn describe(name: &str) -> &'static str {
    match name {
        "svc" => "SVC round trip (native floor)",
        "hvc" => "HVC round trip",
        "mmio_read" => "emulated MMIO read (PL011 FR)",
        "cntvct" => "CNTVCT read (timer resolution)",
        "vtimer_latency" => "virtual timer deadline -> IRQ",
        "vipi_latency" => "virtual IPI send -> IRQ (vCPU 0 -> 1)",
        _ => "",
    }
}

pub fn table(rows: &[ExitBench]) -> String {
    let mut t = String::from("exit costs (bare-metal guest, ns: median [min..max]):\n");
    for r in rows {
        let _ = writeln!(
            t,
            "  {:<40} {:>8} [{}..{}]",
            describe(&r.name),
            r.median_ns,
            r.min_ns,
            r.max_ns
        );
    }
    if let (Some(svc), Some(hvc)) = (find(rows, "svc"), find(rows, "hvc")) {
        let _ = writeln!(
            t,
            "  HVC exit costs {:.1}x the guest's own SVC",
            hvc.median_ns as f64 / svc.median_ns.max(1) as f64
        );
    }
    t
}

fn find<'a>(rows: &'a [ExitBench], name: &str) -> Option<&'a ExitBench> {
    rows.iter().find(|r| r.name == name)
}

/// `"name":{"median":M,"min":A,"max":B,"samples":S}` entries.
pub fn json(rows: &[ExitBench]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{:?}:{{\"median\":{},\"min\":{},\"max\":{},\"samples\":{}}}",
                r.name, r.median_ns, r.min_ns, r.max_ns, r.samples
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Horizontal bars of the medians, on a log scale (they span 50 ns to
/// 100 us), starting at `y`; returns the SVG and the height used.
pub fn svg(rows: &[ExitBench], y: f64) -> (String, f64) {
    let mut s = format!(
        "<text x=\"10\" y=\"{:.0}\">exit costs, median ns (log scale)</text>\n",
        y + 14.0
    );
    let max = rows.iter().map(|r| r.median_ns).max().unwrap_or(1).max(10) as f64;
    for (i, r) in rows.iter().enumerate() {
        let row_y = y + 24.0 + i as f64 * 22.0;
        let w = 400.0 * (r.median_ns.max(1) as f64).log10() / max.log10();
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{:.0}\">{}</text>",
            row_y + 13.0,
            r.name
        );
        let _ = writeln!(
            s,
            "<rect x=\"130\" y=\"{row_y:.0}\" width=\"{w:.1}\" height=\"16\" fill=\"#36c\"/>"
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.0}\">{}</text>",
            136.0 + w,
            row_y + 13.0,
            r.median_ns
        );
    }
    (s, 30.0 + rows.len() as f64 * 22.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, median: u64) -> ExitBench {
        ExitBench {
            name: name.into(),
            median_ns: median,
            min_ns: median,
            max_ns: median,
            samples: 15,
        }
    }

    #[test]
    fn renders() {
        let rows = [row("svc", 600), row("hvc", 5000)];
        let t = table(&rows);
        assert!(t.contains("HVC round trip"));
        assert!(t.contains("8.3x"));
        assert_eq!(
            json(&rows[..1]),
            "\"svc\":{\"median\":600,\"min\":600,\"max\":600,\"samples\":15}"
        );
        let (s, h) = svg(&rows, 300.0);
        assert!(s.contains("<rect") && h > 0.0);
    }
}
