//! The GICv2 virtual interface control registers (GICH, IHI 0048B §5.3):
//! the memory-mapped counterpart of GICv3's ICH_*_EL2 (`super::ich`).
//!
//! GICH is banked per CPU: the frame the DTB names (the GIC node's third
//! `reg` entry, `arm,gic.yaml`) always shows the accessing CPU's own
//! interface (the GIC-400 also has per-CPU aliases after it, which we do not
//! use).
//!
//! # Giving a guest its CPU interface
//!
//! - Stage-2: map the hardware GICV frame (the GIC node's fourth `reg` entry)
//!   at the IPA where the guest's device tree puts its GICC, 8 KiB
//!   ([`super::v2::CPU_INTERFACE_FRAME`]: GICV_DIR is at offset 0x1000),
//!   Device-nGnRE read/write (`stage2::S2Attr::DeviceRw`). QEMU `virt`
//!   (`gic-version=2,virtualization=on`): PA 0x0804_0000 at IPA 0x0801_0000.
//!   Raspberry Pi 5: PA 0x10_7fff_e000 at the guest's GICC IPA. Leave the
//!   guest's GICD IPA unmapped (emulated) and never map GICH to the guest.
//! - Per vCPU: `GicH::set_hcr` with [`hcr::EN`]; restore/save
//!   GICH_VMCR, GICH_APR and the list registers on vCPU switch.
//! - Maintenance interrupt: the PPI in the GIC node's own `interrupts`
//!   (PPI 9 = INTID 25 on both machines, `GicInfo::maintenance_intid`);
//!   enable it with `GicV2::init_cpu`. Use [`hcr::UIE`] only while more
//!   virtual interrupts are queued than fit in the list registers (refill
//!   when at most one is valid), [`hcr::NPIE`] if you prefer refilling when
//!   none is pending, and the list register's EOI bit
//!   ([`LrSource::Software`] `eoi_maintenance`) for emulated level-sensitive
//!   interrupts whose line must be re-sampled when the guest EOIs them
//!   (vPL011, virtio). Read `GicH::misr` to see why it fired, and
//!   `GicH::eisr`/`GicH::elrsr` to find the finished list registers.
//! - Hardware-linked interrupts (the virtual timer, PPI 27): HW = 1 with the
//!   physical INTID ([`LrSource::Hardware`]); the hypervisor only drops the
//!   priority (`GicV2::eoi`, EOImode 1), and the guest's deactivation
//!   deactivates the physical interrupt (§5.4). No maintenance needed.
//! - Groups: the GICV frame has no Security Extensions; a Linux guest uses
//!   Group 0 with GICV_CTLR.FIQEn = 0, so virtual interrupts are signalled
//!   as virtual IRQs: leave `group1` false.

/// GICH register offsets (IHI 0048B §5.3, Table 5-1).
pub mod offset {
    pub const HCR: usize = 0x000;
    pub const VTR: usize = 0x004;
    pub const VMCR: usize = 0x008;
    pub const MISR: usize = 0x010;
    pub const EISR0: usize = 0x020;
    pub const EISR1: usize = 0x024;
    pub const ELRSR0: usize = 0x030;
    pub const ELRSR1: usize = 0x034;
    pub const APR: usize = 0x0f0;
    /// `GICH_LR<n>` at LR0 + 4n, n < 64.
    pub const LR0: usize = 0x100;
}

/// GICH_HCR bits (IHI 0048B §5.3, "Hypervisor Control Register").
pub mod hcr {
    /// Enables the virtual CPU interface.
    pub const EN: u32 = 1 << 0;
    /// Underflow: maintenance interrupt while at most one LR is valid.
    pub const UIE: u32 = 1 << 1;
    /// Maintenance interrupt while GICH_HCR.EOICount is non-zero.
    pub const LRENPIE: u32 = 1 << 2;
    /// No pending: maintenance interrupt while no LR is pending.
    pub const NPIE: u32 = 1 << 3;
    /// Maintenance interrupt while the guest's Group 0 is enabled/disabled.
    pub const VGRP0EIE: u32 = 1 << 4;
    pub const VGRP0DIE: u32 = 1 << 5;
    /// The same for Group 1.
    pub const VGRP1EIE: u32 = 1 << 6;
    pub const VGRP1DIE: u32 = 1 << 7;
    /// EOICount, bits `[31:27]`: guest EOIs that found no matching LR.
    pub const EOICOUNT_SHIFT: u32 = 27;
}

/// GICH_MISR bits: which maintenance condition is asserted (IHI 0048B
/// §5.3, "Maintenance Interrupt Status Register"). Each mirrors the enable
/// bit of the same name in GICH_HCR (EOI: an LR with the EOI bit was EOIed,
/// see GICH_EISR).
pub mod misr {
    pub const EOI: u32 = 1 << 0;
    pub const U: u32 = 1 << 1;
    pub const LRENP: u32 = 1 << 2;
    pub const NP: u32 = 1 << 3;
    pub const VGRP0E: u32 = 1 << 4;
    pub const VGRP0D: u32 = 1 << 5;
    pub const VGRP1E: u32 = 1 << 6;
    pub const VGRP1D: u32 = 1 << 7;
}

/// GICH_VMCR fields (IHI 0048B §5.3, "Virtual Machine Control Register"):
/// the guest's GICV_CTLR, GICV_PMR and GICV_BPR/ABPR as the hypervisor
/// saves and restores them.
pub mod vmcr {
    pub const VMGRP0EN: u32 = 1 << 0;
    pub const VMGRP1EN: u32 = 1 << 1;
    pub const VMACKCTL: u32 = 1 << 2;
    pub const VMFIQEN: u32 = 1 << 3;
    pub const VMCBPR: u32 = 1 << 4;
    /// The guest's GICV_CTLR.EOImode.
    pub const VEM: u32 = 1 << 9;
    pub const VMABP_SHIFT: u32 = 18;
    pub const VMBP_SHIFT: u32 = 21;
    /// VMPriMask, bits `[31:27]`: `GICV_PMR[7:3]`.
    pub const VMPRIMASK_SHIFT: u32 = 27;

    /// The guest's GICV_PMR value held in `vmcr`.
    pub fn priority_mask(vmcr: u32) -> u8 {
        ((vmcr >> VMPRIMASK_SHIFT) << 3) as u8
    }
}

/// Most list registers GICv2 can implement (GICH_VTR.ListRegs is 6 bits).
pub const MAX_LIST_REGISTERS: usize = 64;

/// Implemented list registers: GICH_VTR.ListRegs + 1 (IHI 0048B §5.3,
/// "VGIC Type Register").
pub fn list_registers(vtr: u32) -> usize {
    (vtr & 0x3f) as usize + 1
}

/// Implemented priority bits: GICH_VTR.PRIbits + 1.
pub fn priority_bits(vtr: u32) -> u32 {
    ((vtr >> 29) & 0x7) + 1
}

/// Implemented preemption bits: GICH_VTR.PREbits + 1.
pub fn preemption_bits(vtr: u32) -> u32 {
    ((vtr >> 26) & 0x7) + 1
}

/// One 64-bit mask from a pair of 32-bit registers (GICH_EISR0/1,
/// GICH_ELRSR0/1: bit n is list register n), keeping only the `count`
/// implemented list registers.
pub fn lr_mask(low: u32, high: u32, count: usize) -> u64 {
    let all = u64::from(low) | (u64::from(high) << 32);
    match count {
        0 => 0,
        n if n >= 64 => all,
        n => all & ((1u64 << n) - 1),
    }
}

/// `GICH_LR<n>.State` (IHI 0048B §5.3, "List Registers").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LrState {
    Invalid,
    Pending,
    Active,
    PendingActive,
}

impl LrState {
    const fn bits(self) -> u32 {
        match self {
            Self::Invalid => 0,
            Self::Pending => 1,
            Self::Active => 2,
            Self::PendingActive => 3,
        }
    }
    const fn from_bits(bits: u32) -> Self {
        match bits & 0b11 {
            0 => Self::Invalid,
            1 => Self::Pending,
            2 => Self::Active,
            _ => Self::PendingActive,
        }
    }
}

/// What backs a virtual interrupt (`GICH_LR<n>.HW` and bits `[19:10]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LrSource {
    /// HW = 0: emulated by the hypervisor. `eoi_maintenance` (bit 19)
    /// requests a maintenance interrupt when the guest EOIs it;
    /// `source_cpu` (bits `[12:10]`) is the requesting vCPU of an SGI, which
    /// the guest reads back in GICV_IAR.
    Software {
        eoi_maintenance: bool,
        source_cpu: u8,
    },
    /// HW = 1: linked to physical interrupt `physical_id` (bits `[19:10]`),
    /// which the guest's deactivation deactivates. PPIs and SPIs only.
    Hardware { physical_id: u16 },
}

/// A decoded `GICH_LR<n>` (IHI 0048B §5.3, "List Registers").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListRegister {
    /// VirtualID, bits `[9:0]`: the INTID the guest sees.
    pub virtual_id: u16,
    pub source: LrSource,
    /// Priority, bits `[27:23]` = `priority[7:3]`; the low 3 bits are dropped.
    pub priority: u8,
    pub state: LrState,
    /// Grp1, bit 30: signal as Group 1 (see the module docs: keep false).
    pub group1: bool,
}

/// A list register value that cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LrError {
    /// VirtualID must be 0-1019: 1020-1023 are special INTIDs.
    VirtualId(u16),
    /// A hardware-linked physical ID must be a PPI or SPI (16-1019).
    PhysicalId(u16),
    /// An SGI source CPU is 0-7.
    SourceCpu(u8),
    /// List register index beyond the implemented ones.
    Index { index: usize, implemented: usize },
}

impl core::fmt::Display for LrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::VirtualId(id) => write!(f, "virtual INTID {id} is not 0-1019"),
            Self::PhysicalId(id) => {
                write!(
                    f,
                    "hardware-linked physical INTID {id} is not a PPI/SPI (16-1019)"
                )
            }
            Self::SourceCpu(cpu) => write!(f, "SGI source CPU {cpu} is not 0-7"),
            Self::Index { index, implemented } => write!(
                f,
                "list register {index} does not exist ({implemented} implemented)"
            ),
        }
    }
}

const LR_HW: u32 = 1 << 31;
const LR_GRP1: u32 = 1 << 30;
const LR_STATE_SHIFT: u32 = 28;
const LR_PRIORITY_SHIFT: u32 = 23;
const LR_PHYSICAL_SHIFT: u32 = 10;
const LR_EOI: u32 = 1 << 19;

impl ListRegister {
    /// A pending, software (emulated) interrupt with no EOI maintenance.
    pub const fn pending(virtual_id: u16, priority: u8) -> Self {
        Self {
            virtual_id,
            source: LrSource::Software {
                eoi_maintenance: false,
                source_cpu: 0,
            },
            priority,
            state: LrState::Pending,
            group1: false,
        }
    }

    /// The `GICH_LR<n>` value.
    pub fn encode(&self) -> Result<u32, LrError> {
        if self.virtual_id >= 1020 {
            return Err(LrError::VirtualId(self.virtual_id));
        }
        let mut v = u32::from(self.virtual_id)
            | (u32::from(self.priority >> 3) << LR_PRIORITY_SHIFT)
            | (self.state.bits() << LR_STATE_SHIFT);
        if self.group1 {
            v |= LR_GRP1;
        }
        match self.source {
            LrSource::Software {
                eoi_maintenance,
                source_cpu,
            } => {
                if source_cpu > 7 {
                    return Err(LrError::SourceCpu(source_cpu));
                }
                v |= u32::from(source_cpu) << LR_PHYSICAL_SHIFT;
                if eoi_maintenance {
                    v |= LR_EOI;
                }
            }
            LrSource::Hardware { physical_id } => {
                if !(16..1020).contains(&physical_id) {
                    return Err(LrError::PhysicalId(physical_id));
                }
                v |= LR_HW | (u32::from(physical_id) << LR_PHYSICAL_SHIFT);
            }
        }
        Ok(v)
    }

    /// Decodes any `GICH_LR<n>` value (reserved bits `[22:20]` are ignored).
    pub fn decode(v: u32) -> Self {
        let physical = (v >> LR_PHYSICAL_SHIFT) & 0x3ff;
        let source = if v & LR_HW != 0 {
            LrSource::Hardware {
                physical_id: physical as u16,
            }
        } else {
            LrSource::Software {
                eoi_maintenance: v & LR_EOI != 0,
                source_cpu: (physical & 0x7) as u8,
            }
        };
        Self {
            virtual_id: (v & 0x3ff) as u16,
            source,
            priority: (((v >> LR_PRIORITY_SHIFT) & 0x1f) << 3) as u8,
            state: LrState::from_bits(v >> LR_STATE_SHIFT),
            group1: v & LR_GRP1 != 0,
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub use driver::GicH;

#[cfg(target_arch = "aarch64")]
mod driver {
    use super::{offset, LrError};
    use core::ptr::{read_volatile, write_volatile};

    /// This CPU's GICH frame.
    #[derive(Clone, Copy, Debug)]
    pub struct GicH {
        base: usize,
    }

    impl GicH {
        /// # Safety
        /// `base` must be the GICH frame from the DTB, mapped as Device
        /// memory, and only the hypervisor may access it.
        pub unsafe fn new(base: usize) -> Self {
            Self { base }
        }

        fn rd(&self, off: usize) -> u32 {
            // SAFETY: `off` is a register offset inside the GICH frame
            // (below 0x200) per `new`'s contract; 32-bit aligned accesses
            // (IHI 0048B §5.3).
            unsafe { read_volatile((self.base + off) as *const u32) }
        }
        fn wr(&self, off: usize, v: u32) {
            // SAFETY: as above; GICH only affects the virtual CPU interface.
            unsafe { write_volatile((self.base + off) as *mut u32, v) }
        }

        pub fn hcr(&self) -> u32 {
            self.rd(offset::HCR)
        }
        pub fn set_hcr(&self, v: u32) {
            self.wr(offset::HCR, v)
        }
        pub fn vtr(&self) -> u32 {
            self.rd(offset::VTR)
        }
        /// Implemented list registers (GICH_VTR.ListRegs + 1).
        pub fn list_registers(&self) -> usize {
            super::list_registers(self.vtr())
        }
        pub fn vmcr(&self) -> u32 {
            self.rd(offset::VMCR)
        }
        pub fn set_vmcr(&self, v: u32) {
            self.wr(offset::VMCR, v)
        }
        /// GICH_MISR: why the maintenance interrupt fired ([`super::misr`]).
        pub fn misr(&self) -> u32 {
            self.rd(offset::MISR)
        }
        /// GICH_EISR0/1: bit n set when LR n (with its EOI bit) was EOIed.
        pub fn eisr(&self) -> u64 {
            let n = self.list_registers();
            super::lr_mask(self.rd(offset::EISR0), self.rd(offset::EISR1), n)
        }
        /// GICH_ELRSR0/1: bit n set when LR n holds no interrupt.
        pub fn elrsr(&self) -> u64 {
            let n = self.list_registers();
            super::lr_mask(self.rd(offset::ELRSR0), self.rd(offset::ELRSR1), n)
        }
        /// GICH_APR: the guest's active priorities, saved on vCPU switch.
        pub fn apr(&self) -> u32 {
            self.rd(offset::APR)
        }
        pub fn set_apr(&self, v: u32) {
            self.wr(offset::APR, v)
        }

        fn lr_offset(&self, n: usize) -> Result<usize, LrError> {
            let implemented = self.list_registers();
            if n >= implemented {
                return Err(LrError::Index {
                    index: n,
                    implemented,
                });
            }
            Ok(offset::LR0 + n * 4)
        }
        /// `GICH_LR<n>` (decode with [`super::ListRegister::decode`]).
        pub fn read_lr(&self, n: usize) -> Result<u32, LrError> {
            Ok(self.rd(self.lr_offset(n)?))
        }
        /// Writes `GICH_LR<n>` (encode with [`super::ListRegister::encode`]).
        pub fn write_lr(&self, n: usize, v: u32) -> Result<(), LrError> {
            let off = self.lr_offset(n)?;
            self.wr(off, v);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vtr_fields() {
        // GIC-400: 4 LRs, 5 priority bits, 5 preemption bits.
        let vtr = (4 << 29) | (4 << 26) | 3;
        assert_eq!(list_registers(vtr), 4);
        assert_eq!(priority_bits(vtr), 5);
        assert_eq!(preemption_bits(vtr), 5);
        assert_eq!(list_registers(0x3f), MAX_LIST_REGISTERS);
    }

    #[test]
    fn lr_masks() {
        assert_eq!(lr_mask(0xffff_ffff, 0xffff_ffff, 4), 0xf);
        assert_eq!(lr_mask(0, 1, 64), 1 << 32);
        assert_eq!(lr_mask(0b101, 0, 0), 0);
        assert_eq!(lr_mask(0b1_0101, 0, 3), 0b101);
    }

    #[test]
    fn software_lr_round_trip() {
        let lr = ListRegister {
            virtual_id: 33,
            source: LrSource::Software {
                eoi_maintenance: true,
                source_cpu: 0,
            },
            priority: 0xa0,
            state: LrState::Pending,
            group1: false,
        };
        let v = lr.encode().unwrap();
        // VirtualID 33, EOI bit 19, priority 0xa0 >> 3 = 0x14 at [27:23],
        // state pending at [29:28].
        assert_eq!(v, 33 | (1 << 19) | (0x14 << 23) | (1 << 28));
        assert_eq!(ListRegister::decode(v), lr);
    }

    #[test]
    fn hardware_lr_round_trip() {
        // The virtual timer: virtual 27 linked to physical 27.
        let lr = ListRegister {
            virtual_id: 27,
            source: LrSource::Hardware { physical_id: 27 },
            priority: 0x80,
            state: LrState::Pending,
            group1: false,
        };
        let v = lr.encode().unwrap();
        assert_eq!(v, (1 << 31) | (27 << 10) | (0x10 << 23) | (1 << 28) | 27);
        assert_eq!(ListRegister::decode(v), lr);
    }

    #[test]
    fn sgi_lr_keeps_source_cpu() {
        let lr = ListRegister {
            virtual_id: 1,
            source: LrSource::Software {
                eoi_maintenance: false,
                source_cpu: 3,
            },
            priority: 0,
            state: LrState::PendingActive,
            group1: true,
        };
        let v = lr.encode().unwrap();
        assert_eq!((v >> 10) & 7, 3);
        assert_eq!(v >> 28, 0b0111);
        assert_eq!(ListRegister::decode(v), lr);
    }

    #[test]
    fn priority_low_bits_are_dropped() {
        let v = ListRegister::pending(40, 0xa7).encode().unwrap();
        assert_eq!(ListRegister::decode(v).priority, 0xa0);
        assert_eq!(ListRegister::decode(0).state, LrState::Invalid);
    }

    #[test]
    fn invalid_lrs_are_refused() {
        assert_eq!(
            ListRegister::pending(1020, 0).encode(),
            Err(LrError::VirtualId(1020))
        );
        let mut lr = ListRegister::pending(27, 0);
        lr.source = LrSource::Hardware { physical_id: 5 };
        assert_eq!(lr.encode(), Err(LrError::PhysicalId(5)));
        lr.source = LrSource::Hardware { physical_id: 1023 };
        assert_eq!(lr.encode(), Err(LrError::PhysicalId(1023)));
        lr.source = LrSource::Software {
            eoi_maintenance: false,
            source_cpu: 8,
        };
        assert_eq!(lr.encode(), Err(LrError::SourceCpu(8)));
        let s = format!(
            "{}",
            LrError::Index {
                index: 4,
                implemented: 4
            }
        );
        assert!(s.contains("4 implemented"), "{s}");
    }

    #[test]
    fn vmcr_priority_mask() {
        assert_eq!(vmcr::priority_mask(0x1f << vmcr::VMPRIMASK_SHIFT), 0xf8);
        assert_eq!(vmcr::priority_mask(vmcr::VEM | vmcr::VMGRP0EN), 0);
    }
}
