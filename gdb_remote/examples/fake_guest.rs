//! A stand-in for the hypervisor's serial port, for trying the stub with a
//! real GDB before the hypervisor integration exists: four fake vCPUs
//! "execute" NOPs, the guest console prints a tick every second, and the line
//! is a Unix socket like QEMU's `-serial unix:...` chardev.
//!
//! ```sh
//! cargo run -p gdb_remote --example fake_guest -- /tmp/fake.sock &
//! cargo xtask gdb-bridge --serial /tmp/fake.sock        # console here
//! gdb-multiarch -ex 'target remote :3333'                # elsewhere
//! ```
//!
//! The loop is the shape of the hypervisor's: every received byte goes to
//! `GdbSession::on_byte`, console output goes through
//! `GdbSession::console_output`, and stops are reported with
//! `GdbSession::report_stop`.

use gdb_remote::target::MAX_VCPUS;
use gdb_remote::{
    ConsoleRoute, DebugError, GdbSession, GuestDebug, Regs, ResumeMode, ResumePlan, SerialTx,
    StopCause,
};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

const BASE: u64 = 0x4008_0000;
const NOP: [u8; 4] = 0xd503_201fu32.to_le_bytes();

struct Guest {
    regs: Vec<Regs>,
    mem: Vec<u8>,
    breaks: BTreeSet<u64>,
    plan: Option<ResumePlan>,
}

impl Guest {
    fn new() -> Self {
        let regs = (0..4u64)
            .map(|v| Regs {
                pc: BASE + v * 0x1000,
                sp: BASE + 0xf000 - v * 0x100,
                cpsr: 0x3c5,
                ..Regs::default()
            })
            .collect();
        Self {
            regs,
            mem: NOP.iter().copied().cycle().take(0x10000).collect(),
            breaks: BTreeSet::new(),
            plan: None,
        }
    }

    fn offset(&self, va: u64, len: usize) -> Result<usize, DebugError> {
        let off = va.checked_sub(BASE).ok_or(DebugError::Fault)? as usize;
        if off + len > self.mem.len() {
            return Err(DebugError::Fault);
        }
        Ok(off)
    }

    /// One "instruction" on every resumed vCPU; the first stop, if any.
    fn tick(&mut self) -> Option<(usize, StopCause)> {
        let plan = self.plan?;
        for v in 0..self.regs.len() {
            let Some(mode) = plan.mode(v) else { continue };
            self.regs[v].pc += 4;
            self.regs[v].x[0] += 1;
            if mode == ResumeMode::Step {
                return Some((v, StopCause::Step));
            }
            if self.breaks.contains(&self.regs[v].pc) {
                return Some((v, StopCause::SwBreak));
            }
        }
        None
    }
}

impl GuestDebug for Guest {
    fn vcpu_count(&self) -> usize {
        self.regs.len().min(MAX_VCPUS)
    }
    fn read_regs(&mut self, vcpu: usize, regs: &mut Regs) -> Result<(), DebugError> {
        *regs = self.regs.get(vcpu).ok_or(DebugError::NoVcpu)?.clone();
        Ok(())
    }
    fn write_regs(&mut self, vcpu: usize, regs: &Regs) -> Result<(), DebugError> {
        *self.regs.get_mut(vcpu).ok_or(DebugError::NoVcpu)? = regs.clone();
        Ok(())
    }
    fn read_mem(&mut self, _: usize, va: u64, buf: &mut [u8]) -> Result<usize, DebugError> {
        let off = self.offset(va, buf.len())?;
        buf.copy_from_slice(&self.mem[off..off + buf.len()]);
        Ok(buf.len())
    }
    fn write_mem(&mut self, _: usize, va: u64, data: &[u8]) -> Result<(), DebugError> {
        let off = self.offset(va, data.len())?;
        self.mem[off..off + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn set_sw_break(&mut self, va: u64) -> Result<(), DebugError> {
        self.offset(va, 4)?;
        self.breaks.insert(va);
        Ok(())
    }
    fn clear_sw_break(&mut self, va: u64) -> Result<(), DebugError> {
        self.breaks.remove(&va);
        Ok(())
    }
    fn resume(&mut self, plan: &ResumePlan) -> Result<(), DebugError> {
        self.plan = Some(*plan);
        Ok(())
    }
    fn stop_all(&mut self) {
        self.plan = None;
    }
    fn detach(&mut self, _killed: bool) {
        self.breaks.clear();
        self.plan = Some(ResumePlan::ALL_CONTINUE);
    }
    fn monitor_s2(&mut self, ipa: u64, out: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(out, "IPA {ipa:#x}: identity-mapped (fake)")
    }
}

#[derive(Clone)]
struct Line(Rc<UnixStream>);

impl SerialTx for Line {
    fn write_bytes(&mut self, bytes: &[u8]) {
        let _ = (&*self.0).write_all(bytes);
    }
}

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/fake-guest.sock".into());
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    eprintln!("fake_guest: serial line on {path}");
    let (stream, _) = listener.accept()?;
    stream.set_read_timeout(Some(Duration::from_millis(10)))?;
    let line = Rc::new(stream);
    let mut packet_buf = vec![0u8; 4096 + 4];
    let mut s = GdbSession::<_, _, 4096>::new(Guest::new(), Line(line.clone()), &mut packet_buf);
    let mut typed = Vec::new();
    let mut last_rx = Instant::now();
    let mut last_tick = Instant::now();
    let mut ticks = 0u32;
    let mut buf = [0u8; 512];
    s.console_output(b"fake guest: type a line; Ctrl-A X quits the bridge\r\n");
    loop {
        match (&*line).read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                last_rx = Instant::now();
                for &b in &buf[..n] {
                    s.on_byte(b, &mut |c| typed.push(c));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e),
        }
        if s.pending() && last_rx.elapsed() > Duration::from_millis(50) {
            s.flush_console(&mut |c| typed.push(c));
        }
        // the guest's tty echoes input
        if !typed.is_empty() {
            let echo: Vec<u8> = typed
                .drain(..)
                .flat_map(|c| {
                    if c == b'\r' {
                        vec![b'\r', b'\n']
                    } else {
                        vec![c]
                    }
                })
                .collect();
            s.console_output(&echo);
        }
        if let Some((vcpu, cause)) = s.guest().tick() {
            s.report_stop(vcpu, cause);
        }
        if last_tick.elapsed() > Duration::from_secs(1) {
            last_tick = Instant::now();
            ticks += 1;
            let msg = format!("tick {ticks}\r\n");
            if s.console_output(msg.as_bytes()) == ConsoleRoute::Held {
                // stopped under a debugger: a real guest would not print
            }
        }
    }
}
