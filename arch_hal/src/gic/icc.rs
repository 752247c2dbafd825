//! The physical CPU interface's system registers at EL2 (IHI 0069H §12.2).
//! aarch64-cpu 11 lacks the ICC_* registers, so they are accessed here by
//! name. Each access is a single MRS/MSR with no memory effect.

macro_rules! sysreg_rw {
    ($read:ident, $write:ident, $name:literal) => {
        #[inline]
        pub fn $read() -> u64 {
            let v: u64;
            // SAFETY: reading a GIC system register has no side effect
            // beyond those the GIC architecture defines for that register.
            unsafe { core::arch::asm!(concat!("mrs {}, ", $name), out(reg) v, options(nomem, nostack)) };
            v
        }
        #[inline]
        pub fn $write(v: u64) {
            // SAFETY: the callers in this crate write values valid for the
            // register per IHI 0069H; an ISB follows where ordering matters.
            unsafe { core::arch::asm!(concat!("msr ", $name, ", {}"), in(reg) v, options(nostack)) };
        }
    };
}

sysreg_rw!(sre_el2, set_sre_el2, "icc_sre_el2");
sysreg_rw!(pmr, set_pmr, "icc_pmr_el1");
sysreg_rw!(ctlr, set_ctlr, "icc_ctlr_el1");
sysreg_rw!(igrpen1, set_igrpen1, "icc_igrpen1_el1");
sysreg_rw!(bpr1, set_bpr1, "icc_bpr1_el1");

/// Acknowledges the highest-priority pending Group 1 interrupt.
#[inline]
pub fn ack() -> u32 {
    let v: u64;
    // SAFETY: reading IAR1 acknowledges an interrupt; callers must EOI it.
    unsafe { core::arch::asm!("mrs {}, icc_iar1_el1", out(reg) v, options(nomem, nostack)) };
    v as u32
}

/// Priority drop (and, with EOImode 0, deactivation) of `intid`.
#[inline]
pub fn eoi(intid: u32) {
    // SAFETY: ends the interrupt this CPU acknowledged.
    unsafe {
        core::arch::asm!("msr icc_eoir1_el1, {}", "isb", in(reg) intid as u64, options(nostack))
    };
}

/// Deactivates `intid` (EOImode 1 splits priority drop from deactivation).
#[inline]
pub fn deactivate(intid: u32) {
    // SAFETY: deactivates an interrupt whose priority this CPU dropped.
    unsafe {
        core::arch::asm!("msr icc_dir_el1, {}", "isb", in(reg) intid as u64, options(nostack))
    };
}

/// Sends an SGI (value from `regs::sgi1r`).
#[inline]
pub fn send_sgi(value: u64) {
    // SAFETY: generating an SGI only signals other CPUs.
    unsafe {
        core::arch::asm!("dsb ishst", "msr icc_sgi1r_el1, {}", "isb", in(reg) value, options(nostack))
    };
}

/// Enables system-register access to this CPU's interface at EL2 and lets
/// EL1 use system registers too (ICC_SRE_EL2.SRE, .Enable), masks nothing by
/// priority, and selects EOImode 1 so that an interrupt forwarded to the
/// guest through a hardware-linked list register stays active until the
/// guest deactivates it (IHI 0069H §4.1.1, §12.2.9).
pub fn init_cpu_interface() {
    set_sre_el2(sre_el2() | 0b1001);
    // SAFETY: barrier only; makes the SRE change visible (§12.2.13).
    unsafe { core::arch::asm!("isb", options(nomem, nostack)) };
    set_pmr(0xff);
    set_bpr1(0);
    set_ctlr(ctlr() | (1 << 1));
    set_igrpen1(1);
    // SAFETY: barrier only.
    unsafe { core::arch::asm!("isb", options(nomem, nostack)) };
}
