//! Physical CPUs: identity, stacks, and starting secondaries.
//!
//! vCPU i runs on pCPU i (1:1), so a CPU's index is both. Secondaries start
//! with the MMU off and read their parameters from `BOOT_PARAMS`, which the
//! boot CPU writes back to the point of coherency before CPU_ON.

use arch_hal::exception::TrapFrame;
use core::sync::atomic::{AtomicU64, Ordering};

/// Stack bytes per CPU (link.ld STACK_SIZE) and CPUs with stacks.
pub const STACK_SIZE: usize = 0x4_0000;
pub const MAX_CPUS: usize = 8;

extern "C" {
    static __stacks_start: u8;
    fn _secondary_start();
}

/// Top of CPU `index`'s EL2 stack.
pub fn stack_top(index: usize) -> usize {
    &raw const __stacks_start as usize + (index + 1) * STACK_SIZE
}

/// What a secondary needs before its MMU is on. Plain atomics: read with
/// the MMU off they are ordinary loads, which is all we need.
#[repr(C, align(64))]
struct BootParams {
    ttbr: AtomicU64,
    tcr: AtomicU64,
    /// Guest entry and context for each CPU (PSCI CPU_ON arguments).
    entry: [AtomicU64; MAX_CPUS],
    context: [AtomicU64; MAX_CPUS],
}

static BOOT_PARAMS: BootParams = BootParams {
    ttbr: AtomicU64::new(0),
    tcr: AtomicU64::new(0),
    entry: [const { AtomicU64::new(0) }; MAX_CPUS],
    context: [const { AtomicU64::new(0) }; MAX_CPUS],
};

/// Records the EL2 map for secondaries (called once, on the boot CPU).
pub fn set_mmu_params(ttbr: u64, tcr: u64) {
    BOOT_PARAMS.ttbr.store(ttbr, Ordering::Relaxed);
    BOOT_PARAMS.tcr.store(tcr, Ordering::Relaxed);
}

pub fn mmu_params() -> (u64, u64) {
    (
        BOOT_PARAMS.ttbr.load(Ordering::Relaxed),
        BOOT_PARAMS.tcr.load(Ordering::Relaxed),
    )
}

/// The guest entry for CPU `index`, as the guest asked in CPU_ON.
pub fn guest_entry(index: usize) -> TrapFrame {
    let pc = BOOT_PARAMS.entry[index].load(Ordering::Relaxed);
    let ctx = BOOT_PARAMS.context[index].load(Ordering::Relaxed);
    TrapFrame::guest_entry(pc, ctx, arch_hal::el2::GUEST_ENTRY_SPSR)
}

/// Starts pCPU `index` (MPIDR `mpidr`) through the firmware's PSCI; it will
/// enter the guest at `entry` with x0 = `context`. Returns the firmware's
/// PSCI result.
pub fn start_secondary(
    index: usize,
    mpidr: u64,
    entry: u64,
    context: u64,
) -> Result<u64, arch_hal::psci::PsciError> {
    if index >= MAX_CPUS {
        return Err(arch_hal::psci::PsciError::InvalidParameters);
    }
    BOOT_PARAMS.entry[index].store(entry, Ordering::Relaxed);
    BOOT_PARAMS.context[index].store(context, Ordering::Relaxed);
    // The secondary reads these with its caches off.
    arch_hal::cache::clean_invalidate_dcache_range(
        &raw const BOOT_PARAMS as usize,
        core::mem::size_of::<BootParams>(),
    );
    let start = _secondary_start as *const () as usize as u64;
    // SAFETY: CPU_ON starts `index` at our secondary entry, which sets up
    // its own stack (distinct per index) and never returns into firmware.
    let ret = unsafe {
        arch_hal::psci::call(
            crate::power::conduit(),
            arch_hal::psci::CPU_ON_64,
            mpidr,
            start,
            index as u64,
        )
    };
    arch_hal::psci::PsciError::check(ret)
}
