//! The resident GDB stub: `gdb_remote`'s session on the console UART,
//! fed byte by byte from the receive interrupt (or, while every vCPU is
//! stopped, by the CPU that owns the UART polling it).
//!
//! - [`receive`]: UART input through the shared demultiplexer: RSP traffic
//!   to the stub, the rest to the guest's console.
//! - [`output`]: console output, wrapped in `O` packets while attached.
//! - [`control`]: all-stop run control, debug hardware, guest time.
//! - [`target`]: GDB's view of the VM (registers, memory, breakpoints).
//! - [`exit`]: debug exceptions from the guest (breakpoint, watchpoint,
//!   step, BRK), taken to EL2 while a debugger is attached.

pub mod control;
pub mod output;
mod target;

use crate::vm::Vm;
use alloc::boxed::Box;
use alloc::vec;
use arch_hal::debug::ec;
use arch_hal::exception::TrapFrame;
use arch_hal::irq_mutex::IrqMutex;
use gdb_remote::{GdbSession, SerialTx, StopCause};
use target::HypDebug;

/// Largest RSP payload; GDB learns it from `PacketSize`. Large enough for a
/// `g` reply (all core and FP registers, ~1.1 KiB of hex) with room left.
const PACKET_MAX: usize = 4096;

/// The CPU that takes the console UART's receive interrupt (main.rs routes
/// the SPI to CPU 0) and polls the UART while stopped.
pub const UART_CPU: usize = 0;

/// The stub's transmitter: straight to the UART.
#[derive(Clone, Copy)]
pub struct UartTx;

impl SerialTx for UartTx {
    fn write_bytes(&mut self, bytes: &[u8]) {
        crate::console::write_raw(bytes);
    }
}

pub type Session = GdbSession<'static, HypDebug, UartTx, PACKET_MAX>;

struct Slot(Option<Session>);

// SAFETY: the session's only non-Send part is the pointer to its packet
// buffer, a leaked heap allocation (`init`) reachable through the session
// alone, which the lock serialises.
unsafe impl Send for Slot {}

static SESSION: IrqMutex<Slot> = IrqMutex::new(Slot(None));

/// Creates the stub (after the VM exists, before any vCPU runs).
pub fn init(vm: &'static Vm) {
    control::init();
    let buffer: &'static mut [u8] = Box::leak(vec![0u8; PACKET_MAX + 4].into_boxed_slice());
    let session = GdbSession::new(HypDebug::new(vm), UartTx, buffer);
    SESSION.lock().0 = Some(session);
}

/// Runs `f` on the session, then sends output queued meanwhile.
fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    let mut slot = SESSION.lock();
    let s = slot.0.as_mut()?;
    let r = f(s);
    settle(s);
    Some(r)
}

/// As [`with_session`], but `None` at once if another CPU holds it.
fn try_with_session<R>(f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    let mut slot = SESSION.try_lock()?;
    let s = slot.0.as_mut()?;
    let r = f(s);
    settle(s);
    Some(r)
}

fn settle(s: &mut Session) {
    output::set_routed(s.attached());
    output::drain_into(s);
}

/// Reads what the UART has received while `room()` says the console can
/// take more (always while the guest is stopped: GDB must be served):
/// GDB's traffic goes to the stub, everything else to `console`, in order.
pub fn receive(room: &impl Fn() -> bool, console: &mut impl FnMut(u8)) {
    let me = arch_hal::el2::cpu_index();
    let more = || control::stop_requested() || room();
    let served = with_session(|s| {
        while more() {
            let Some(b) = crate::console::read_byte() else {
                break;
            };
            s.on_byte(b, console);
            // A stop was just requested: this CPU must park before GDB's
            // next command can read its registers, so leave the rest of
            // the input in the UART until then.
            if control::stop_requested() && !control::is_parked(me) {
                break;
            }
        }
    });
    if served.is_none() {
        while more() {
            let Some(b) = crate::console::read_byte() else {
                break;
            };
            console(b);
        }
    }
}

/// Whether this exit class is a debug exception (ESR_EL2.EC).
pub fn is_debug_exit(class: u64) -> bool {
    matches!(
        class,
        ec::BRK64 | ec::BREAKPOINT_LOWER | ec::SOFTWARE_STEP_LOWER | ec::WATCHPOINT_LOWER
    )
}

/// A debug exception from the guest on `vcpu`: report it to GDB (which
/// stops every vCPU), or hand a guest's own `BRK` back to the guest.
pub fn exit(vcpu: usize, frame: &mut TrapFrame) {
    let class = (frame.esr >> 26) & 0x3f;
    let cause = match class {
        ec::BRK64 => return brk(vcpu, frame),
        ec::BREAKPOINT_LOWER => StopCause::HwBreak,
        ec::SOFTWARE_STEP_LOWER => StopCause::Step,
        ec::WATCHPOINT_LOWER => {
            let far = frame.far;
            let hit = control::DEBUG_REGS.lock().watchpoints.find(far);
            match hit {
                Some(w) => StopCause::Watch {
                    kind: target::watch_kind_of(w.kind),
                    addr: w.addr,
                },
                None => StopCause::Watch {
                    kind: gdb_remote::WatchKind::Write,
                    addr: far,
                },
            }
        }
        _ => return,
    };
    report(vcpu, cause);
}

/// `vcpu` finished a single step by an instruction the hypervisor
/// emulated (MMIO, HVC...), which raises no step exception.
pub fn emulated_step_done(vcpu: usize) {
    report(vcpu, StopCause::Step);
}

fn report(vcpu: usize, cause: StopCause) {
    control::end_step(vcpu);
    loop {
        if try_with_session(|s| s.report_stop(vcpu, cause)).is_some() {
            return;
        }
        // Someone else is stopping the guest: this event is dropped; a
        // breakpoint or watchpoint fires again when the guest resumes.
        if control::stop_requested() {
            return;
        }
        core::hint::spin_loop();
    }
}

/// A BRK from the guest: GDB's (report it) or the guest's own (reflect
/// it). Only the session knows GDB's breakpoints; if it is busy and a stop
/// is requested meanwhile, nothing is done: the BRK runs again after the
/// resume and is judged then.
fn brk(vcpu: usize, frame: &mut TrapFrame) {
    let pa = arch_hal::el2::guest_va_to_pa(frame.elr);
    loop {
        if let Some(ours) = try_with_session(|s| s.guest().is_our_break(frame.elr, pa)) {
            return if ours {
                report(vcpu, StopCause::SwBreak)
            } else {
                reflect_brk(frame)
            };
        }
        if control::stop_requested() {
            return;
        }
        core::hint::spin_loop();
    }
}

/// The guest's own BRK (Linux uses them for BUG/WARN and kprobes): taken to
/// EL2 only because a debugger is attached; deliver it to EL1 as the
/// hardware would have, with the same syndrome.
fn reflect_brk(frame: &mut TrapFrame) {
    let esr = frame.esr;
    arch_hal::el2::inject_sync(frame, esr, 0);
}
