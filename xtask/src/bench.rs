//! `cargo xtask bench`: measurements, never pass/fail. Boots the same
//! payload natively (U-Boot `booti`) and under the hypervisor, interleaved,
//! and reports boot time to the guest shell, the hypervisor's own boot
//! phases, kernel load throughput (our virtio-blk + FAT path vs U-Boot's
//! `load`), guest disk I/O, the hypervisor's footprint, and exit costs
//! from the bare-metal micro-benchmark guest (`exit_bench`). Writes
//! `build/bench/bench.json` and `build/bench/bench.svg`.

use crate::cli::Args;
use crate::paths::Paths;
use crate::payload::{self, verify};
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::session::Session;
use crate::test_guest::ExitBench;
use crate::{deps, exit_bench, hyp, image, uboot};
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

#[derive(Default, Debug)]
struct Run {
    shell_s: f64,
    /// Kernel Image load throughput (MiB/s) as the loader reported it.
    load_mib_s: Option<f64>,
    /// Hypervisor boot log: (stage, ms since entry).
    phases: Vec<(String, u64)>,
    heap_kib: Option<u64>,
    dd_write_mb_s: Option<f64>,
    dd_read_mb_s: Option<f64>,
}

pub fn main(paths: &Paths, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.extend(payload::OPTIONS);
    known.push("runs");
    args.reject_unknown(&known)?;
    let runs = args.parsed::<usize>("runs")?.unwrap_or(5).max(1);
    let m = Machine::from_args(args)?;
    deps::ensure(deps::BASE)?;
    hyp::build(paths, &hyp::BuildOptions::default())?;
    let bios = uboot::firmware(paths)?;
    let p = payload::prepare(paths, &payload::options_from_args(args, &m)?)?;
    let dir = paths.build().join("bench");
    let (native_disk, _) =
        payload::native_disk(paths, &p, &dir.join("native"), image::BOOT_PART_MIB)?;
    let hyp_disk = image::hypervisor_disk(paths, &dir.join("hyp"), &p)?;

    let mut native = Vec::new();
    let mut hypervisor = Vec::new();
    for i in 0..runs {
        // Disk I/O only on the last round: it adds a minute per boot.
        let io = i + 1 == runs;
        eprintln!("bench: round {}/{runs}: native", i + 1);
        native.push(boot(paths, &m, &bios, &native_disk, "native", io)?);
        eprintln!("bench: round {}/{runs}: hypervisor", i + 1);
        hypervisor.push(boot(paths, &m, &bios, &hyp_disk, "hyp", io)?);
    }
    eprintln!("bench: exit costs (bare-metal guest)");
    let exits = match exit_bench::run(paths, &m, &bios) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("bench: exit costs not measured: {e:#}");
            Vec::new()
        }
    };
    let footprint = footprint(&paths.hypervisor_elf())?;
    let report = Report {
        machine: m,
        runs,
        native,
        hypervisor,
        footprint,
        exits,
    };
    println!("{}", report.table());
    std::fs::write(dir.join("bench.json"), report.json())?;
    std::fs::write(dir.join("bench.svg"), report.svg())?;
    println!(
        "wrote {} and {}",
        dir.join("bench.json").display(),
        dir.join("bench.svg").display()
    );
    Ok(())
}

fn boot(paths: &Paths, m: &Machine, bios: &Path, disk: &Path, what: &str, io: bool) -> Result<Run> {
    let launch = Launch {
        machine: m.clone(),
        boot: Boot::Firmware(bios.to_path_buf()),
        disk: Some(disk.to_path_buf()),
        console: Console::Pipe,
    };
    let log = paths.build().join("bench").join(format!("{what}.log"));
    let t0 = Instant::now();
    let mut s = Session::spawn("qemu-system-aarch64", &launch.args(), &log)?;
    let mut run = Run::default();
    let line = s.expect_line("the guest's shell", BOOT_TIMEOUT, |l| {
        l.trim() == verify::SHELL_READY
    })?;
    let _ = line;
    run.shell_s = t0.elapsed().as_secs_f64();
    let text = s.transcript_text();
    run.load_mib_s = load_throughput(&text);
    run.phases = phases(&text);
    run.heap_kib = text.lines().find_map(|l| {
        l.split("heap ")
            .nth(1)?
            .split(" KiB used")
            .next()?
            .trim()
            .parse()
            .ok()
    });
    if io {
        // Debian's busybox dd prints no rate: time it with the guest's
        // own clock (/proc/uptime) instead.
        let w = verify::run(
            &mut s,
            "a=$(cat /proc/uptime); dd if=/dev/zero of=/root/bench.bin bs=1M count=32 conv=fsync 2>/dev/null; \
             b=$(cat /proc/uptime); echo \"T $a $b\"",
            Duration::from_secs(300),
        )?;
        run.dd_write_mb_s = w.lines.iter().find_map(|l| rate(l, 32.0));
        let r = verify::run(
            &mut s,
            "echo 3 > /proc/sys/vm/drop_caches; a=$(cat /proc/uptime); dd if=/root/bench.bin of=/dev/null bs=1M 2>/dev/null; \
             b=$(cat /proc/uptime); echo \"T $a $b\"; rm /root/bench.bin",
            Duration::from_secs(300),
        )?;
        run.dd_read_mb_s = r.lines.iter().find_map(|l| rate(l, 32.0));
    }
    verify::power_off(&mut s)?;
    Ok(run)
}

/// U-Boot: "34891712 bytes read in 76 ms (437.8 MiB/s)" (the first large
/// file is the Image); ours: "files: ... (237 MiB/s, ...)".
fn load_throughput(text: &str) -> Option<f64> {
    for l in text.lines() {
        if let Some(rest) = l.split("files: kernel").nth(1) {
            let v = rest.split('(').nth(1)?.split(" MiB/s").next()?;
            return v.trim().parse().ok();
        }
        if l.contains("bytes read in") {
            let bytes: u64 = l.split_whitespace().next()?.parse().ok()?;
            if bytes > 4 << 20 {
                let v = l.split('(').nth(1)?.split(" MiB/s").next()?;
                return v.trim().parse().ok();
            }
        }
    }
    None
}

/// The hypervisor's "[   N ms] stage: ..." lines up to guest entry.
fn phases(text: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for l in text.lines() {
        let Some(rest) = l.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((ms, msg)) = rest.split_once(" ms] ") else {
            continue;
        };
        let Ok(ms) = ms.trim().parse::<u64>() else {
            continue;
        };
        // Our log lines are `stage: what happened`; others (a driver
        // crate's own log) have no one-word stage and are skipped.
        let stage = match msg.split_once(": ") {
            Some((s, _)) if !s.is_empty() && !s.contains(' ') => s.to_string(),
            _ => String::new(),
        };
        if !stage.is_empty() && !out.iter().any(|(s, _): &(String, u64)| *s == stage) {
            out.push((stage.clone(), ms));
        }
        if msg.starts_with("boot: entering the guest") {
            out.push(("guest entry".into(), ms));
            break;
        }
    }
    out
}

/// "T <uptime> <idle> <uptime> <idle>": `mb` megabytes over the elapsed
/// guest time.
fn rate(line: &str, mb: f64) -> Option<f64> {
    let w: Vec<f64> = line
        .strip_prefix("T ")?
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let dt = *w.get(2)? - *w.first()?;
    (dt > 0.0).then(|| mb / dt)
}

/// Section sizes of the hypervisor ELF (name, bytes).
fn footprint(elf: &Path) -> Result<Vec<(String, u64)>> {
    let b = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
    let rd16 = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let rd32 = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4])) as usize;
    let rd64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        bail!("{} is not an ELF", elf.display());
    }
    let (shoff, shentsize, shnum, shstrndx) =
        (rd64(0x28) as usize, rd16(0x3a), rd16(0x3c), rd16(0x3e));
    let strtab = rd64(shoff + shstrndx * shentsize + 0x18) as usize;
    let mut out = Vec::new();
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        let name_off = strtab + rd32(sh);
        let end = b[name_off..].iter().position(|&c| c == 0).unwrap_or(0);
        let name = String::from_utf8_lossy(&b[name_off..name_off + end]).to_string();
        if [
            ".text",
            ".rodata",
            ".data",
            ".bss",
            ".stacks",
            ".page_tables",
        ]
        .contains(&name.as_str())
        {
            out.push((name, rd64(sh + 0x20)));
        }
    }
    Ok(out)
}

struct Report {
    machine: Machine,
    runs: usize,
    native: Vec<Run>,
    hypervisor: Vec<Run>,
    footprint: Vec<(String, u64)>,
    exits: Vec<ExitBench>,
}

/// One measured quantity: its label and how to read it from a run.
type Metric = (&'static str, fn(&Run) -> Option<f64>);

const METRICS: [Metric; 4] = [
    ("launch -> shell (s)", |r| Some(r.shell_s)),
    ("kernel load (MiB/s)", |r| r.load_mib_s),
    ("guest dd write 32 MiB (MB/s)", |r| r.dd_write_mb_s),
    ("guest dd read 32 MiB (MB/s)", |r| r.dd_read_mb_s),
];

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    (s[s.len() / 2], s[0], s[s.len() - 1])
}

impl Report {
    fn col(&self, f: impl Fn(&Run) -> Option<f64>) -> (Vec<f64>, Vec<f64>) {
        (
            self.native.iter().filter_map(&f).collect(),
            self.hypervisor.iter().filter_map(&f).collect(),
        )
    }

    fn table(&self) -> String {
        let mut t = String::new();
        let m = &self.machine;
        let _ = writeln!(
            t,
            "machine: GICv{} {} smp {} mem {} MiB, {} interleaved rounds",
            m.gic, m.cpu, m.smp, m.mem_mib, self.runs
        );
        let _ = writeln!(
            t,
            "{:<34} {:>22} {:>22}",
            "metric (median [min..max])", "native", "hypervisor"
        );
        for (name, f) in METRICS {
            let (n, h) = self.col(f);
            let fmt = |v: &[f64]| {
                if v.is_empty() {
                    "-".to_string()
                } else {
                    let (md, lo, hi) = stats(v);
                    format!("{md:.1} [{lo:.1}..{hi:.1}]")
                }
            };
            let _ = writeln!(t, "{name:<34} {:>22} {:>22}", fmt(&n), fmt(&h));
        }
        if let Some(r) = self.hypervisor.last() {
            let _ = writeln!(t, "hypervisor phases (ms since entry, last run):");
            for (stage, ms) in &r.phases {
                let _ = writeln!(t, "  {ms:>6}  {stage}");
            }
            if let Some(h) = r.heap_kib {
                let _ = writeln!(t, "heap in use at guest entry: {h} KiB");
            }
        }
        let _ = writeln!(
            t,
            "footprint: {}",
            self.footprint
                .iter()
                .map(|(n, s)| format!("{n} {} KiB", s / 1024))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let guest = (m.mem_mib / 2) as u64;
        let _ = writeln!(
            t,
            "memory kept from the guest: {} MiB of {} MiB (guest gets {guest} MiB as configured)",
            m.mem_mib as u64 - guest,
            m.mem_mib
        );
        t += &exit_bench::table(&self.exits);
        t
    }

    fn json(&self) -> String {
        let arr = |v: &[f64]| {
            format!(
                "[{}]",
                v.iter()
                    .map(|x| format!("{x:.3}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        let [(ns, hs), (nl, hl), (nw, hw), (nr, hr)] = METRICS.map(|(_, f)| self.col(f));
        let phases = self.hypervisor.last().map_or(String::new(), |r| {
            r.phases
                .iter()
                .map(|(s, ms)| format!("{{\"stage\":{s:?},\"ms\":{ms}}}"))
                .collect::<Vec<_>>()
                .join(",")
        });
        let fp = self
            .footprint
            .iter()
            .map(|(n, s)| format!("{n:?}:{s}"))
            .collect::<Vec<_>>()
            .join(",");
        format!(
            "{{\"rounds\":{},\"gic\":{},\"cpu\":{:?},\"smp\":{},\"mem_mib\":{},\
             \"shell_s\":{{\"native\":{},\"hypervisor\":{}}},\
             \"kernel_load_mib_s\":{{\"native\":{},\"hypervisor\":{}}},\
             \"dd_write_mb_s\":{{\"native\":{},\"hypervisor\":{}}},\
             \"dd_read_mb_s\":{{\"native\":{},\"hypervisor\":{}}},\
             \"hypervisor_phases\":[{phases}],\"footprint_bytes\":{{{fp}}},\
             \"exit_costs_ns\":{{{}}}}}\n",
            self.runs,
            self.machine.gic,
            self.machine.cpu,
            self.machine.smp,
            self.machine.mem_mib,
            arr(&ns),
            arr(&hs),
            arr(&nl),
            arr(&hl),
            arr(&nw),
            arr(&hw),
            arr(&nr),
            arr(&hr),
            exit_bench::json(&self.exits)
        )
    }

    /// A bar chart of the medians, native vs hypervisor, one group per metric.
    fn svg(&self) -> String {
        let (exits, exits_h) = exit_bench::svg(&self.exits, 290.0);
        let (w, h, group) = (720.0, 300.0 + exits_h, 170.0);
        let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        s += "<text x=\"10\" y=\"18\">elf-hypervisor bench: median, native (grey) vs hypervisor (blue)</text>\n";
        for (i, (name, f)) in METRICS.iter().enumerate() {
            let (n, hv) = self.col(f);
            let (mn, _, _) = stats(&n);
            let (mh, _, _) = stats(&hv);
            let max = mn.max(mh).max(1e-9);
            let x0 = 20.0 + i as f64 * group;
            for (j, (v, color)) in [(mn, "#999"), (mh, "#36c")].iter().enumerate() {
                let bh = 200.0 * v / max;
                let x = x0 + j as f64 * 60.0;
                s += &format!("<rect x=\"{x}\" y=\"{:.1}\" width=\"50\" height=\"{bh:.1}\" fill=\"{color}\"/>\n", 250.0 - bh);
                s += &format!("<text x=\"{x}\" y=\"{:.1}\">{v:.1}</text>\n", 245.0 - bh);
            }
            s += &format!("<text x=\"{x0}\" y=\"270\">{name}</text>\n");
        }
        s += &exits;
        s += "</svg>\n";
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_logs() {
        assert_eq!(rate("T 10.00 30.00 10.50 31.00", 32.0), Some(64.0));
        assert_eq!(rate("T 10.00 30.00 10.00 31.00", 32.0), None);
        assert_eq!(rate("garbage", 32.0), None);
        assert_eq!(
            load_throughput("x\n34891712 bytes read in 76 ms (437.8 MiB/s)\n"),
            Some(437.8)
        );
        assert_eq!(
            load_throughput("7717 bytes read in 1 ms (7.4 MiB/s)\n"),
            None
        );
        assert_eq!(
            load_throughput("[  184 ms] files: kernel 34073 KiB, initrd 989 KiB loaded in 161 ms (212 MiB/s, 567 disk requests)"),
            Some(212.0)
        );
        let p = phases("[   13 ms] boot: DTB at 0x1\n[   19 ms] memory: heap\n[   20 ms] found a block device of size 1KB\n[  220 ms] boot: entering the guest at IPA\n[ 300 ms] x: y\n");
        assert_eq!(
            p,
            vec![
                ("boot".into(), 13),
                ("memory".into(), 19),
                ("guest entry".into(), 220)
            ]
        );
    }

    #[test]
    fn reports_render() {
        let run = |s| Run {
            shell_s: s,
            load_mib_s: Some(200.0),
            ..Default::default()
        };
        let r = Report {
            machine: Machine::default(),
            runs: 2,
            native: vec![run(5.0), run(6.0)],
            hypervisor: vec![run(7.0), run(8.0)],
            footprint: vec![(".text".into(), 4096)],
            exits: vec![ExitBench {
                name: "hvc".into(),
                median_ns: 5000,
                min_ns: 4900,
                max_ns: 6000,
                samples: 15,
            }],
        };
        assert!(r.table().contains("launch -> shell (s)"));
        assert!(r.json().contains("\"shell_s\":{\"native\":[5.000,6.000]"));
        assert!(r.svg().starts_with("<svg"));
        assert!(r
            .json()
            .contains("\"exit_costs_ns\":{\"hvc\":{\"median\":5000"));
        assert!(r.table().contains("HVC round trip"));
    }
}
