//! Bringing up the physical GICv3 distributor and this CPU's redistributor.

use super::regs::{self, gicd, gicr};
use core::ptr::{read_volatile, write_volatile};

/// Interrupt priority for everything the hypervisor enables (lower is more
/// urgent; all equal is fine, nothing preempts at EL2 as IRQs are masked).
const PRIORITY: u8 = 0x80;

#[derive(Clone, Copy, Debug)]
pub struct GicV3 {
    gicd: usize,
    gicr_region: usize,
    gicr_region_size: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicError {
    /// No redistributor frame matches this CPU's affinity.
    NoRedistributor { mpidr: u64 },
    /// GICR_WAKER.ChildrenAsleep never cleared.
    WakeTimeout,
}

impl core::fmt::Display for GicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoRedistributor { mpidr } => {
                write!(f, "no GICv3 redistributor for MPIDR {mpidr:#x}")
            }
            Self::WakeTimeout => write!(f, "GICv3 redistributor did not wake up"),
        }
    }
}

impl GicV3 {
    /// # Safety
    /// `gicd` and `gicr_region` must be the GICv3 distributor and
    /// redistributor region from the DTB, mapped as Device memory, and only
    /// the hypervisor may program them.
    pub unsafe fn new(gicd: usize, gicr_region: usize, gicr_region_size: usize) -> Self {
        Self {
            gicd,
            gicr_region,
            gicr_region_size,
        }
    }

    fn rd32(&self, addr: usize) -> u32 {
        // SAFETY: `addr` is inside a GIC frame per `new`'s contract.
        unsafe { read_volatile(addr as *const u32) }
    }
    fn wr32(&self, addr: usize, v: u32) {
        // SAFETY: as above.
        unsafe { write_volatile(addr as *mut u32, v) }
    }
    fn rd64(&self, addr: usize) -> u64 {
        // SAFETY: as above; GICR_TYPER is a 64-bit register.
        unsafe { read_volatile(addr as *const u64) }
    }
    fn wr64(&self, addr: usize, v: u64) {
        // SAFETY: as above; GICD_IROUTER<n> are 64-bit registers.
        unsafe { write_volatile(addr as *mut u64, v) }
    }

    fn wait_rwp(&self) {
        for _ in 0..1_000_000 {
            if self.rd32(self.gicd + gicd::CTLR) & gicd::CTLR_RWP == 0 {
                return;
            }
            core::hint::spin_loop();
        }
    }

    /// Distributor: affinity routing on, all SPIs disabled and Group 1, then
    /// Group 1 enabled. Called once, on the boot CPU.
    pub fn init_distributor(&self) {
        self.wr32(self.gicd + gicd::CTLR, 0);
        self.wait_rwp();
        let lines = ((self.rd32(self.gicd + gicd::TYPER) & 0x1f) + 1) * 32;
        for i in (32..lines).step_by(32) {
            let word = (i / 32) as usize * 4;
            self.wr32(self.gicd + gicd::ICENABLER + word, u32::MAX);
            self.wr32(self.gicd + gicd::ICPENDR + word, u32::MAX);
            self.wr32(self.gicd + gicd::ICACTIVER + word, u32::MAX);
            self.wr32(self.gicd + gicd::IGROUPR + word, u32::MAX);
        }
        self.wait_rwp();
        self.wr32(
            self.gicd + gicd::CTLR,
            gicd::CTLR_ARE_NS | gicd::CTLR_ENABLE_GRP1A,
        );
        self.wait_rwp();
    }

    /// Routes SPI `intid` to the CPU with `mpidr`, level-triggered, and
    /// enables it.
    pub fn enable_spi(&self, intid: u32, mpidr: u64) {
        let i = intid as usize;
        self.wr64(self.gicd + gicd::IROUTER + i * 8, regs::irouter(mpidr));
        // SAFETY: byte-wide priority registers (IHI 0069H §12.9.22).
        unsafe { write_volatile((self.gicd + gicd::IPRIORITYR + i) as *mut u8, PRIORITY) };
        let cfg = self.gicd + gicd::ICFGR + (i / 16) * 4;
        self.wr32(cfg, self.rd32(cfg) & !(0b10 << ((i % 16) * 2)));
        self.wr32(self.gicd + gicd::ISENABLER + (i / 32) * 4, 1 << (i % 32));
        self.wait_rwp();
    }

    fn redistributor(&self, mpidr: u64) -> Result<usize, GicError> {
        let frames = self.gicr_region_size / gicr::FRAME_STRIDE;
        let typers =
            (0..frames).map(|i| self.rd64(self.gicr_region + i * gicr::FRAME_STRIDE + gicr::TYPER));
        regs::find_redistributor(typers, mpidr)
            .map(|i| self.gicr_region + i * gicr::FRAME_STRIDE)
            .ok_or(GicError::NoRedistributor { mpidr })
    }

    /// This CPU's redistributor: woken, all SGIs/PPIs Group 1 and disabled,
    /// then the PPIs/SGIs in `enable` turned on. Call on each CPU.
    pub fn init_cpu(&self, mpidr: u64, enable: &[u32]) -> Result<(), GicError> {
        let rd = self.redistributor(mpidr)?;
        let waker = self.rd32(rd + gicr::WAKER);
        self.wr32(rd + gicr::WAKER, waker & !gicr::WAKER_PROCESSOR_SLEEP);
        let mut awake = false;
        for _ in 0..1_000_000 {
            if self.rd32(rd + gicr::WAKER) & gicr::WAKER_CHILDREN_ASLEEP == 0 {
                awake = true;
                break;
            }
            core::hint::spin_loop();
        }
        if !awake {
            return Err(GicError::WakeTimeout);
        }
        self.wr32(rd + gicr::ICENABLER0, u32::MAX);
        self.wr32(rd + gicr::ICPENDR0, u32::MAX);
        self.wr32(rd + gicr::IGROUPR0, u32::MAX);
        for i in 0..32 {
            // SAFETY: byte-wide priority registers in SGI_base.
            unsafe { write_volatile((rd + gicr::IPRIORITYR + i) as *mut u8, PRIORITY) };
        }
        let mut mask = 0u32;
        for &intid in enable.iter().filter(|&&i| i < 32) {
            mask |= 1 << intid;
        }
        self.wr32(rd + gicr::ISENABLER0, mask);
        super::icc::init_cpu_interface();
        Ok(())
    }
}
