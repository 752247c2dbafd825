//! `cargo xtask soak [--minutes N]`: Linux under the hypervisor runs a disk
//! and CPU loop for N minutes (default 10). Every round writes 8 MiB of
//! random data, syncs, drops the page cache and reads it back through the
//! virtio disk; the checksums must match. A CPU hog runs on every vCPU
//! meanwhile. At the end a final file is synced and the guest powered off,
//! and its checksum is checked again on the host from the disk image.
//! Fails on a mismatch, a panic marker, or a round that does not finish in
//! time (a hang).

use crate::cli::Args;
use crate::paths::Paths;
use crate::payload::{self, verify};
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::session::Session;
use crate::{deps, disk, hyp, image, uboot};
use anyhow::{bail, ensure, Context, Result};
use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
/// One round moves 16 MiB through the disk; minutes means a hang.
const ROUND_TIMEOUT: Duration = Duration::from_secs(180);
const FINAL_FILE: &str = "/root/soak-final.bin";

pub fn main(paths: &Paths, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.extend(payload::OPTIONS);
    known.push("minutes");
    args.reject_unknown(&known)?;
    let minutes = args.parsed::<u64>("minutes")?.unwrap_or(10).max(1);
    let m = Machine::from_args(args)?;
    deps::ensure(deps::BASE)?;
    hyp::build(paths, &hyp::BuildOptions::default())?;
    let bios = uboot::firmware(paths)?;
    let p = payload::prepare(paths, &payload::options_from_args(args, &m)?)?;
    let dir = paths.work("soak");
    let disk_img = image::hypervisor_disk(paths, &dir, &p)?;
    let launch = Launch {
        machine: m.clone(),
        boot: Boot::Firmware(bios),
        disk: Some(disk_img.clone()),
        console: Console::Pipe,
    };
    let log = dir.join("soak.log");
    eprintln!(
        "soak: {minutes} min of disk + CPU load under the hypervisor; log {}",
        log.display()
    );
    let mut s = Session::spawn("qemu-system-aarch64", &launch.args(), &log)?;
    let r = (|| -> Result<(u64, String)> {
        verify::expect_shell(&mut s, BOOT_TIMEOUT)?;
        verify::run_ok(&mut s, "dmesg -n 1")?;
        let rounds = soak_loop(&mut s, minutes, m.smp)?;
        let sum = verify::run_ok(
            &mut s,
            &format!(
                "dd if=/dev/urandom of={FINAL_FILE} bs=1M count=4 2>/dev/null && sync && md5sum {FINAL_FILE}"
            ),
        )?;
        let sum = sum
            .iter()
            .find_map(|l| l.split_whitespace().next().filter(|w| w.len() == 32))
            .context("no md5sum of the final file")?
            .to_string();
        verify::power_off(&mut s)?;
        Ok((rounds, sum))
    })();
    let (rounds, sum) =
        r.map_err(|e| anyhow::anyhow!("{e:#}\n--- last serial lines ---\n{}", s.tail(25)))?;
    drop(s);
    let layout = disk::Layout::new(image::BOOT_PART_MIB, image::ROOT_PART_MIB)?;
    let data = payload::read_root_file(&disk_img, &layout, FINAL_FILE)?;
    let host_sum = md5_hex(&data, &dir)?;
    ensure!(
        host_sum == sum,
        "{FINAL_FILE} on the disk image has md5 {host_sum}, the guest wrote {sum}"
    );
    println!("soak: PASS: {rounds} rounds in {minutes} min, no mismatch, final file intact on disk ({sum})");
    Ok(())
}

/// The guest-side loop; returns the number of rounds.
fn soak_loop(s: &mut Session, minutes: u64, cpus: u32) -> Result<u64> {
    let script = format!(
        "for c in $(seq {cpus}); do (while :; do md5sum /bin/busybox >/dev/null; done) & done; \
         end=$(( $(cut -d. -f1 /proc/uptime) + {secs} )); i=0; \
         while [ $(cut -d. -f1 /proc/uptime) -lt $end ]; do i=$((i+1)); \
         dd if=/dev/urandom of=/root/soak.bin bs=1M count=8 2>/dev/null; \
         a=$(md5sum /root/soak.bin | cut -d' ' -f1); sync; echo 3 > /proc/sys/vm/drop_caches; \
         b=$(md5sum /root/soak.bin | cut -d' ' -f1); \
         if [ \"$a\" = \"$b\" ]; then echo \"SOAK-ROUND $i $a\"; else echo \"SOAK-BAD $i $a $b\"; break; fi; \
         done; kill $(jobs -p); wait 2>/dev/null; rm -f /root/soak.bin; echo \"SOAK-END $i\"\n",
        secs = minutes * 60
    );
    s.send(&script)?;
    let start = Instant::now();
    let mut rounds = 0u64;
    loop {
        let line = s.expect_line("a soak round", ROUND_TIMEOUT, |l| {
            let l = l.trim_start();
            l.starts_with("SOAK-ROUND ") || l.starts_with("SOAK-BAD ") || l.starts_with("SOAK-END ")
        })?;
        let line = line.trim();
        if line.starts_with("SOAK-BAD ") {
            bail!("checksum mismatch after {rounds} good rounds: {line}");
        }
        if let Some(n) = line.strip_prefix("SOAK-END ") {
            let n: u64 = n.trim().parse().context("SOAK-END count")?;
            ensure!(
                n == rounds && n > 0,
                "guest counted {n} rounds, we saw {rounds}"
            );
            return Ok(rounds);
        }
        rounds += 1;
        if rounds.is_multiple_of(10) {
            eprintln!(
                "soak: {rounds} rounds, {:.1} of {minutes} min",
                start.elapsed().as_secs_f64() / 60.0
            );
        }
    }
}

/// md5 of `data` with the host's md5sum (coreutils; no extra crate).
fn md5_hex(data: &[u8], dir: &std::path::Path) -> Result<String> {
    let tmp = dir.join("soak-final.check");
    std::fs::write(&tmp, data)?;
    let out = std::process::Command::new("md5sum").arg(&tmp).output()?;
    let _ = std::fs::remove_file(&tmp);
    ensure!(out.status.success(), "md5sum failed");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .next()
        .map(str::to_string)
        .context("md5sum printed nothing")
}
