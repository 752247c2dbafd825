//! Exceptions taken to the test guest's EL1: SVC (the benchmark floor),
//! aborts a probe expects, and IRQs. Anything else is a failure: one line
//! and power off.

use crate::{cpu, gic, println, smccc};
use aarch64_cpu::registers::{Readable, ESR_EL1, FAR_EL1};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What `start.rs` saves on exception entry.
#[repr(C)]
pub struct Frame {
    pub x: [u64; 31],
    pub elr: u64,
    pub spsr: u64,
    _pad: u64,
}

// ESR_EL1.EC values (Arm ARM D17.2.37).
const EC_UNKNOWN: u64 = 0x00;
const EC_SVC64: u64 = 0x15;
const EC_IABT_SAME: u64 = 0x21;
const EC_DABT_SAME: u64 = 0x25;

/// Vector indices (entry offset / 0x80) for the current EL with SP_ELx.
const VEC_SYNC: u64 = 4;
const VEC_IRQ: u64 = 5;

/// A fault a probe caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub esr: u64,
    pub far: u64,
}

impl Fault {
    pub fn ec(&self) -> u64 {
        self.esr >> 26
    }
}

static EXPECTING: [AtomicBool; cpu::MAX_CPUS] = [const { AtomicBool::new(false) }; cpu::MAX_CPUS];
static FAULT_ESR: [AtomicU64; cpu::MAX_CPUS] = [const { AtomicU64::new(0) }; cpu::MAX_CPUS];
static FAULT_FAR: [AtomicU64; cpu::MAX_CPUS] = [const { AtomicU64::new(0) }; cpu::MAX_CPUS];
static FAULTED: [AtomicBool; cpu::MAX_CPUS] = [const { AtomicBool::new(false) }; cpu::MAX_CPUS];

/// Runs `f`, which may fault on exactly one instruction: a data abort or
/// undefined instruction skips it, an instruction abort returns to the
/// caller through x30 (see `probe_exec`).
pub fn probe<T>(f: impl FnOnce() -> T) -> Result<T, Fault> {
    let i = cpu::index();
    FAULTED[i].store(false, Ordering::SeqCst);
    EXPECTING[i].store(true, Ordering::SeqCst);
    let v = f();
    EXPECTING[i].store(false, Ordering::SeqCst);
    if FAULTED[i].load(Ordering::SeqCst) {
        Err(Fault {
            esr: FAULT_ESR[i].load(Ordering::SeqCst),
            far: FAULT_FAR[i].load(Ordering::SeqCst),
        })
    } else {
        Ok(v)
    }
}

#[no_mangle]
extern "C" fn trap_entry(frame: &mut Frame, vector: u64) {
    match vector {
        VEC_SYNC => sync(frame),
        VEC_IRQ => gic::handle_irq(),
        _ => fatal(frame, "unexpected exception vector", vector),
    }
}

fn sync(frame: &mut Frame) {
    let esr = ESR_EL1.get();
    let ec = esr >> 26;
    if ec == EC_SVC64 {
        return; // ELR already points past the SVC.
    }
    let i = cpu::index();
    if EXPECTING[i].load(Ordering::SeqCst) && matches!(ec, EC_DABT_SAME | EC_IABT_SAME | EC_UNKNOWN)
    {
        FAULT_ESR[i].store(esr, Ordering::SeqCst);
        FAULT_FAR[i].store(FAR_EL1.get(), Ordering::SeqCst);
        FAULTED[i].store(true, Ordering::SeqCst);
        if ec == EC_IABT_SAME {
            // The fetch faulted at the branch target: return to the caller.
            frame.elr = frame.x[30];
        } else {
            frame.elr += 4;
        }
        return;
    }
    fatal(frame, "unexpected synchronous exception", esr);
}

fn fatal(frame: &Frame, what: &str, value: u64) -> ! {
    println!(
        "test-guest: FAIL: {what} {value:#x} on CPU {} (ESR {:#x}, ELR {:#x}, FAR {:#x})",
        cpu::index(),
        ESR_EL1.get(),
        frame.elr,
        FAR_EL1.get()
    );
    smccc::system_off()
}
