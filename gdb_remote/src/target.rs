//! `gdbstub` integration: the [`GuestDebug`] trait the hypervisor implements,
//! the adapter that turns it into a multi-threaded `gdbstub` target (one
//! thread per vCPU), and [`GdbSession`], which runs the [`Demux`] and
//! gdbstub's byte-fed state machine together.
//!
//! # Allocation
//!
//! `gdbstub` is built without `alloc`: it borrows its packet buffer and
//! writes monitor output straight to the connection. [`GdbSession`] holds
//! every buffer inline (demultiplexer, last sent frame for `-`
//! retransmission) plus the caller's packet buffer, so [`GdbSession::on_byte`]
//! — the receive-interrupt path — never allocates, nor does anything else
//! here.
//!
//! # Life cycle
//!
//! - Detached: bytes go to the console ([`Demux`] rules). The first valid
//!   packet builds the gdbstub state machine, calls [`GuestDebug::attach`]
//!   (stop every vCPU: GDB expects a stopped target after `target remote`)
//!   and the session is attached.
//! - `vCont`/`c`/`s` call [`GuestDebug::resume`]; the session is then
//!   *running* until the hypervisor calls [`GdbSession::report_stop`] (a
//!   breakpoint, a finished step, a watchpoint) or GDB sends Ctrl-C
//!   ([`GuestDebug::stop_all`] is called and GDB is told `SIGINT`).
//! - `D` (detach) or `k` (kill) calls [`GuestDebug::detach`] and the session
//!   is detached again. A protocol error that gdbstub cannot survive (a
//!   malformed command) stops the guest, rebuilds the state machine and stays
//!   attached, so GDB's next command is answered.

use crate::demux::{Demux, Event};
use crate::encode::{checksum, encode_console_output, hex_digit};
use core::convert::Infallible;
use core::fmt;
use core::marker::PhantomData;
use gdbstub::common::{Signal, Tid};
use gdbstub::conn::Connection;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{GdbStubBuilder, MultiThreadStopReason};
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::single_register_access::{
    SingleRegisterAccess, SingleRegisterAccessOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps,
    SwBreakpoint, SwBreakpointOps,
};
use gdbstub::target::ext::monitor_cmd::{ConsoleOutput, MonitorCmd, MonitorCmdOps};
use gdbstub::target::ext::thread_extra_info::{ThreadExtraInfo, ThreadExtraInfoOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::aarch64::AArch64;

pub use gdbstub::target::ext::breakpoints::WatchKind;
/// The registers GDB's `g`/`G` packets carry: X0-X30, SP, PC, CPSR, V0-V31,
/// FPSR, FPCR.
pub use gdbstub_arch::aarch64::reg::AArch64CoreRegs as Regs;

/// Register ids as GDB names them (core, FP, and `System` registers).
pub use gdbstub_arch::aarch64::reg::id::AArch64RegId as RegId;

/// The most vCPUs a [`ResumePlan`] describes.
pub const MAX_VCPUS: usize = 64;

/// Why a [`GuestDebug`] operation failed. Each maps to an errno GDB shows
/// (`E0e` ...); none ends the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugError {
    /// The address is not mapped (stage 1 or stage 2) or not accessible.
    Fault,
    /// No such vCPU.
    NoVcpu,
    /// Out of breakpoint/watchpoint slots.
    NoResources,
    /// Not implemented by this hypervisor.
    Unsupported,
    /// The request is malformed (e.g. a watchpoint length the hardware
    /// cannot cover).
    Invalid,
}

impl DebugError {
    fn errno(self) -> u8 {
        match self {
            DebugError::Fault => 14,       // EFAULT
            DebugError::NoVcpu => 3,       // ESRCH
            DebugError::NoResources => 28, // ENOSPC
            DebugError::Unsupported => 95, // EOPNOTSUPP
            DebugError::Invalid => 22,     // EINVAL
        }
    }
}

/// How one vCPU resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeMode {
    Continue,
    /// Execute one instruction, then report [`StopCause::Step`].
    Step,
}

/// The resume actions of one `vCont` packet. vCPUs without an explicit
/// action continue, unless GDB asked for scheduler locking (`set
/// scheduler-locking on`), in which case they stay stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResumePlan {
    step: u64,
    cont: u64,
    locked: bool,
}

impl ResumePlan {
    /// Every vCPU continues (what a detach does).
    pub const ALL_CONTINUE: ResumePlan = ResumePlan {
        step: 0,
        cont: 0,
        locked: false,
    };

    /// What `vcpu` does; `None`: it stays stopped.
    pub fn mode(&self, vcpu: usize) -> Option<ResumeMode> {
        let bit = 1u64.checked_shl(vcpu as u32).unwrap_or(0);
        if self.step & bit != 0 {
            Some(ResumeMode::Step)
        } else if self.cont & bit != 0 || !self.locked {
            Some(ResumeMode::Continue)
        } else {
            None
        }
    }

    /// Whether any vCPU single-steps.
    pub fn any_step(&self) -> bool {
        self.step != 0
    }

    fn set(&mut self, vcpu: usize, mode: ResumeMode) {
        let bit = 1u64 << vcpu;
        match mode {
            ResumeMode::Step => self.step |= bit,
            ResumeMode::Continue => self.cont |= bit,
        }
    }
}

/// Why the guest stopped, for [`GdbSession::report_stop`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopCause {
    /// A single step finished.
    Step,
    /// A software breakpoint inserted by GDB (`Z0`) was hit.
    SwBreak,
    /// A hardware breakpoint (`Z1`) was hit.
    HwBreak,
    /// A watchpoint (`Z2`..`Z4`) fired on a data access at `addr`.
    Watch { kind: WatchKind, addr: u64 },
    /// Stopped for another reason, reported as this signal (5: SIGTRAP for
    /// a guest `BRK` that is not GDB's).
    Signal(u8),
    /// The guest powered off (PSCI `SYSTEM_OFF`); GDB ends the session.
    PoweredOff,
}

/// What the hypervisor provides to the GDB stub. vCPUs are numbered from 0;
/// GDB sees vCPU `n` as thread `n + 1`. All calls happen with the guest
/// stopped except [`resume`](Self::resume), [`stop_all`](Self::stop_all)
/// and [`attach`](Self::attach).
pub trait GuestDebug {
    /// Number of vCPUs (at most [`MAX_VCPUS`]).
    fn vcpu_count(&self) -> usize;

    fn read_regs(&mut self, vcpu: usize, regs: &mut Regs) -> Result<(), DebugError>;
    fn write_regs(&mut self, vcpu: usize, regs: &Regs) -> Result<(), DebugError>;

    /// Reads guest memory at virtual address `va` as `vcpu` sees it (its
    /// stage-1 translation, then stage 2). Returns the number of bytes read:
    /// fewer than `buf.len()` when the range runs into an unmapped page.
    fn read_mem(&mut self, vcpu: usize, va: u64, buf: &mut [u8]) -> Result<usize, DebugError>;
    /// Writes guest memory; must keep instruction caches coherent.
    fn write_mem(&mut self, vcpu: usize, va: u64, data: &[u8]) -> Result<(), DebugError>;

    /// A system register of a stopped vCPU, named by the `System` id of
    /// [`RegId`] (the target XML's regnum: Op0:Op1:CRn:CRm:Op2). `Ok(None)`:
    /// not provided (GDB shows it as unavailable). Default: none.
    fn read_sysreg(&mut self, _vcpu: usize, _id: RegId) -> Result<Option<u64>, DebugError> {
        Ok(None)
    }

    fn set_sw_break(&mut self, va: u64) -> Result<(), DebugError>;
    fn clear_sw_break(&mut self, va: u64) -> Result<(), DebugError>;
    fn set_hw_break(&mut self, _va: u64) -> Result<(), DebugError> {
        Err(DebugError::Unsupported)
    }
    fn clear_hw_break(&mut self, _va: u64) -> Result<(), DebugError> {
        Err(DebugError::Unsupported)
    }
    fn set_watch(&mut self, _va: u64, _len: u64, _kind: WatchKind) -> Result<(), DebugError> {
        Err(DebugError::Unsupported)
    }
    fn clear_watch(&mut self, _va: u64, _len: u64, _kind: WatchKind) -> Result<(), DebugError> {
        Err(DebugError::Unsupported)
    }

    /// Resumes the vCPUs as planned. Returns at once; the hypervisor later
    /// calls [`GdbSession::report_stop`].
    fn resume(&mut self, plan: &ResumePlan) -> Result<(), DebugError>;
    /// Stops every vCPU (all-stop mode). Idempotent.
    fn stop_all(&mut self);
    /// A debugger attached: stop every vCPU. Default: [`stop_all`](Self::stop_all).
    fn attach(&mut self) {
        self.stop_all()
    }
    /// The debugger left (`D`, or `k` with `killed`): remove every
    /// breakpoint and watchpoint GDB left behind and resume all vCPUs.
    /// Default: resume all.
    fn detach(&mut self, _killed: bool) {
        let _ = self.resume(&ResumePlan::ALL_CONTINUE);
    }

    /// `info threads` text for a vCPU. Default: `vCPU <n>`.
    fn describe_vcpu(&self, vcpu: usize, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "vCPU {vcpu}")
    }

    /// `monitor vcpus`. Default: PC, SP and exception level of each vCPU.
    fn monitor_vcpus(&mut self, out: &mut dyn fmt::Write) -> fmt::Result {
        for v in 0..self.vcpu_count() {
            let mut r = Regs::default();
            match self.read_regs(v, &mut r) {
                Ok(()) => writeln!(
                    out,
                    "vCPU {v}: pc={:#x} sp={:#x} EL{} cpsr={:#x}",
                    r.pc,
                    r.sp,
                    (r.cpsr >> 2) & 3,
                    r.cpsr
                )?,
                Err(e) => writeln!(out, "vCPU {v}: {e:?}")?,
            }
        }
        Ok(())
    }
    /// `monitor s2 <ipa>`: the stage-2 walk of an IPA.
    fn monitor_s2(&mut self, _ipa: u64, out: &mut dyn fmt::Write) -> fmt::Result {
        writeln!(out, "s2: not supported by this hypervisor")
    }
    /// `monitor irqs`: virtual interrupt state.
    fn monitor_irqs(&mut self, out: &mut dyn fmt::Write) -> fmt::Result {
        writeln!(out, "irqs: not supported by this hypervisor")
    }
    /// Any other `monitor` command; return `Ok(false)` if unknown.
    fn monitor_other(&mut self, _cmd: &str, _out: &mut dyn fmt::Write) -> Result<bool, fmt::Error> {
        Ok(false)
    }
}

/// The gdbstub [`Target`] over a [`GuestDebug`]. Public so that its type
/// can be named; it is created by [`GdbSession`].
pub struct DebugTarget<G> {
    guest: G,
    plan: ResumePlan,
}

impl<G: GuestDebug> DebugTarget<G> {
    fn vcpu(&self, tid: Tid) -> Result<usize, DebugError> {
        let v = tid.get() - 1;
        if v < self.guest.vcpu_count().min(MAX_VCPUS) {
            Ok(v)
        } else {
            Err(DebugError::NoVcpu)
        }
    }
}

fn tid_of(vcpu: usize) -> Tid {
    Tid::new(vcpu + 1).unwrap_or(Tid::MIN)
}

fn nonfatal<T>(r: Result<T, DebugError>) -> Result<T, TargetError<DebugError>> {
    r.map_err(|e| TargetError::Errno(e.errno()))
}

/// `Ok(true)`: set/cleared; `Ok(false)`: gdbstub answers with an error and
/// GDB tries another way (e.g. a software breakpoint through memory writes).
fn bp_result(r: Result<(), DebugError>) -> Result<bool, TargetError<DebugError>> {
    match r {
        Ok(()) => Ok(true),
        Err(DebugError::NoResources | DebugError::Unsupported) => Ok(false),
        Err(e) => Err(TargetError::Errno(e.errno())),
    }
}

impl<G: GuestDebug> Target for DebugTarget<G> {
    type Arch = AArch64;
    type Error = DebugError;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    /// Keep acknowledgements: the link is a real UART, and `+`/`-` is how a
    /// corrupted packet gets resent.
    fn use_no_ack_mode(&self) -> bool {
        false
    }

    fn use_fork_stop_reason(&self) -> bool {
        false
    }
    fn use_vfork_stop_reason(&self) -> bool {
        false
    }
    fn use_vforkdone_stop_reason(&self) -> bool {
        false
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<MonitorCmdOps<'_, Self>> {
        Some(self)
    }
}

impl<G: GuestDebug> MultiThreadBase for DebugTarget<G> {
    fn read_registers(&mut self, regs: &mut Regs, tid: Tid) -> TargetResult<(), Self> {
        let v = nonfatal(self.vcpu(tid))?;
        nonfatal(self.guest.read_regs(v, regs))
    }

    fn write_registers(&mut self, regs: &Regs, tid: Tid) -> TargetResult<(), Self> {
        let v = nonfatal(self.vcpu(tid))?;
        nonfatal(self.guest.write_regs(v, regs))
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8], tid: Tid) -> TargetResult<usize, Self> {
        // Memory commands before any `Hg` use thread 1.
        let v = self.vcpu(tid).unwrap_or(0);
        nonfatal(self.guest.read_mem(v, start, data))
    }

    fn write_addrs(&mut self, start: u64, data: &[u8], tid: Tid) -> TargetResult<(), Self> {
        let v = self.vcpu(tid).unwrap_or(0);
        nonfatal(self.guest.write_mem(v, start, data))
    }

    fn list_active_threads(&mut self, f: &mut dyn FnMut(Tid)) -> Result<(), DebugError> {
        for v in 0..self.guest.vcpu_count().min(MAX_VCPUS) {
            f(tid_of(v));
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(&mut self) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, Tid, Self>> {
        Some(self)
    }
}

/// `p`/`P`: one register. Core and FP registers come from the `g` set;
/// system registers from [`GuestDebug::read_sysreg`] (read-only).
impl<G: GuestDebug> SingleRegisterAccess<Tid> for DebugTarget<G> {
    fn read_register(&mut self, tid: Tid, id: RegId, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let v = nonfatal(self.vcpu(tid))?;
        let mut r = Regs::default();
        let bytes: ([u8; 16], usize) = match id {
            RegId::X(n) if n < 31 => core_bytes(self, v, &mut r, |r| r.x[n as usize].into(), 8)?,
            RegId::Sp => core_bytes(self, v, &mut r, |r| r.sp.into(), 8)?,
            RegId::Pc => core_bytes(self, v, &mut r, |r| r.pc.into(), 8)?,
            RegId::Pstate => core_bytes(self, v, &mut r, |r| r.cpsr.into(), 4)?,
            RegId::V(n) if n < 32 => core_bytes(self, v, &mut r, |r| r.v[n as usize], 16)?,
            id if id == RegId::FPSR => core_bytes(self, v, &mut r, |r| r.fpsr.into(), 4)?,
            id if id == RegId::FPCR => core_bytes(self, v, &mut r, |r| r.fpcr.into(), 4)?,
            id @ RegId::System(_) => match nonfatal(self.guest.read_sysreg(v, id))? {
                Some(x) => ((x as u128).to_le_bytes(), 8),
                None => return Ok(0),
            },
            _ => return Err(TargetError::Errno(DebugError::Invalid.errno())),
        };
        let n = bytes.1.min(buf.len());
        buf[..n].copy_from_slice(&bytes.0[..n]);
        Ok(n)
    }

    fn write_register(&mut self, _tid: Tid, _id: RegId, _val: &[u8]) -> TargetResult<(), Self> {
        // GDB writes core registers with `G`; system registers are
        // read-only through the stub.
        Err(TargetError::Errno(DebugError::Unsupported.errno()))
    }
}

/// Reads the `g` set of `vcpu` and picks one register out, little-endian.
fn core_bytes<G: GuestDebug>(
    t: &mut DebugTarget<G>,
    vcpu: usize,
    r: &mut Regs,
    pick: impl Fn(&Regs) -> u128,
    len: usize,
) -> Result<([u8; 16], usize), TargetError<DebugError>> {
    nonfatal(t.guest.read_regs(vcpu, r))?;
    Ok((pick(r).to_le_bytes(), len))
}

impl<G: GuestDebug> MultiThreadResume for DebugTarget<G> {
    fn resume(&mut self) -> Result<(), DebugError> {
        let plan = self.plan;
        self.guest.resume(&plan)
    }

    fn clear_resume_actions(&mut self) -> Result<(), DebugError> {
        self.plan = ResumePlan::default();
        Ok(())
    }

    /// Signals cannot be delivered to a guest: they are ignored.
    fn set_resume_action_continue(
        &mut self,
        tid: Tid,
        _sig: Option<Signal>,
    ) -> Result<(), DebugError> {
        let v = self.vcpu(tid)?;
        self.plan.set(v, ResumeMode::Continue);
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl<G: GuestDebug> MultiThreadSingleStep for DebugTarget<G> {
    fn set_resume_action_step(&mut self, tid: Tid, _sig: Option<Signal>) -> Result<(), DebugError> {
        let v = self.vcpu(tid)?;
        self.plan.set(v, ResumeMode::Step);
        Ok(())
    }
}

impl<G: GuestDebug> MultiThreadSchedulerLocking for DebugTarget<G> {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), DebugError> {
        self.plan.locked = true;
        Ok(())
    }
}

impl<G: GuestDebug> Breakpoints for DebugTarget<G> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl<G: GuestDebug> SwBreakpoint for DebugTarget<G> {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        bp_result(self.guest.set_sw_break(addr))
    }
    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        bp_result(self.guest.clear_sw_break(addr))
    }
}

impl<G: GuestDebug> HwBreakpoint for DebugTarget<G> {
    fn add_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        bp_result(self.guest.set_hw_break(addr))
    }
    fn remove_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        bp_result(self.guest.clear_hw_break(addr))
    }
}

impl<G: GuestDebug> HwWatchpoint for DebugTarget<G> {
    fn add_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        bp_result(self.guest.set_watch(addr, len, kind))
    }
    fn remove_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        bp_result(self.guest.clear_watch(addr, len, kind))
    }
}

impl<G: GuestDebug> ThreadExtraInfo for DebugTarget<G> {
    fn thread_extra_info(&self, tid: Tid, buf: &mut [u8]) -> Result<usize, DebugError> {
        let mut w = SliceWriter { buf, len: 0 };
        let _ = self.guest.describe_vcpu(tid.get() - 1, &mut w);
        Ok(w.len)
    }
}

const MONITOR_HELP: &str = "\
monitor commands:
  vcpus      PC, SP and exception level of every vCPU
  s2 <ipa>   stage-2 translation of an intermediate physical address
  irqs       virtual interrupt state
  help       this text
";

impl<G: GuestDebug> MonitorCmd for DebugTarget<G> {
    fn handle_monitor_cmd(&mut self, cmd: &[u8], out: ConsoleOutput<'_>) -> Result<(), DebugError> {
        let mut out = LineOut {
            out,
            buf: [0; 128],
            len: 0,
        };
        let _ = run_monitor(&mut self.guest, cmd, &mut out);
        out.flush();
        Ok(())
    }
}

fn run_monitor(guest: &mut impl GuestDebug, cmd: &[u8], out: &mut dyn fmt::Write) -> fmt::Result {
    let Ok(text) = core::str::from_utf8(cmd) else {
        return writeln!(out, "monitor: not UTF-8");
    };
    let mut words = text.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (None | Some("help"), None, None) => out.write_str(MONITOR_HELP),
        (Some("vcpus"), None, None) => guest.monitor_vcpus(out),
        (Some("irqs"), None, None) => guest.monitor_irqs(out),
        (Some("s2"), Some(ipa), None) => match parse_u64(ipa) {
            Some(ipa) => guest.monitor_s2(ipa, out),
            None => writeln!(out, "s2: bad address {ipa:?}"),
        },
        _ => {
            if guest.monitor_other(text.trim(), out)? {
                Ok(())
            } else {
                writeln!(out, "unknown command {:?}; try `monitor help`", text.trim())
            }
        }
    }
}

/// Hex with or without `0x` (addresses are hex in GDB's world).
fn parse_u64(s: &str) -> Option<u64> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    u64::from_str_radix(digits, 16).ok()
}

/// Batches monitor output into lines: without `alloc`, each write to
/// gdbstub's `ConsoleOutput` is a separate `O` packet.
struct LineOut<'a> {
    out: ConsoleOutput<'a>,
    buf: [u8; 128],
    len: usize,
}

impl LineOut<'_> {
    fn flush(&mut self) {
        if self.len > 0 {
            self.out.write_raw(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl fmt::Write for LineOut<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Where the stub's bytes go: the UART transmitter in the hypervisor, a
/// buffer in tests. Cloned when the state machine is rebuilt, so it should
/// be a handle (a reference, a ZST).
pub trait SerialTx {
    fn write_bytes(&mut self, bytes: &[u8]);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    /// No complete frame kept.
    None,
    Body,
    /// `#` seen; this many checksum digits to go.
    Check(u8),
    Done,
    /// Longer than the buffer: cannot be resent.
    TooLong,
}

/// gdbstub's [`Connection`]: writes through to a [`SerialTx`] and keeps the
/// last `$...#xx` frame (up to `MAX` bytes) to resend on `-`.
pub struct Tx<S, const MAX: usize> {
    sink: S,
    /// Swallow output (replaying negotiation into a rebuilt state machine).
    mute: bool,
    last: [u8; MAX],
    len: usize,
    frame: Frame,
}

impl<S: SerialTx, const MAX: usize> Tx<S, MAX> {
    fn new(sink: S) -> Self {
        Self {
            sink,
            mute: false,
            last: [0; MAX],
            len: 0,
            frame: Frame::None,
        }
    }

    fn record(&mut self, b: u8) {
        if b == b'$' {
            self.len = 0;
            self.frame = Frame::Body;
        }
        match self.frame {
            Frame::None | Frame::Done | Frame::TooLong => return,
            Frame::Body if b == b'#' => self.frame = Frame::Check(2),
            Frame::Body => {}
            Frame::Check(n) => {
                self.frame = if n == 1 {
                    Frame::Done
                } else {
                    Frame::Check(n - 1)
                }
            }
        }
        if self.len == MAX {
            self.frame = Frame::TooLong;
        } else {
            self.last[self.len] = b;
            self.len += 1;
        }
    }

    /// Resends the last complete frame; `false` if there is none.
    fn resend(&mut self) -> bool {
        if self.frame == Frame::Done {
            self.sink.write_bytes(&self.last[..self.len]);
            true
        } else {
            false
        }
    }
}

impl<S: SerialTx, const MAX: usize> Connection for Tx<S, MAX> {
    type Error = Infallible;

    fn write(&mut self, byte: u8) -> Result<(), Infallible> {
        self.write_all(&[byte])
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), Infallible> {
        if self.mute {
            return Ok(());
        }
        self.sink.write_bytes(buf);
        for &b in buf {
            self.record(b);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

type Machine<'a, G, S, const MAX: usize> = GdbStubStateMachine<'a, DebugTarget<G>, Tx<S, MAX>>;

/// The caller's packet buffer, lent again to each new state machine.
struct BufSlot<'a> {
    ptr: *mut u8,
    len: usize,
    _lifetime: PhantomData<&'a mut [u8]>,
}

impl<'a> BufSlot<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Self {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
            _lifetime: PhantomData,
        }
    }

    /// # Safety
    /// At most one lent slice may be alive: call only when the previous one
    /// (moved into a state machine) has been dropped.
    unsafe fn lend(&mut self) -> &'a mut [u8] {
        // SAFETY: `ptr..ptr+len` is the `&'a mut [u8]` given to `new`, which
        // no one else can reach; the caller guarantees the previous loan
        // is gone.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// Counters for `monitor`-style diagnostics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    pub packets: u32,
    pub bad_checksums: u32,
    pub overflows: u32,
    pub naks: u32,
    /// gdbstub gave up on a packet (malformed command and the like) and
    /// the state machine was rebuilt.
    pub protocol_errors: u32,
}

/// What [`GdbSession::console_output`] did with the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleRoute {
    /// No debugger: written as they are.
    Raw,
    /// Written as `O` packets (debugger attached, guest running).
    Wrapped,
    /// Not written: a debugger is attached and the guest is stopped, when
    /// GDB would take an `O` packet for a command reply. Keep or drop them.
    Held,
}

/// The GDB stub on a shared serial line: demultiplexer plus gdbstub state
/// machine. `MAX` is the largest packet payload; the packet buffer passed to
/// [`new`](Self::new) must hold `MAX + 4` bytes (`$`, `#xx`), and
/// `PacketSize` tells GDB exactly that.
pub struct GdbSession<'a, G: GuestDebug, S: SerialTx + Clone, const MAX: usize> {
    demux: Demux<MAX>,
    core: Core<'a, G, S, MAX>,
}

struct Core<'a, G: GuestDebug, S: SerialTx + Clone, const MAX: usize> {
    target: DebugTarget<G>,
    /// `None` while detached (or the buffer is not lent).
    machine: Option<Machine<'a, G, S, MAX>>,
    slot: BufSlot<'a>,
    sink: S,
    attached: bool,
    /// The vCPU named in the last stop reply (Ctrl-C reports it).
    current_vcpu: usize,
    /// The guest ran when the last Ctrl-C arrived.
    was_running: bool,
    /// GDB asked for multiprocess thread ids (`p1.2`) in `qSupported`; a
    /// rebuilt state machine is told again.
    multiprocess: bool,
    /// Just detached: GDB acknowledges the `OK` to `D` with a `+` that is
    /// not console input.
    ack_after_detach: bool,
    stats: SessionStats,
}

impl<'a, G: GuestDebug, S: SerialTx + Clone, const MAX: usize> GdbSession<'a, G, S, MAX> {
    /// # Panics
    /// If `packet_buffer` is shorter than `MAX + 4` (a set-up error).
    pub fn new(guest: G, sink: S, packet_buffer: &'a mut [u8]) -> Self {
        assert!(
            packet_buffer.len() >= MAX + 4,
            "gdb packet buffer: need MAX + 4 bytes"
        );
        let buf = &mut packet_buffer[..MAX + 4];
        Self {
            demux: Demux::new(),
            core: Core {
                target: DebugTarget {
                    guest,
                    plan: ResumePlan::default(),
                },
                machine: None,
                slot: BufSlot::new(buf),
                sink,
                attached: false,
                current_vcpu: 0,
                was_running: false,
                multiprocess: false,
                ack_after_detach: false,
                stats: SessionStats::default(),
            },
        }
    }

    /// Whether a debugger session is open.
    pub fn attached(&self) -> bool {
        self.core.attached
    }

    /// Whether GDB resumed the guest and waits for a stop reply.
    pub fn running(&self) -> bool {
        matches!(self.core.machine, Some(GdbStubStateMachine::Running(_)))
    }

    pub fn stats(&self) -> SessionStats {
        self.core.stats
    }

    pub fn guest(&mut self) -> &mut G {
        &mut self.core.target.guest
    }

    /// Whether bytes are held back as a possible packet: if so and nothing
    /// arrives for a while (say 50 ms), call [`flush_console`](Self::flush_console).
    pub fn pending(&self) -> bool {
        self.demux.pending()
    }

    /// One received byte (the receive interrupt). Console bytes go to
    /// `console`, in order; RSP traffic is answered through the sink.
    pub fn on_byte(&mut self, byte: u8, console: &mut impl FnMut(u8)) {
        if core::mem::take(&mut self.core.ack_after_detach) && byte == b'+' {
            return;
        }
        let attached = self.core.attached;
        for ev in self.demux.push(byte, attached) {
            self.core.handle(ev, console);
        }
    }

    /// Releases bytes held as a possible packet to the console.
    pub fn flush_console(&mut self, console: &mut impl FnMut(u8)) {
        for ev in self.demux.flush() {
            self.core.handle(ev, console);
        }
    }

    /// The guest stopped on its own (breakpoint, step, watchpoint) on
    /// `vcpu`: stops the other vCPUs and tells GDB. Returns `false` (and
    /// does nothing) if GDB is not waiting for a stop.
    pub fn report_stop(&mut self, vcpu: usize, cause: StopCause) -> bool {
        self.core.report_stop(vcpu, cause)
    }

    /// Guest (or hypervisor) console output, routed as [`ConsoleRoute`] says.
    pub fn console_output(&mut self, bytes: &[u8]) -> ConsoleRoute {
        self.core.console_output(bytes)
    }
}

impl<'a, G: GuestDebug, S: SerialTx + Clone, const MAX: usize> Core<'a, G, S, MAX> {
    fn handle(&mut self, ev: Event<'_>, console: &mut impl FnMut(u8)) {
        match ev {
            Event::Console(b) => console(b),
            Event::Packet(p) => self.packet(p),
            Event::BadChecksum => {
                self.stats.bad_checksums += 1;
                self.sink.write_bytes(b"-");
            }
            Event::Ack => {}
            Event::Nak => {
                self.stats.naks += 1;
                if let Some(m) = self.machine.as_mut() {
                    conn(m).resend();
                }
            }
            Event::Interrupt => {
                if let Some(m) = self.machine.take() {
                    self.was_running = matches!(m, GdbStubStateMachine::Running(_));
                    self.machine = self.pump(m, 0x03);
                    self.settle();
                }
            }
            Event::Overflow => self.stats.overflows += 1,
        }
    }

    /// A fresh state machine over the lent packet buffer.
    fn start(&mut self) -> Option<Machine<'a, G, S, MAX>> {
        debug_assert!(self.machine.is_none());
        // SAFETY: `self.machine` is `None`, and every state machine lives
        // only there (or on the stack of a method that puts it back or drops
        // it before calling `start`), so the previous loan has been dropped.
        let buf = unsafe { self.slot.lend() };
        let stub = GdbStubBuilder::new(Tx::new(self.sink.clone()))
            .with_packet_buffer(buf)
            .build()
            .ok()?;
        // Fails only without software-breakpoint support, which we have.
        stub.run_state_machine(&mut self.target).ok()
    }

    fn packet(&mut self, payload: &[u8]) {
        self.stats.packets += 1;
        if payload.starts_with(b"qSupported") {
            self.multiprocess = payload.windows(13).any(|w| w == b"multiprocess+");
        }
        let mut m = match self.machine.take() {
            Some(m) => m,
            None => {
                let Some(m) = self.start() else { return };
                if !self.attached {
                    self.target.guest.attach();
                }
                m
            }
        };
        let sum = checksum(payload);
        let frame = core::iter::once(b'$')
            .chain(payload.iter().copied())
            .chain([b'#', hex_digit(sum >> 4), hex_digit(sum)]);
        for b in frame {
            match self.pump(m, b) {
                Some(next) => m = next,
                None => {
                    self.settle();
                    return;
                }
            }
        }
        self.attached = true;
        self.machine = Some(m);
        self.settle();
    }

    /// Feeds one byte; `None` if gdbstub failed (the machine is gone and a
    /// fresh one is installed) or a disconnect dropped it.
    fn pump(&mut self, m: Machine<'a, G, S, MAX>, b: u8) -> Option<Machine<'a, G, S, MAX>> {
        let r = match m {
            GdbStubStateMachine::Idle(s) => s.incoming_data(&mut self.target, b),
            GdbStubStateMachine::Running(s) => s.incoming_data(&mut self.target, b),
            // `settle` runs after every packet and interrupt, so these
            // states never wait for input.
            other => return Some(other),
        };
        match r {
            Ok(m) => Some(m),
            Err(_) => {
                self.protocol_error();
                // GDB has had its `+` and waits for an answer: EINVAL.
                if let Some(m) = self.machine.as_mut() {
                    let _ = conn(m).write_all(b"$E16#ac");
                }
                None
            }
        }
    }

    /// gdbstub gave up; its state machine (and the loan) is gone. Stop the
    /// guest and start over, still attached: GDB's next command works.
    fn protocol_error(&mut self) {
        self.stats.protocol_errors += 1;
        self.machine = None;
        self.target.guest.stop_all();
        self.machine = self.start();
        if self.multiprocess {
            self.replay(b"qSupported:multiprocess+");
        }
        self.attached = self.machine.is_some();
    }

    /// Feeds a packet with the reply muted.
    fn replay(&mut self, payload: &[u8]) {
        let Some(mut m) = self.machine.take() else {
            return;
        };
        conn(&mut m).mute = true;
        let sum = checksum(payload);
        let frame = core::iter::once(b'$')
            .chain(payload.iter().copied())
            .chain([b'#', hex_digit(sum >> 4), hex_digit(sum)]);
        for b in frame {
            m = match m {
                GdbStubStateMachine::Idle(s) => match s.incoming_data(&mut self.target, b) {
                    Ok(m) => m,
                    Err(_) => return,
                },
                other => other,
            };
        }
        conn(&mut m).mute = false;
        self.machine = Some(m);
    }

    /// Acts on a state that needs it: Ctrl-C and disconnects.
    fn settle(&mut self) {
        match self.machine.take() {
            Some(GdbStubStateMachine::CtrlCInterrupt(s)) => {
                self.target.guest.stop_all();
                // Stopped already (a Ctrl-C racing a stop reply): no second
                // reply. gdbstub would defer one to the next resume and
                // report it at once, with the guest resumed behind GDB's back.
                let reason = self
                    .was_running
                    .then_some(MultiThreadStopReason::SignalWithThread {
                        tid: tid_of(self.current_vcpu),
                        signal: Signal::SIGINT,
                    });
                match s.interrupt_handled(&mut self.target, reason) {
                    Ok(m) => self.machine = Some(m),
                    Err(_) => self.protocol_error(),
                }
            }
            Some(GdbStubStateMachine::Disconnected(s)) => {
                let killed = matches!(s.get_reason(), gdbstub::stub::DisconnectReason::Kill);
                drop(s);
                self.target.guest.detach(killed);
                self.attached = false;
                self.ack_after_detach = true;
            }
            other => self.machine = other,
        }
    }

    fn report_stop(&mut self, vcpu: usize, cause: StopCause) -> bool {
        let s = match self.machine.take() {
            Some(GdbStubStateMachine::Running(s)) => s,
            other => {
                self.machine = other;
                return false;
            }
        };
        self.target.guest.stop_all();
        self.current_vcpu = vcpu;
        let tid = tid_of(vcpu);
        let reason = match cause {
            StopCause::Step => MultiThreadStopReason::SignalWithThread {
                tid,
                signal: Signal::SIGTRAP,
            },
            StopCause::SwBreak => MultiThreadStopReason::SwBreak(tid),
            StopCause::HwBreak => MultiThreadStopReason::HwBreak(tid),
            StopCause::Watch { kind, addr } => MultiThreadStopReason::Watch { tid, kind, addr },
            StopCause::Signal(n) => MultiThreadStopReason::SignalWithThread {
                tid,
                signal: Signal(n),
            },
            StopCause::PoweredOff => MultiThreadStopReason::Exited(0),
        };
        match s.report_stop(&mut self.target, reason) {
            Ok(m) => {
                self.machine = Some(m);
                self.settle();
            }
            Err(_) => self.protocol_error(),
        }
        true
    }

    fn console_output(&mut self, bytes: &[u8]) -> ConsoleRoute {
        if !self.attached {
            self.sink.write_bytes(bytes);
            return ConsoleRoute::Raw;
        }
        match self.machine.as_mut() {
            Some(m @ GdbStubStateMachine::Running(_)) => {
                // Through the connection, so a `-` resends the last chunk.
                let tx = conn(m);
                let mut chunk = [0u8; 64];
                let mut n = 0;
                encode_console_output(bytes, &mut |b| {
                    chunk[n] = b;
                    n += 1;
                    if n == chunk.len() {
                        let _ = tx.write_all(&chunk);
                        n = 0;
                    }
                });
                let _ = tx.write_all(&chunk[..n]);
                ConsoleRoute::Wrapped
            }
            _ => ConsoleRoute::Held,
        }
    }
}

fn conn<'m, 'a, G: GuestDebug, S: SerialTx + Clone, const MAX: usize>(
    m: &'m mut Machine<'a, G, S, MAX>,
) -> &'m mut Tx<S, MAX> {
    match m {
        GdbStubStateMachine::Idle(s) => s.borrow_conn(),
        GdbStubStateMachine::Running(s) => s.borrow_conn(),
        GdbStubStateMachine::CtrlCInterrupt(s) => s.borrow_conn(),
        GdbStubStateMachine::Disconnected(s) => s.borrow_conn(),
    }
}

#[cfg(test)]
mod tests;
