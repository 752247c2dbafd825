//! Cache maintenance by virtual address (Arm ARM D7.5.9).

/// Smallest D-cache line of this CPU, from CTR_EL0.DminLine.
fn dcache_line() -> usize {
    let ctr: u64;
    // SAFETY: CTR_EL0 is a read-only ID register.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    4 << ((ctr >> 16) & 0xf)
}

/// Cleans and invalidates `[start, start + len)` to the point of coherency,
/// e.g. before another observer (a non-coherent DMA master, or code running
/// with caches off) reads it.
pub fn clean_invalidate_dcache_range(start: usize, len: usize) {
    let line = dcache_line();
    let mut addr = start & !(line - 1);
    while addr < start + len {
        // SAFETY: DC CIVAC only moves data between cache and memory; it does
        // not change the contents seen by the program.
        unsafe { core::arch::asm!("dc civac, {}", in(reg) addr, options(nostack)) };
        addr += line;
    }
    // SAFETY: barrier only.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
}

/// Invalidates all instruction caches to the point of unification, after code
/// has been written (e.g. a loaded image or a software breakpoint).
pub fn invalidate_icache_all() {
    // SAFETY: IC IALLU has no effect on data; the barriers complete it.
    unsafe { core::arch::asm!("dsb ish", "ic iallu", "dsb ish", "isb", options(nostack)) };
}
