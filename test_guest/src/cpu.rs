//! Per-CPU basics: the CPU index, the virtual counter, interrupt masking.

use aarch64_cpu::registers::{
    Readable, Writeable, CNTFRQ_EL0, CNTVCT_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0, TPIDR_EL1,
};

/// At most this many vCPUs take part (link.ld reserves their stacks).
pub const MAX_CPUS: usize = 8;

/// This CPU's index (0 = the boot CPU), set by `start.rs`.
pub fn index() -> usize {
    (TPIDR_EL1.get() as usize).min(MAX_CPUS - 1)
}

/// CNTVCT_EL0 after an ISB, so the read is not hoisted above the code being
/// timed (Arm ARM D12.2.2: counter reads may be speculated).
pub fn now() -> u64 {
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    CNTVCT_EL0.get()
}

pub fn counter_hz() -> u64 {
    CNTFRQ_EL0.get().max(1)
}

/// Counter ticks as nanoseconds.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    (u128::from(ticks) * 1_000_000_000 / u128::from(counter_hz())) as u64
}

/// Arms the virtual timer (PPI 27) to fire at counter value `at`.
pub fn arm_vtimer(at: u64) {
    CNTV_CVAL_EL0.set(at);
    CNTV_CTL_EL0.set(1);
}

pub fn disarm_vtimer() {
    CNTV_CTL_EL0.set(0);
}

pub fn irqs_on() {
    // SAFETY: unmasking IRQs; the vectors and GIC are set up before any
    // caller does this.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nomem, nostack)) };
}

pub fn irqs_off() {
    // SAFETY: masking IRQs has no memory effects.
    unsafe { core::arch::asm!("msr daifset, #2", options(nomem, nostack)) };
}
