//! The SPMC's own S-EL2 stage-1 map: identity, our image's secure RAM as
//! Normal memory, everything else Device and execute-never (the same
//! builder as the normal-world hypervisor's, `arch_hal::mmu::identity`).

use arch_hal::mmu::{self, identity, Table};
use arch_hal::sysreg::{HwSysRegs, SysRegs};
use core::sync::atomic::{AtomicU64, Ordering};

extern "C" {
    static __image_start: u8;
    static __image_end: u8;
    static __pt_pool_start: u8;
    static __pt_pool_end: u8;
}

static TTBR: AtomicU64 = AtomicU64::new(0);
static TCR: AtomicU64 = AtomicU64::new(0);

/// Builds the map and turns the MMU on (primary core, once).
pub fn enable_primary() -> Result<(), identity::MapError> {
    let start = core::ptr::addr_of!(__image_start) as u64;
    let end = core::ptr::addr_of!(__image_end) as u64;
    // SAFETY: link-spmc.ld reserves [__pt_pool_start, __pt_pool_end) for
    // page tables, 4 KiB aligned; only this function, run once on the
    // primary core before any other core is up, refers to it.
    let pool: &'static mut [Table] = unsafe {
        let first = core::ptr::addr_of!(__pt_pool_start) as *mut Table;
        let len = (core::ptr::addr_of!(__pt_pool_end) as usize - first as usize)
            / core::mem::size_of::<Table>();
        core::slice::from_raw_parts_mut(first, len)
    };
    let (l1, l2) = pool
        .split_first_mut()
        .ok_or(identity::MapError::OutOfTables)?;
    // Whole 2 MiB blocks around the image (the builder's granule).
    let base = start & !0x1f_ffff;
    let top = (end + 0x1f_ffff) & !0x1f_ffff;
    identity::build(l1, l2, &[(base, top - base)], |t| t as *const Table as u64)?;
    let tcr = mmu::tcr_el2(HwSysRegs.id_aa64mmfr0());
    // SAFETY: the map covers our code, data and stacks (the image) and
    // the UART (Device); the MMU is off (TF-A enters BL32 with it off).
    unsafe { mmu::enable_el2(l1, tcr) };
    TTBR.store(l1 as *const Table as u64, Ordering::Release);
    TCR.store(tcr, Ordering::Release);
    Ok(())
}

/// Turns the MMU on with the primary's tables.
pub fn enable_secondary() {
    let (ttbr, tcr) = (TTBR.load(Ordering::Acquire), TCR.load(Ordering::Acquire));
    // SAFETY: the primary built and published the complete map before it
    // registered the secondary entry point, and this core's MMU is off.
    unsafe { mmu::enable_el2_at(ttbr, tcr) };
}
