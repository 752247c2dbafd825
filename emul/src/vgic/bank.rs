//! The per-interrupt register banks (`IGROUPR`, `ISENABLER`/`ICENABLER`,
//! `ISPENDR`/`ICPENDR`, `ISACTIVER`/`ICACTIVER`, `IPRIORITYR`, `ITARGETSR`,
//! `ICFGR`, `IGRPMODR`, `NSACR`).
//!
//! They sit at the same offsets in the GICv3 distributor (IHI 0069H §12.8),
//! in the GICv3 redistributor's `SGI_base` frame for INTIDs 0-31 (§12.10)
//! and in the GICv2 distributor (IHI 0048B §4.1), so one decoder serves all
//! three; a [`View`] says which INTIDs the frame exposes.

use super::{vcpu_bit, Update, VGic, PRIVATE_INTIDS};
use crate::{access, AccessError};
use irq_ops::Op;

/// A per-interrupt register family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Group,
    SetEnable,
    ClearEnable,
    SetPending,
    ClearPending,
    SetActive,
    ClearActive,
    Priority,
    Targets,
    Config,
    GroupMod,
    Nsacr,
}

/// A decoded bank register: its family and the first INTID it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub family: Family,
    pub first: u32,
}

/// Maps a frame offset to a bank register, if it is one.
pub(crate) fn decode(offset: u64) -> Option<Slot> {
    use Family::*;
    // (family, base offset, INTIDs per byte of register space)
    let (family, base, per_byte) = match offset {
        0x080..=0x0ff => (Group, 0x080, 8),
        0x100..=0x17f => (SetEnable, 0x100, 8),
        0x180..=0x1ff => (ClearEnable, 0x180, 8),
        0x200..=0x27f => (SetPending, 0x200, 8),
        0x280..=0x2ff => (ClearPending, 0x280, 8),
        0x300..=0x37f => (SetActive, 0x300, 8),
        0x380..=0x3ff => (ClearActive, 0x380, 8),
        0x400..=0x7ff => (Priority, 0x400, 1),
        0x800..=0xbff => (Targets, 0x800, 1),
        0xc00..=0xcff => (Config, 0xc00, 4),
        0xd00..=0xd7f => (GroupMod, 0xd00, 8),
        0xe00..=0xeff => (Nsacr, 0xe00, 4),
        _ => return None,
    };
    // At most 0x400 * 8, so the cast cannot truncate.
    let first = ((offset - base) * per_byte) as u32;
    Some(Slot { family, first })
}

/// Access widths: `IPRIORITYR` and `ITARGETSR` are byte-accessible, the
/// rest are word-only (IHI 0069H §12.9 and IHI 0048B §4.3 register
/// descriptions, "Attributes").
pub(crate) fn check_width(offset: u64, size: u8, slot: Slot) -> Result<(), AccessError> {
    match slot.family {
        Family::Priority | Family::Targets => access::require(offset, size, &[1, 4]),
        _ => access::require(offset, size, &[4]),
    }
}

/// Which INTIDs a frame shows, and for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// GICv3 distributor with affinity routing: SPIs only; the private
    /// INTIDs' bank words are RAZ/WI (IHI 0069H §12.9, e.g. GICD_ISENABLER0
    /// "when affinity routing is enabled ... RAZ/WI").
    DistV3,
    /// GICv3 `SGI_base` of this vCPU's redistributor: INTIDs 0-31 only.
    Redist(usize),
    /// GICv2 distributor accessed by this vCPU: banked private INTIDs and
    /// SPIs (IHI 0048B §4.1, "banked registers").
    DistV2(usize),
}

impl View {
    fn vcpu(self) -> usize {
        match self {
            Self::DistV3 => 0,
            Self::Redist(v) | Self::DistV2(v) => v,
        }
    }

    fn sees(self, intid: u32) -> bool {
        match self {
            Self::DistV3 => intid >= PRIVATE_INTIDS,
            Self::Redist(_) => intid < PRIVATE_INTIDS,
            Self::DistV2(_) => true,
        }
    }
}

impl VGic {
    /// Reads a bank register. Unimplemented INTIDs read as zero.
    pub(crate) fn bank_read(&self, view: View, slot: Slot, size: u8) -> u32 {
        let v = view.vcpu();
        let first = slot.first;
        let irq = |intid: u32| self.irq(v, intid).filter(|_| view.sees(intid));
        let mut value = 0u32;
        match slot.family {
            Family::Priority | Family::Targets => {
                for k in 0..u32::from(size) {
                    let intid = first + k;
                    let byte = match (slot.family, irq(intid)) {
                        (Family::Priority, Some(i)) => i.priority,
                        (Family::Targets, Some(_)) => self.targets_byte(view, intid),
                        _ => 0,
                    };
                    value |= u32::from(byte) << (8 * k);
                }
            }
            Family::Config => {
                for k in 0..16 {
                    if irq(first + k).is_some_and(|i| i.edge) {
                        value |= 2 << (2 * k);
                    }
                }
            }
            Family::GroupMod | Family::Nsacr => {}
            family => {
                for k in 0..32 {
                    let Some(i) = irq(first + k) else { continue };
                    let set = match family {
                        Family::Group => i.group1,
                        Family::SetEnable | Family::ClearEnable => i.enabled,
                        Family::SetPending | Family::ClearPending => i.pending(),
                        _ => i.active,
                    };
                    value |= u32::from(set) << k;
                }
            }
        }
        value
    }

    /// Writes a bank register and reports which vCPUs must re-sync.
    pub(crate) fn bank_write(&mut self, view: View, slot: Slot, size: u8, value: u32) -> Update {
        let first = slot.first;
        let mut kick = 0;
        match slot.family {
            Family::Priority | Family::Targets => {
                for k in 0..u32::from(size) {
                    // Byte k of the access, by construction below 256.
                    let byte = (value >> (8 * k)) as u8;
                    let op = match slot.family {
                        Family::Priority => Op::Priority(byte),
                        _ => Op::Targets(byte),
                    };
                    kick |= self.apply(view, first + k, op);
                }
            }
            Family::Config => {
                for k in 0..16 {
                    let edge = value & (2 << (2 * k)) != 0;
                    kick |= self.apply(view, first + k, Op::Config(edge));
                }
            }
            // RAZ/WI with a single security state (IHI 0069H §12.9,
            // GICD_IGRPMODR<n> and GICD_NSACR<n>: "When GICD_CTLR.DS == 1,
            // this register is RAZ/WI").
            Family::GroupMod | Family::Nsacr => {}
            family => {
                for k in 0..32 {
                    let bit = value & (1 << k) != 0;
                    let op = match family {
                        Family::Group => Op::Group(bit),
                        _ if !bit => continue,
                        Family::SetEnable => Op::Enable(true),
                        Family::ClearEnable => Op::Enable(false),
                        Family::SetPending => Op::Pend(true),
                        Family::ClearPending => Op::Pend(false),
                        Family::SetActive => Op::Activate(true),
                        _ => Op::Activate(false),
                    };
                    kick |= self.apply(view, first + k, op);
                }
            }
        }
        Update { kick }
    }

    /// A `GICD_ITARGETSRn` byte (GICv2 only; RAZ/WI with affinity routing,
    /// IHI 0069H §12.9, `GICD_ITARGETSR<n>`).
    fn targets_byte(&self, view: View, intid: u32) -> u8 {
        match view {
            // Private INTIDs target the reader itself (IHI 0048B §4.3,
            // GICD_ITARGETSRn: "each field returns a value that corresponds
            // only to the processor reading the register").
            View::DistV2(v) if intid < PRIVATE_INTIDS => vcpu_bit(v) as u8,
            View::DistV2(_) => self
                .spi_slot(intid)
                .and_then(|s| self.routes.get(s))
                .map_or(0, |r| r.targets),
            _ => 0,
        }
    }

    /// Applies one per-INTID operation; returns the vCPUs to kick.
    fn apply(&mut self, view: View, intid: u32, op: Op) -> u32 {
        if !view.sees(intid) {
            return 0;
        }
        let v = view.vcpu();
        let before_kick = self.kick_for(v, intid);
        let changed = match op {
            Op::Targets(byte) => self.write_targets(view, intid, byte),
            // GICv2 SGI pending state is per source and only reachable
            // through GICD_SPENDSGIRn/CPENDSGIRn (IHI 0048B §4.3,
            // GICD_ISPENDRn: writes to SGI bits are ignored).
            Op::Pend(_) if intid < 16 && matches!(view, View::DistV2(_)) => false,
            op => {
                let Some(irq) = self.irq_mut(v, intid) else {
                    return 0;
                };
                let before = *irq;
                op.apply(irq, intid);
                *irq != before
            }
        };
        if changed {
            before_kick | self.kick_for(v, intid)
        } else {
            0
        }
    }

    fn write_targets(&mut self, view: View, intid: u32, byte: u8) -> bool {
        // Private INTIDs' targets are read-only; only GICv2 has the register.
        if intid < PRIVATE_INTIDS || !matches!(view, View::DistV2(_)) {
            return false;
        }
        // all_vcpus() is at most 0xff with MAX_VCPUS == 8.
        let mask = byte & (self.all_vcpus() as u8);
        let Some(route) = self.spi_slot(intid).and_then(|s| self.routes.get_mut(s)) else {
            return false;
        };
        let changed = route.targets != mask;
        route.targets = mask;
        changed
    }
}

/// The operations a bank write performs on one interrupt.
mod irq_ops {
    use super::super::irq::{Irq, PRIORITY_MASK};
    use super::PRIVATE_INTIDS;

    #[derive(Clone, Copy, Debug)]
    pub(crate) enum Op {
        Group(bool),
        Enable(bool),
        Pend(bool),
        Activate(bool),
        Priority(u8),
        Config(bool),
        Targets(u8),
    }

    impl Op {
        pub(crate) fn apply(self, irq: &mut Irq, intid: u32) {
            match self {
                Self::Group(g) => irq.group1 = g,
                Self::Enable(e) => irq.enabled = e,
                // Clearing only drops the latch: an asserted level-sensitive
                // line keeps the interrupt pending (IHI 0069H §12.9,
                // GICD_ICPENDR<n>).
                Self::Pend(p) => irq.latch = p,
                Self::Activate(a) => irq.active = a,
                Self::Priority(p) => irq.priority = p & PRIORITY_MASK,
                // SGI configuration is fixed; PPIs are kept level-sensitive
                // (programmability is IMPLEMENTATION DEFINED, IHI 0069H
                // §12.11 GICR_ICFGR1) because a hardware-linked timer PPI
                // must stay level. Only SPIs are programmable.
                Self::Config(edge) if intid >= PRIVATE_INTIDS => irq.edge = edge,
                Self::Config(_) | Self::Targets(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_offsets() {
        assert_eq!(
            decode(0x104),
            Some(Slot {
                family: Family::SetEnable,
                first: 32
            })
        );
        assert_eq!(
            decode(0x421),
            Some(Slot {
                family: Family::Priority,
                first: 33
            })
        );
        assert_eq!(
            decode(0xc08),
            Some(Slot {
                family: Family::Config,
                first: 32
            })
        );
        assert_eq!(decode(0x000), None);
        assert_eq!(decode(0xf00), None);
    }

    #[test]
    fn widths() {
        let prio = decode(0x400).unwrap();
        let en = decode(0x100).unwrap();
        assert!(check_width(0x401, 1, prio).is_ok());
        assert!(check_width(0x100, 1, en).is_err());
        assert!(check_width(0x100, 8, en).is_err());
    }
}
