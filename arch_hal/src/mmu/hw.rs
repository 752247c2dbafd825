//! Turning the EL2 MMU on.

use super::{attr, Table};

/// SCTLR_EL2 (non-VHE, Arm ARM D19.2.118): the RES1 bits, plus M (MMU), C
/// (data cache), SA (stack alignment check) and I (instruction cache).
const SCTLR_EL2_ON: u64 = 0x30C5_0830 | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 12);

/// Loads MAIR/TCR/TTBR0 for EL2 and enables the MMU and caches.
///
/// # Safety
/// `l1` must be a complete identity map that covers the code, stack and data
/// in use, written with the caches off or cleaned to the point of coherency
/// (the table walker may read memory directly), and this CPU's EL2 MMU must be
/// off.
pub unsafe fn enable_el2(l1: &Table, tcr: u64) {
    // SAFETY: forwarded contract.
    unsafe { enable_el2_at(l1 as *const Table as u64, tcr) }
}

/// As [`enable_el2`], with the table given by its physical address (for
/// secondary CPUs, which share the boot CPU's map).
///
/// # Safety
/// As for [`enable_el2`].
pub unsafe fn enable_el2_at(ttbr: u64, tcr: u64) {
    // SAFETY: per the function contract; the sequence follows Arm ARM D8.14
    // (ordering of table writes, TLB invalidation and SCTLR writes).
    unsafe {
        core::arch::asm!(
            "dsb sy",
            "msr mair_el2, {mair}",
            "msr tcr_el2, {tcr}",
            "msr ttbr0_el2, {ttbr}",
            "isb",
            "tlbi alle2",
            "dsb sy",
            "isb",
            "msr sctlr_el2, {sctlr}",
            "isb",
            "ic iallu",
            "dsb sy",
            "isb",
            mair = in(reg) attr::MAIR,
            tcr = in(reg) tcr,
            ttbr = in(reg) ttbr,
            sctlr = in(reg) SCTLR_EL2_ON,
            options(nostack)
        );
    }
}
