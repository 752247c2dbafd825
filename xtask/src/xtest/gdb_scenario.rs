//! The resident GDB stub against a Linux guest, end to end: QEMU's serial
//! line on a Unix socket, `cargo xtask gdb-bridge` in between (console on
//! its stdin/stdout, GDB on TCP), and the real `gdb-multiarch` in batch mode.
//!
//! Kernel addresses come from the running guest's `/proc/kallsyms`: Debian's
//! `System.map` is a stub that points at the `-dbg` package (hundreds of
//! MiB), and kallsyms is the same table, already relocated (KASLR).

use super::plan::TestCase;
use super::scenarios::{with_tail, Prepared, BOOT_TIMEOUT, LINUX_BOOT_TIMEOUT};
use crate::cli::Args;
use crate::deps;
use crate::image;
use crate::paths::Paths;
use crate::payload::{self, verify};
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::session::Session;
use anyhow::{bail, ensure, Context, Result};
use gdb_remote::encode::encode_packet;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SYMBOLS: [&str; 3] = ["__arm64_sys_sync", "__arm64_sys_newuname", "jiffies_64"];
/// The whole GDB script (three resumes that wait for the guest's loop).
const GDB_TIMEOUT: Duration = Duration::from_secs(300);

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

pub fn gdb(paths: &Paths, prepared: &Prepared, case: &TestCase, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.extend(payload::OPTIONS);
    args.reject_unknown(&known)?;
    deps::ensure(&[deps::GDB])?;
    let m = Machine::from_args(args)?;
    let p = payload::prepare(paths, &payload::options_from_args(args, &m)?)?;
    let dir = paths.work("xtest").join(&case.name);
    let disk = image::hypervisor_disk(paths, &dir, &p)?;
    let socket = dir.join("serial.sock");
    let _ = std::fs::remove_file(&socket);
    let port = free_port()?;
    let launch = Launch {
        machine: m.clone(),
        boot: Boot::Firmware(prepared.uboot.clone()),
        disk: Some(disk),
        console: Console::Socket(socket.clone()),
    };
    let qemu_log = std::fs::File::create(dir.join("qemu.log"))?;
    let _qemu = KillOnDrop(
        Command::new("qemu-system-aarch64")
            .args(launch.args())
            .stdin(Stdio::null())
            .stdout(qemu_log.try_clone()?)
            .stderr(qemu_log)
            .spawn()
            .context("starting qemu-system-aarch64")?,
    );
    let exe = std::env::current_exe()?;
    let mut s = Session::spawn(
        &exe.display().to_string(),
        &[
            "gdb-bridge".into(),
            "--serial".into(),
            socket.display().to_string(),
            "--gdb".into(),
            format!("127.0.0.1:{port}"),
        ],
        &paths.work("xtest").join(format!("{}.log", case.name)),
    )?;
    let r = (|| {
        s.expect_contains("boot: entering the guest", BOOT_TIMEOUT)?;
        verify::expect_shell(&mut s, LINUX_BOOT_TIMEOUT)?;
        verify::run_ok(&mut s, "dmesg -n 1")?;
        let syms = kallsyms(&mut s)?;
        garbage_while_detached(&mut s)?;
        garbage_while_attached(port)?;
        echo_marker(&mut s, "before-attach")?;
        // The shell commands the breakpoints wait for, once a second.
        s.send("(while :; do sync; uname > /dev/null; sleep 1; done) > /dev/null 2>&1 &\n")?;
        let out = run_gdb(port, &syms, &dir)?;
        check_gdb_output(&out, &syms)?;
        // The guest runs again and its console is whole.
        echo_marker(&mut s, "after-detach")?;
        verify::run_ok(&mut s, "kill $!")?;
        s.send("poweroff -f\n")?;
        s.expect_contains("guest: PSCI SYSTEM_OFF", Duration::from_secs(60))?;
        Ok(())
    })();
    with_tail(&s, r)
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// `echo NAME-$((6*7))` answers `NAME-42`: typed input and output intact.
fn echo_marker(s: &mut Session, name: &str) -> Result<()> {
    let lines = verify::run_ok(s, &format!("echo {name}-$((6*7))"))?;
    ensure!(
        lines.iter().any(|l| l.trim() == format!("{name}-42")),
        "console lost text: {lines:?}"
    );
    Ok(())
}

fn kallsyms(s: &mut Session) -> Result<HashMap<String, u64>> {
    let pattern = SYMBOLS.join("|");
    let lines = verify::run_ok(s, &format!("grep -E ' ({pattern})$' /proc/kallsyms"))?;
    let mut syms = HashMap::new();
    for l in &lines {
        let w: Vec<&str> = l.split_whitespace().collect();
        if let [addr, _, name] = w[..] {
            if let Ok(a) = u64::from_str_radix(addr, 16) {
                syms.insert(name.to_string(), a);
            }
        }
    }
    for name in SYMBOLS {
        match syms.get(name) {
            Some(0) => bail!("/proc/kallsyms hides addresses (kptr_restrict)"),
            Some(_) => {}
            None => bail!("{name} not in /proc/kallsyms: {lines:?}"),
        }
    }
    Ok(syms)
}

/// Bytes that look like RSP but are not valid packets reach the guest's
/// console as text while no debugger is attached: an oversized packet,
/// bad checksums, stray `$`. The shell sees them and still answers.
fn garbage_while_detached(s: &mut Session) -> Result<()> {
    let big = "A".repeat(5000);
    // A comment line: harmless to the shell however its editor cuts it.
    s.send(&format!("# $g#00 $$ #zz $m0,4#q1 ${big}#41\n"))?;
    echo_marker(s, "garbage-survived")
}

/// A raw client through the bridge: attach, then well-framed but malformed
/// or out-of-range commands. Each gets an answer (an error or empty reply,
/// never silence); continue and Ctrl-C give a SIGINT stop; `D` detaches.
fn garbage_while_attached(port: u16) -> Result<()> {
    let mut c = RawClient::connect(port)?;
    let supported = c.exchange("qSupported:multiprocess+")?;
    ensure!(
        supported.contains("PacketSize="),
        "qSupported: {supported:?}"
    );
    for bad in [
        "mzz,4",
        "m",
        "Z9,0,0",
        "p1ffff",
        "M0,1:zz",
        "mffffffffffffff00,100",
        "Hgz",
        "vCont;q",
        "qRcmd,zz",
        "X0,5:ab",
        "g",
    ] {
        c.exchange(bad)
            .with_context(|| format!("no answer to {bad:?}"))?;
    }
    // Continue, let the guest run a moment, then Ctrl-C: a SIGINT stop
    // reply (console output may come first as `O` packets).
    c.send("vCont;c")?;
    std::thread::sleep(Duration::from_millis(500));
    c.stream.write_all(&[0x03])?;
    let mut stop = String::new();
    for _ in 0..200 {
        stop = c.read_packet("the stop after Ctrl-C")?;
        if !stop.starts_with('O') {
            break;
        }
    }
    ensure!(stop.starts_with("T02"), "Ctrl-C answered {stop:?}");
    let bye = c.exchange("D")?;
    ensure!(bye == "OK", "detach answered {bye:?}");
    Ok(())
}

/// A minimal RSP client on the bridge's GDB port.
struct RawClient {
    stream: TcpStream,
    /// Bytes read past the last packet.
    pending: Vec<u8>,
}

impl RawClient {
    fn connect(port: u16) -> Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(Self {
            stream,
            pending: Vec::new(),
        })
    }

    fn send(&mut self, payload: &str) -> Result<()> {
        let mut frame = Vec::new();
        encode_packet(payload.as_bytes(), &mut |b| frame.push(b));
        self.stream.write_all(&frame)?;
        Ok(())
    }

    /// Sends one packet and returns the payload of the reply (acknowledged).
    fn exchange(&mut self, payload: &str) -> Result<String> {
        self.send(payload)?;
        self.read_packet(payload)
    }

    /// Reads the next `$…#xx` packet, acknowledges it and returns its payload.
    fn read_packet(&mut self, what: &str) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 4096];
        loop {
            let got = &mut self.pending;
            if let Some(start) = got.iter().position(|&b| b == b'$') {
                if let Some(hash) = got[start..].iter().position(|&b| b == b'#') {
                    if got.len() >= start + hash + 3 {
                        let text =
                            String::from_utf8_lossy(&got[start + 1..start + hash]).to_string();
                        // Whatever follows is the next packet's: keep it.
                        got.drain(..start + hash + 3);
                        self.stream.write_all(b"+")?;
                        return Ok(text);
                    }
                }
            }
            ensure!(
                Instant::now() < deadline,
                "no packet for {what:?} (got {:?})",
                String::from_utf8_lossy(got)
            );
            match self.stream.read(&mut buf) {
                Ok(0) => bail!("the bridge closed the connection"),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn gdb_script(port: u16, syms: &HashMap<String, u64>) -> String {
    let sync = syms["__arm64_sys_sync"];
    let uname = syms["__arm64_sys_newuname"];
    let jiffies = syms["jiffies_64"];
    format!(
        "set pagination off
set confirm off
set architecture aarch64
target remote 127.0.0.1:{port}
info threads
x/i $pc
hbreak *{sync:#x}
continue
printf \"HBREAK-PC %lx\\n\", $pc
stepi
printf \"STEPI-PC %lx\\n\", $pc
delete
break *{uname:#x}
continue
printf \"SWBREAK-PC %lx\\n\", $pc
x/i $pc
printf \"SCTLR %lx\\n\", $SCTLR_EL1
delete
watch *(unsigned long *){jiffies:#x}
continue
printf \"WATCH-PC %lx\\n\", $pc
delete
monitor vcpus
monitor s2 0x40000000
detach
"
    )
}

fn run_gdb(port: u16, syms: &HashMap<String, u64>, dir: &Path) -> Result<String> {
    let script = dir.join("session.gdb");
    std::fs::write(&script, gdb_script(port, syms))?;
    let log = dir.join("gdb.log");
    let mut child = KillOnDrop(
        Command::new(deps::GDB.command)
            .args(["-nx", "-batch", "-x"])
            .arg(&script)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(Stdio::piped())
            .spawn()
            .context("starting gdb-multiarch")?,
    );
    let deadline = Instant::now() + GDB_TIMEOUT;
    loop {
        if let Some(status) = child.0.try_wait()? {
            let mut err = String::new();
            if let Some(mut e) = child.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let out = std::fs::read_to_string(&log)?;
            ensure!(status.success(), "gdb exited with {status}: {err}\n{out}");
            return Ok(format!("{out}\n{err}"));
        }
        if Instant::now() >= deadline {
            let out = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("gdb did not finish in {}s:\n{out}", GDB_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn value_after(out: &str, tag: &str) -> Result<u64> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(tag))
        .with_context(|| format!("no {tag:?} in gdb's output:\n{out}"))?;
    u64::from_str_radix(line.trim(), 16).with_context(|| format!("{tag}{line}"))
}

fn check_gdb_output(out: &str, syms: &HashMap<String, u64>) -> Result<()> {
    let threads = out
        .lines()
        .filter(|l| {
            let t = l.trim_start_matches('*').trim_start();
            t.split_whitespace().nth(1) == Some("Thread")
                && t.split_whitespace()
                    .next()
                    .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .count();
    ensure!(threads == 4, "info threads shows {threads} threads:\n{out}");
    ensure!(
        out.lines().any(|l| l.starts_with("=> 0x")),
        "x/i $pc printed no instruction:\n{out}"
    );
    let sync = syms["__arm64_sys_sync"];
    let hb = value_after(out, "HBREAK-PC ")?;
    ensure!(
        hb == sync,
        "hardware breakpoint stopped at {hb:#x}, not {sync:#x}"
    );
    let st = value_after(out, "STEPI-PC ")?;
    ensure!(st == sync + 4, "stepi went from {hb:#x} to {st:#x}");
    let uname = syms["__arm64_sys_newuname"];
    let sb = value_after(out, "SWBREAK-PC ")?;
    ensure!(
        sb == uname,
        "software breakpoint stopped at {sb:#x}, not {uname:#x}"
    );
    ensure!(
        out.contains("New value ="),
        "the watchpoint on jiffies_64 did not fire:\n{out}"
    );
    value_after(out, "WATCH-PC ")?;
    let sctlr = value_after(out, "SCTLR ")?;
    ensure!(
        sctlr & 1 == 1,
        "SCTLR_EL1 {sctlr:#x}: the guest's MMU should be on"
    );
    ensure!(out.contains("vCPU 3: pc="), "monitor vcpus:\n{out}");
    ensure!(out.contains("-> PA"), "monitor s2:\n{out}");
    ensure!(
        !out.contains("brk"),
        "a planted BRK is visible in the disassembly:\n{out}"
    );
    Ok(())
}
