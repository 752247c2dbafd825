//! Run control for the debugger, all-stop: every vCPU stops together and
//! each one parks in EL2 with its registers saved where any CPU can read
//! them.
//!
//! - [`request_stop`] raises `STOP` and kicks the other CPUs (an SGI makes
//!   the guest exit). Each CPU, at the end of whatever exit it is handling,
//!   sees `STOP` in [`before_entry`] and [`park`]s.
//! - A parked CPU saves its trap frame, EL1 registers and FP/SIMD registers
//!   into its [`Snapshot`] and spins until resumed. The CPU that owns the
//!   console UART keeps polling it meanwhile, so GDB's commands are served.
//! - [`resume`] sets each vCPU's mode (continue, step, stay) and clears
//!   `STOP`; the parked CPUs load their (possibly edited) snapshot back.
//!
//! Nothing here waits while holding the session lock except
//! [`wait_parked`], and a CPU never needs the session lock to park.

use crate::vm::{Vm, MAX_VCPUS};
use arch_hal::debug::{self as hw, El1State, FpState};
use arch_hal::exception::TrapFrame;
use arch_hal::irq_mutex::IrqMutex;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use gdb_remote::ResumeMode;
use hyp_core::debug_tables::{HwSlots, StopClock};
use hyp_core::psci_guest::VcpuPower;

/// A stopped vCPU's registers.
#[derive(Clone, Default)]
pub struct Snapshot {
    pub frame: TrapFrame,
    pub el1: El1State,
    pub fp: FpState,
}

const STAY: u8 = 0;
const CONTINUE: u8 = 1;
const STEP: u8 = 2;

/// All-stop requested and not yet resumed.
static STOP: AtomicBool = AtomicBool::new(false);
/// A debugger is attached: debug exceptions go to EL2.
static DEBUGGING: AtomicBool = AtomicBool::new(false);
static PARKED: [AtomicBool; MAX_VCPUS] = [const { AtomicBool::new(false) }; MAX_VCPUS];
static MODE: [AtomicU8; MAX_VCPUS] = [const { AtomicU8::new(CONTINUE) }; MAX_VCPUS];
static SNAPSHOTS: [IrqMutex<Option<Snapshot>>; MAX_VCPUS] =
    [const { IrqMutex::new(None) }; MAX_VCPUS];
static CLOCK: IrqMutex<StopClock> = IrqMutex::new(StopClock::new());

/// The hardware breakpoint and watchpoint registers every CPU loads. A
/// generation number (also bumped by every resume, for CNTVOFF) makes each
/// CPU reload its debug state once after a change, not on every exit.
pub struct DebugRegs {
    pub breakpoints: HwSlots,
    pub watchpoints: HwSlots,
}

pub static DEBUG_REGS: IrqMutex<DebugRegs> = IrqMutex::new(DebugRegs {
    breakpoints: HwSlots::new(0),
    watchpoints: HwSlots::new(0),
});
static REGS_GEN: AtomicU32 = AtomicU32::new(0);

/// What each CPU last applied (only that CPU writes its entry).
struct CpuDebug {
    regs_gen: AtomicU32,
    trapping: AtomicBool,
    stepping: AtomicBool,
    /// The guest's own MDSCR_EL1 while we own the register (its accesses
    /// trap, MDCR_EL2.TDA, and see this value).
    guest_mdscr: AtomicU64,
}

static CPU: [CpuDebug; MAX_VCPUS] = [const {
    CpuDebug {
        regs_gen: AtomicU32::new(0),
        trapping: AtomicBool::new(false),
        stepping: AtomicBool::new(false),
        guest_mdscr: AtomicU64::new(0),
    }
}; MAX_VCPUS];

/// Sizes the slot tables from ID_AA64DFR0_EL1 (boot CPU, before the guest).
pub fn init() {
    let (brps, wrps) = hw::debug_slots(hw::id_aa64dfr0());
    let mut r = DEBUG_REGS.lock();
    r.breakpoints = HwSlots::new(brps);
    r.watchpoints = HwSlots::new(wrps);
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::Acquire)
}

pub fn is_parked(vcpu: usize) -> bool {
    PARKED.get(vcpu).is_some_and(|p| p.load(Ordering::Acquire))
}

pub fn stepping(vcpu: usize) -> bool {
    CPU.get(vcpu)
        .is_some_and(|c| c.stepping.load(Ordering::Relaxed))
}

pub fn set_debugging(on: bool) {
    DEBUGGING.store(on, Ordering::Release);
    REGS_GEN.fetch_add(1, Ordering::AcqRel);
}

/// The breakpoint/watchpoint tables changed: every CPU reloads them before
/// it next enters the guest.
pub fn regs_changed() {
    REGS_GEN.fetch_add(1, Ordering::AcqRel);
}

/// Asks every vCPU to stop (idempotent); does not wait.
pub fn request_stop(vm: &Vm) {
    if STOP.swap(true, Ordering::AcqRel) {
        return;
    }
    CLOCK.lock().stop(hw::counter());
    let me = arch_hal::el2::cpu_index();
    let mask = (0..vm.vcpus)
        .filter(|&v| v != me && vm.power(v) == VcpuPower::On)
        .fold(0u32, |m, v| m | (1 << v));
    crate::vm::irq::kick_mask(vm, me, mask);
}

/// Resumes: `mode(v)` says what vCPU `v` does (`None`: stays stopped).
pub fn resume(mode: impl Fn(usize) -> Option<ResumeMode>) {
    for (v, m) in MODE.iter().enumerate() {
        let value = match mode(v) {
            Some(ResumeMode::Step) => STEP,
            Some(ResumeMode::Continue) => CONTINUE,
            None => STAY,
        };
        m.store(value, Ordering::Release);
    }
    CLOCK.lock().resume(hw::counter());
    // Every CPU picks up the new CNTVOFF before it runs the guest again.
    REGS_GEN.fetch_add(1, Ordering::AcqRel);
    STOP.store(false, Ordering::Release);
}

/// Waits (bounded) until `vcpu` has parked. `false`: it is off, or did not
/// park within the deadline.
pub fn wait_parked(vm: &Vm, vcpu: usize) -> bool {
    if vcpu >= vm.vcpus {
        return false;
    }
    // Our own vCPU parks only after this exit: waiting would be in vain.
    if vcpu == arch_hal::el2::cpu_index() && !is_parked(vcpu) {
        return false;
    }
    let freq = hw::counter_frequency().max(1);
    let start = hw::counter();
    loop {
        if is_parked(vcpu) {
            return true;
        }
        if vm.power(vcpu) != VcpuPower::On {
            return false;
        }
        // 500 ms: a vCPU that does not answer a kick in that long is stuck
        // in a way the debugger cannot help with.
        if hw::counter().wrapping_sub(start) > freq / 2 {
            log::warn!("debug: vCPU {vcpu} did not stop");
            return false;
        }
        core::hint::spin_loop();
    }
}

/// Runs `f` on a parked vCPU's snapshot.
pub fn with_snapshot<R>(vcpu: usize, f: impl FnOnce(&mut Snapshot) -> R) -> Option<R> {
    let mut s = SNAPSHOTS.get(vcpu)?.lock();
    s.as_mut().map(f)
}

/// Called at the end of every exit, before the guest runs again: parks if
/// a stop is pending, then applies the debug state (breakpoints, single
/// step, trapping, guest time).
pub fn before_entry(vm: &Vm, vcpu: usize, frame: &mut TrapFrame) {
    if stop_requested() || MODE[vcpu].load(Ordering::Acquire) == STAY {
        park(vm, vcpu, frame);
    }
    apply(vcpu, frame);
}

fn park(vm: &Vm, vcpu: usize, frame: &mut TrapFrame) {
    let mut snap = Snapshot {
        frame: frame.clone(),
        el1: El1State::save(),
        ..Default::default()
    };
    snap.fp.save();
    if CPU[vcpu].trapping.load(Ordering::Relaxed) {
        // While we own MDSCR_EL1 the guest's value is the shadow.
        snap.el1.mdscr_el1 = CPU[vcpu].guest_mdscr.load(Ordering::Relaxed);
    }
    *SNAPSHOTS[vcpu].lock() = Some(snap);
    PARKED[vcpu].store(true, Ordering::Release);
    let polls_uart = vcpu == super::UART_CPU;
    loop {
        if polls_uart {
            crate::vm::irq::receive_console(vm);
            super::output::drain();
        }
        if !stop_requested() && MODE[vcpu].load(Ordering::Acquire) != STAY {
            break;
        }
        core::hint::spin_loop();
    }
    if let Some(snap) = SNAPSHOTS[vcpu].lock().take() {
        *frame = snap.frame;
        snap.el1.restore_writable();
        snap.fp.restore();
    }
    PARKED[vcpu].store(false, Ordering::Release);
}

/// Brings this CPU's debug hardware in line with the debugger's state.
fn apply(vcpu: usize, frame: &mut TrapFrame) {
    let cpu = &CPU[vcpu];
    let debugging = DEBUGGING.load(Ordering::Acquire);
    if debugging != cpu.trapping.load(Ordering::Relaxed) {
        if debugging {
            cpu.guest_mdscr.store(hw::mdscr(), Ordering::Relaxed);
        } else {
            hw::set_mdscr(cpu.guest_mdscr.load(Ordering::Relaxed));
        }
        hw::set_trap_debug(debugging);
        cpu.trapping.store(debugging, Ordering::Relaxed);
    }
    let gen = REGS_GEN.load(Ordering::Acquire);
    if cpu.regs_gen.swap(gen, Ordering::AcqRel) != gen {
        let r = DEBUG_REGS.lock();
        for (i, regs) in r.breakpoints.registers() {
            let (v, c) = regs.filter(|_| debugging).unwrap_or((0, 0));
            hw::set_breakpoint(i, v, c);
        }
        for (i, regs) in r.watchpoints.registers() {
            let (v, c) = regs.filter(|_| debugging).unwrap_or((0, 0));
            hw::set_watchpoint(i, v, c);
        }
        hw::set_cntvoff(CLOCK.lock().offset());
    }
    let step = debugging && MODE[vcpu].load(Ordering::Acquire) == STEP;
    if debugging {
        let ss = if step { hw::mdscr::SS } else { 0 };
        hw::set_mdscr(hw::mdscr::MDE | ss);
    }
    if step {
        frame.spsr |= hw::SPSR_SS;
    } else {
        frame.spsr &= !hw::SPSR_SS;
    }
    cpu.stepping.store(step, Ordering::Relaxed);
}

/// A step finished or a stop was reported for this vCPU: it runs normally
/// again unless GDB says otherwise at the next resume.
pub fn end_step(vcpu: usize) {
    if let Some(m) = MODE.get(vcpu) {
        if m.load(Ordering::Acquire) == STEP {
            m.store(CONTINUE, Ordering::Release);
        }
    }
}

/// The guest read or wrote a debug register (op0 = 2) while we own them:
/// MDSCR_EL1 is shadowed, the rest read as zero and ignore writes, so the
/// guest's own debug use cannot disturb the debugger's. Returns the value
/// for a read.
pub fn guest_debug_sysreg(vcpu: usize, is_mdscr: bool, write: Option<u64>) -> u64 {
    let cpu = &CPU[vcpu];
    match (is_mdscr, write) {
        (true, Some(v)) => {
            cpu.guest_mdscr.store(v, Ordering::Relaxed);
            0
        }
        (true, None) => cpu.guest_mdscr.load(Ordering::Relaxed),
        (false, _) => 0,
    }
}
