//! The guest's GICv3 (IHI 0069H): distributor and redistributor through
//! MMIO (emulated by the hypervisor), the CPU interface through the ICC
//! system registers (the hardware's virtual CPU interface).

use crate::{cpu, mmio};
use core::sync::atomic::{AtomicU64, Ordering};

const GICD_CTLR: usize = 0x0;
const GICD_CTLR_ENABLE_GRP1: u32 = 1 << 1;
const GICD_CTLR_ARE: u32 = 1 << 4;
const GICR_WAKER: usize = 0x14;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// The SGI/PPI frame follows RD_base (§12.10).
const SGI_BASE: usize = 0x1_0000;
const GICR_IGROUPR0: usize = 0x80;
const GICR_ISENABLER0: usize = 0x100;
const GICR_IPRIORITYR: usize = 0x400;
/// Each redistributor: RD_base + SGI_base frames.
pub const GICR_STRIDE: usize = 0x2_0000;

/// SGIs the tests use.
pub const SGI_PING: u32 = 1;
pub const SGI_FLOOD: u32 = 2;
pub const VTIMER: u32 = 27;
const SPURIOUS: u32 = 1020;

/// Per CPU and interrupt: how many arrived, and the counter at the last one.
const TRACKED: usize = 32;
static COUNT: [[AtomicU64; TRACKED]; cpu::MAX_CPUS] =
    [const { [const { AtomicU64::new(0) }; TRACKED] }; cpu::MAX_CPUS];
static STAMP: [[AtomicU64; TRACKED]; cpu::MAX_CPUS] =
    [const { [const { AtomicU64::new(0) }; TRACKED] }; cpu::MAX_CPUS];

pub fn init_distributor(gicd: usize) {
    mmio::write32(gicd + GICD_CTLR, GICD_CTLR_ENABLE_GRP1 | GICD_CTLR_ARE);
}

/// Wakes this CPU's redistributor, enables the SGIs and the virtual timer
/// in group 1, and opens the CPU interface.
pub fn init_cpu(gicr: usize) -> Result<(), &'static str> {
    let waker = mmio::read32(gicr + GICR_WAKER);
    mmio::write32(gicr + GICR_WAKER, waker & !WAKER_PROCESSOR_SLEEP);
    let awake = (0..100_000).any(|_| mmio::read32(gicr + GICR_WAKER) & WAKER_CHILDREN_ASLEEP == 0);
    if !awake {
        return Err("GICR_WAKER.ChildrenAsleep stays set");
    }
    let sgi = gicr + SGI_BASE;
    mmio::write32(sgi + GICR_IGROUPR0, u32::MAX);
    for n in 0..8 {
        mmio::write32(sgi + GICR_IPRIORITYR + 4 * n, 0xa0a0_a0a0);
    }
    mmio::write32(
        sgi + GICR_ISENABLER0,
        (1 << SGI_PING) | (1 << SGI_FLOOD) | (1 << VTIMER),
    );
    // SAFETY: ICC_SRE_EL1 (S3_0_C12_C12_5), ICC_PMR_EL1 (S3_0_C4_C6_0),
    // ICC_BPR1_EL1 (S3_0_C12_C12_3) and ICC_IGRPEN1_EL1 (S3_0_C12_C12_7)
    // only configure this CPU's interface; IRQs stay masked in PSTATE.
    unsafe {
        core::arch::asm!(
            "mrs {t}, S3_0_C12_C12_5",
            "orr {t}, {t}, #1",
            "msr S3_0_C12_C12_5, {t}",
            "isb",
            "mov {t}, #0xff",
            "msr S3_0_C4_C6_0, {t}",
            "msr S3_0_C12_C12_3, xzr",
            "mov {t}, #1",
            "msr S3_0_C12_C12_7, {t}",
            "isb",
            t = out(reg) _,
            options(nostack)
        )
    };
    Ok(())
}

/// ICC_SGI1R_EL1 (§12.11.23): `intid` to the CPUs in `targets` (Aff0
/// bits, affinity 0.0.0), or with IRM to every CPU but this one.
pub fn send_sgi(intid: u32, targets: u16, all_but_self: bool) {
    let value =
        (u64::from(intid & 0xf) << 24) | u64::from(targets) | (u64::from(all_but_self) << 40);
    // SAFETY: generating an SGI has no memory effects on this CPU.
    unsafe { core::arch::asm!("msr S3_0_C12_C11_5, {}", "isb", in(reg) value, options(nostack)) };
}

pub fn count(cpu: usize, intid: u32) -> u64 {
    COUNT[cpu][intid as usize % TRACKED].load(Ordering::SeqCst)
}

/// The counter value when `intid` last arrived on `cpu`.
pub fn stamp(cpu: usize, intid: u32) -> u64 {
    STAMP[cpu][intid as usize % TRACKED].load(Ordering::SeqCst)
}

/// The IRQ vector: acknowledge, record, end (EOImode 0: EOI deactivates).
pub fn handle_irq() {
    let t = cpu::now();
    let intid: u64;
    // SAFETY: ICC_IAR1_EL1 (S3_0_C12_C12_0) acknowledges the interrupt.
    unsafe { core::arch::asm!("mrs {}, S3_0_C12_C12_0", out(reg) intid, options(nostack)) };
    let intid = intid as u32 & 0xff_ffff;
    if intid >= SPURIOUS {
        return;
    }
    if intid == VTIMER {
        cpu::disarm_vtimer();
    }
    if let Some(slot) = COUNT[cpu::index()].get(intid as usize) {
        STAMP[cpu::index()][intid as usize].store(t, Ordering::SeqCst);
        slot.fetch_add(1, Ordering::SeqCst);
    }
    // SAFETY: ICC_EOIR1_EL1 (S3_0_C12_C12_1) ends the interrupt we took.
    unsafe {
        core::arch::asm!("msr S3_0_C12_C12_1, {}", "isb", in(reg) u64::from(intid), options(nostack))
    };
}
