//! System registers behind a small trait, so that logic which reads them can
//! be tested on the host with [`FakeSysRegs`]. `aarch64-cpu`'s accessors only
//! work on AArch64 (they panic elsewhere), hence the split.

/// The system registers the portable logic needs to read.
pub trait SysRegs {
    /// Current exception level, 0..=3 (CurrentEL.EL, Arm ARM C5.2.1).
    fn current_el(&self) -> u8;
    /// ID_AA64MMFR0_EL1: PARange and granule support (Arm ARM D19.2.64).
    fn id_aa64mmfr0(&self) -> u64;
    /// Counter frequency in Hz (CNTFRQ_EL0).
    fn counter_frequency(&self) -> u64;
    /// Physical counter (CNTPCT_EL0).
    fn counter(&self) -> u64;
}

/// The real registers of the CPU we run on.
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Copy, Debug, Default)]
pub struct HwSysRegs;

#[cfg(target_arch = "aarch64")]
impl SysRegs for HwSysRegs {
    fn current_el(&self) -> u8 {
        use aarch64_cpu::registers::{CurrentEL, Readable};
        CurrentEL.read(CurrentEL::EL) as u8
    }

    fn id_aa64mmfr0(&self) -> u64 {
        use aarch64_cpu::registers::{Readable, ID_AA64MMFR0_EL1};
        ID_AA64MMFR0_EL1.get()
    }

    fn counter_frequency(&self) -> u64 {
        use aarch64_cpu::registers::{Readable, CNTFRQ_EL0};
        CNTFRQ_EL0.get()
    }

    fn counter(&self) -> u64 {
        use aarch64_cpu::registers::{Readable, CNTPCT_EL0};
        // CNTPCT reads may be speculated ahead of earlier instructions
        // (Arm ARM D12.2.1); the ISB orders the read.
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        CNTPCT_EL0.get()
    }
}

/// A scripted stand-in for host tests.
#[derive(Clone, Copy, Debug)]
pub struct FakeSysRegs {
    pub current_el: u8,
    pub id_aa64mmfr0: u64,
    pub counter_frequency: u64,
    pub counter: u64,
}

impl Default for FakeSysRegs {
    fn default() -> Self {
        Self {
            current_el: 2,
            // PARange = 0b0101 (48 bits), 4K granule supported.
            id_aa64mmfr0: 0x5,
            counter_frequency: 62_500_000,
            counter: 0,
        }
    }
}

impl SysRegs for FakeSysRegs {
    fn current_el(&self) -> u8 {
        self.current_el
    }
    fn id_aa64mmfr0(&self) -> u64 {
        self.id_aa64mmfr0
    }
    fn counter_frequency(&self) -> u64 {
        self.counter_frequency
    }
    fn counter(&self) -> u64 {
        self.counter
    }
}
