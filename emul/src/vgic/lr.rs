//! List-register encodings: GICv3 `ICH_LR<n>_EL2` and GICv2 `GICH_LR<n>`.
//!
//! Pure bit packing so the glue can write what [`super::VGic::next_pending`]
//! returns straight into a list register, and read back what the guest left
//! there for [`super::VGic::lr_retired`].

use super::Injection;

/// The State field of a list register (identical encoding in GICv3
/// `ICH_LR<n>_EL2.State[63:62]` and GICv2 `GICH_LR<n>.State[29:28]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LrState {
    /// 0b00: the entry is free (after the guest deactivated the interrupt).
    Invalid,
    /// 0b01: not yet acknowledged by the guest.
    Pending,
    /// 0b10: acknowledged, not yet deactivated.
    Active,
    /// 0b11: acknowledged, and pending again.
    PendingActive,
}

impl LrState {
    pub fn from_flags(pending: bool, active: bool) -> Self {
        match (pending, active) {
            (false, false) => Self::Invalid,
            (true, false) => Self::Pending,
            (false, true) => Self::Active,
            (true, true) => Self::PendingActive,
        }
    }

    /// From the two-bit field value; only the low two bits are looked at.
    pub fn from_bits(bits: u64) -> Self {
        Self::from_flags(bits & 1 != 0, bits & 2 != 0)
    }

    pub fn bits(self) -> u64 {
        u64::from(self.pending()) | (u64::from(self.active()) << 1)
    }

    pub fn pending(self) -> bool {
        matches!(self, Self::Pending | Self::PendingActive)
    }

    pub fn active(self) -> bool {
        matches!(self, Self::Active | Self::PendingActive)
    }
}

// GICv3 ICH_LR<n>_EL2 (IHI 0069H §12.4, ICH_LR<n>_EL2):
// State[63:62] HW[61] Group[60] Priority[55:48] pINTID[44:32] vINTID[31:0],
// with bit 41 = EOI (maintenance interrupt on deactivation) when HW == 0.
const V3_STATE_SHIFT: u32 = 62;
const V3_HW: u64 = 1 << 61;
const V3_GROUP: u64 = 1 << 60;
const V3_PRIORITY_SHIFT: u32 = 48;
const V3_PINTID_SHIFT: u32 = 32;
const V3_PINTID_MASK: u64 = 0x1fff;
const V3_EOI: u64 = 1 << 41;

/// Packs an injection into an `ICH_LR<n>_EL2` value.
pub fn encode_v3(inj: &Injection) -> u64 {
    let mut lr = u64::from(inj.intid);
    lr |= u64::from(inj.priority) << V3_PRIORITY_SHIFT;
    if inj.group1 {
        lr |= V3_GROUP;
    }
    match inj.hw_pintid {
        Some(pintid) => lr |= V3_HW | ((u64::from(pintid) & V3_PINTID_MASK) << V3_PINTID_SHIFT),
        None if inj.eoi_maintenance => lr |= V3_EOI,
        None => {}
    }
    lr | (inj.state.bits() << V3_STATE_SHIFT)
}

/// The vINTID and state held in an `ICH_LR<n>_EL2` value.
pub fn decode_v3(lr: u64) -> (u32, LrState) {
    // vINTID is the low 32 bits by definition of the field.
    (lr as u32, LrState::from_bits(lr >> V3_STATE_SHIFT))
}

// GICv2 GICH_LR<n> (IHI 0048B §5.3, GICH_LRn): HW[31] Grp1[30]
// State[29:28] Priority[27:23] (the top five priority bits) and
// VirtualID[9:0]; bits [19:10] are PhysicalID when HW == 1, otherwise
// EOI[19] and, for SGIs, the requesting CPUID[12:10].
const V2_HW: u32 = 1 << 31;
const V2_GRP1: u32 = 1 << 30;
const V2_STATE_SHIFT: u32 = 28;
const V2_PRIORITY_SHIFT: u32 = 23;
const V2_PHYS_SHIFT: u32 = 10;
const V2_ID_MASK: u32 = 0x3ff;
const V2_EOI: u32 = 1 << 19;
const V2_CPUID_MASK: u32 = 0x7;

/// Packs an injection into a `GICH_LR<n>` value. For a GICv2 SGI the
/// source CPU comes from [`Injection::source_cpu`].
pub fn encode_v2(inj: &Injection) -> u32 {
    let mut lr = inj.intid & V2_ID_MASK;
    lr |= u32::from(inj.priority >> 3) << V2_PRIORITY_SHIFT;
    if inj.group1 {
        lr |= V2_GRP1;
    }
    match inj.hw_pintid {
        Some(pintid) => lr |= V2_HW | ((pintid & V2_ID_MASK) << V2_PHYS_SHIFT),
        None => {
            if inj.eoi_maintenance {
                lr |= V2_EOI;
            }
            if let Some(cpu) = inj.source_cpu {
                lr |= (u32::from(cpu) & V2_CPUID_MASK) << V2_PHYS_SHIFT;
            }
        }
    }
    // The state is two bits by construction.
    lr | ((inj.state.bits() as u32) << V2_STATE_SHIFT)
}

/// The VirtualID and state held in a `GICH_LR<n>` value.
pub fn decode_v2(lr: u32) -> (u32, LrState) {
    (
        lr & V2_ID_MASK,
        LrState::from_bits(u64::from(lr >> V2_STATE_SHIFT)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inj() -> Injection {
        Injection {
            intid: 33,
            priority: 0xa0,
            group1: true,
            state: LrState::Pending,
            edge: false,
            hw_pintid: None,
            source_cpu: None,
            eoi_maintenance: true,
        }
    }

    #[test]
    fn v3_round_trip() {
        let lr = encode_v3(&inj());
        assert_eq!(lr, (1 << 62) | (1 << 60) | (0xa0 << 48) | (1 << 41) | 33);
        assert_eq!(decode_v3(lr), (33, LrState::Pending));
        assert_eq!(decode_v3(lr & !(3 << 62)), (33, LrState::Invalid));
        assert_eq!(decode_v3(lr | (3 << 62)), (33, LrState::PendingActive));
    }

    #[test]
    fn v3_hw_link() {
        let i = Injection {
            intid: 27,
            hw_pintid: Some(27),
            ..inj()
        };
        let lr = encode_v3(&i);
        assert_eq!(lr & (1 << 61), 1 << 61);
        assert_eq!((lr >> 32) & 0x1fff, 27);
        assert_eq!(lr & (1 << 41), 0, "EOI bit is pINTID space with HW=1");
    }

    #[test]
    fn v2_round_trip() {
        let i = Injection {
            intid: 1,
            edge: true,
            eoi_maintenance: false,
            source_cpu: Some(3),
            state: LrState::Active,
            ..inj()
        };
        let lr = encode_v2(&i);
        assert_eq!(lr, (1 << 30) | (2 << 28) | (0x14 << 23) | (3 << 10) | 1);
        assert_eq!(decode_v2(lr), (1, LrState::Active));
        let hw = Injection {
            intid: 27,
            hw_pintid: Some(27),
            ..inj()
        };
        let lr = encode_v2(&hw);
        assert_eq!(lr >> 31, 1);
        assert_eq!((lr >> 10) & 0x3ff, 27);
        assert_eq!(decode_v2(lr), (27, LrState::Pending));
    }
}
