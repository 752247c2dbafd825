//! Stage-2 descriptor encoding and the 4 KiB-granule lookup geometry.
//!
//! Formats are the VMSAv8-64 stage 2 table/block/page descriptors (Arm ARM
//! D8.3, "Translation table descriptor formats"), with FEAT_S2FWB disabled
//! (HCR_EL2.FWB = 0) so MemAttr[3:0] is the stage-2 memory type that gets
//! combined with the guest's stage 1 type (D8, "Stage 2 memory type and
//! Cacheability attributes when FEAT_S2FWB is disabled"). Output addresses
//! are 48-bit (no FEAT_LPA/LPA2).

/// Bits[1:0] of a descriptor.
const TYPE_MASK: u64 = 0b11;
/// Block descriptor (levels 1 and 2).
const TYPE_BLOCK: u64 = 0b01;
/// Table descriptor at levels 0-2, page descriptor at level 3.
const TYPE_TABLE_OR_PAGE: u64 = 0b11;

/// Output/next-level address bits [47:12].
pub(super) const OA_MASK: u64 = 0x0000_ffff_ffff_f000;
/// Lower [11:2] and upper [63:50] attribute fields of a leaf: copied as a
/// whole when a block is split, so nothing we do not model is lost.
const ATTR_FIELDS: u64 = 0xfffc_0000_0000_0ffc;

/// MemAttr[3:0] (bits [5:2]): 0b1111 = Normal, outer and inner write-back.
const MEMATTR_NORMAL_WB: u64 = 0b1111 << 2;
/// MemAttr[3:0] = 0b0001: Device-nGnRE (posted writes are fine for the
/// emulated/passed-through devices; Linux maps them nGnRE itself).
const MEMATTR_DEVICE_NGNRE: u64 = 0b0001 << 2;
const MEMATTR_MASK: u64 = 0b1111 << 2;
/// S2AP[1:0] (bits [7:6], D8 "Stage 2 data access permissions").
const S2AP_RO: u64 = 0b01 << 6;
const S2AP_RW: u64 = 0b11 << 6;
const S2AP_MASK: u64 = 0b11 << 6;
/// SH[1:0] = Inner Shareable. Only meaningful for Normal memory: Device
/// memory is always treated as Outer Shareable.
const SH_INNER: u64 = 0b11 << 8;
/// Access flag: set, because we do not manage stage-2 AF faults (D8,
/// "The Access flag").
const AF: u64 = 1 << 10;
/// XN[1:0] (bits [54:53]) = 0b10: not executable at EL1 or EL0. Bit 54 alone
/// is XN when FEAT_XNX is absent, so this value works on every CPU.
const XN: u64 = 0b10 << 53;
const XN_MASK: u64 = 0b11 << 53;

/// Stage-2 attributes of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S2Attr {
    /// Normal write-back, read/write, executable: guest RAM.
    NormalRwx,
    /// Normal write-back, read/write, execute-never.
    NormalRw,
    /// Normal write-back, read-only, executable (e.g. a guest ROM).
    NormalRx,
    /// Normal write-back, read-only, execute-never.
    NormalRo,
    /// Device-nGnRE, read/write, execute-never: passed-through MMIO.
    DeviceRw,
    /// Device-nGnRE, read-only, execute-never.
    DeviceRo,
}

impl S2Attr {
    /// The attribute bits of a leaf descriptor with these attributes.
    pub const fn bits(self) -> u64 {
        let normal = MEMATTR_NORMAL_WB | SH_INNER | AF;
        let device = MEMATTR_DEVICE_NGNRE | AF | XN;
        match self {
            Self::NormalRwx => normal | S2AP_RW,
            Self::NormalRw => normal | S2AP_RW | XN,
            Self::NormalRx => normal | S2AP_RO,
            Self::NormalRo => normal | S2AP_RO | XN,
            Self::DeviceRw => device | S2AP_RW,
            Self::DeviceRo => device | S2AP_RO,
        }
    }

    /// Recognises the attributes of a leaf descriptor written by [`bits`].
    ///
    /// [`bits`]: Self::bits
    pub fn from_descriptor(desc: u64) -> Option<Self> {
        let device = match desc & MEMATTR_MASK {
            MEMATTR_NORMAL_WB => false,
            MEMATTR_DEVICE_NGNRE => true,
            _ => return None,
        };
        let writable = match desc & S2AP_MASK {
            S2AP_RW => true,
            S2AP_RO => false,
            _ => return None,
        };
        let exec = desc & XN_MASK == 0;
        Some(match (device, writable, exec) {
            (false, true, true) => Self::NormalRwx,
            (false, true, false) => Self::NormalRw,
            (false, false, true) => Self::NormalRx,
            (false, false, false) => Self::NormalRo,
            (true, true, false) => Self::DeviceRw,
            (true, false, false) => Self::DeviceRo,
            (true, _, true) => return None,
        })
    }

    pub const fn is_device(self) -> bool {
        matches!(self, Self::DeviceRw | Self::DeviceRo)
    }

    pub const fn is_writable(self) -> bool {
        matches!(self, Self::NormalRwx | Self::NormalRw | Self::DeviceRw)
    }

    pub const fn is_executable(self) -> bool {
        matches!(self, Self::NormalRwx | Self::NormalRx)
    }
}

/// What a descriptor is at a given lookup level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Invalid,
    Table,
    /// Block (levels 1-2) or page (level 3).
    Leaf,
}

pub(super) const fn kind(desc: u64, level: u8) -> Kind {
    match (desc & TYPE_MASK, level) {
        (TYPE_TABLE_OR_PAGE, 3) => Kind::Leaf,
        (TYPE_TABLE_OR_PAGE, _) => Kind::Table,
        // 0b01 at level 3 is reserved and treated as invalid; level-0
        // blocks need FEAT_LPA2 (D8.3), which we never write.
        (TYPE_BLOCK, 1 | 2) => Kind::Leaf,
        _ => Kind::Invalid,
    }
}

/// A leaf for `oa` at `level` (block at 1-2, page at 3).
pub(super) const fn leaf(level: u8, oa: u64, attr_bits: u64) -> u64 {
    let ty = if level == 3 {
        TYPE_TABLE_OR_PAGE
    } else {
        TYPE_BLOCK
    };
    (oa & OA_MASK) | (attr_bits & ATTR_FIELDS) | ty
}

/// The attribute fields of a leaf, for re-use when splitting it.
pub(super) const fn leaf_attr_bits(desc: u64) -> u64 {
    desc & ATTR_FIELDS
}

/// A table descriptor. Stage-2 table descriptors carry no hierarchical
/// attributes (APTable/XNTable are RES0 at stage 2, D8.3).
pub(super) const fn table(pa: u64) -> u64 {
    (pa & OA_MASK) | TYPE_TABLE_OR_PAGE
}

/// Lowest input-address bit resolved at `level` with a 4 KiB granule:
/// 39, 30, 21, 12 for levels 0-3 (D8.2, "Translation table lookup levels").
pub(super) const fn shift(level: u8) -> u32 {
    12 + 9 * (3 - level as u32)
}

/// Bytes covered by one entry at `level`.
pub(super) const fn span(level: u8) -> u64 {
    1 << shift(level)
}

/// Whether `[ipa, ipa+len)` onto `pa` can be one leaf at `level`: 1 GiB and
/// 2 MiB blocks and 4 KiB pages; no level-0 blocks without FEAT_LPA2.
pub(super) const fn fits_leaf(level: u8, ipa: u64, pa: u64, len: u64) -> bool {
    let span = span(level);
    level >= 1 && len == span && ipa & (span - 1) == 0 && pa & (span - 1) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_and_fields() {
        for a in [
            S2Attr::NormalRwx,
            S2Attr::NormalRw,
            S2Attr::NormalRx,
            S2Attr::NormalRo,
            S2Attr::DeviceRw,
            S2Attr::DeviceRo,
        ] {
            let d = leaf(2, 0x4020_0000, a.bits());
            assert_eq!(S2Attr::from_descriptor(d), Some(a));
            assert_ne!(d & AF, 0, "{a:?} sets AF");
            assert_eq!(d & OA_MASK, 0x4020_0000);
            assert_eq!(a.is_executable(), d & (1 << 54) == 0);
        }
        let n = S2Attr::NormalRwx.bits();
        assert_eq!((n >> 2) & 0xf, 0b1111);
        assert_eq!((n >> 6) & 0b11, 0b11);
        assert_eq!((n >> 8) & 0b11, 0b11);
        let d = S2Attr::DeviceRw.bits();
        assert_eq!((d >> 2) & 0xf, 0b0001);
        assert_eq!((d >> 53) & 0b11, 0b10);
    }

    #[test]
    fn kinds_per_level() {
        assert_eq!(kind(0, 1), Kind::Invalid);
        assert_eq!(kind(table(0x1000), 0), Kind::Table);
        assert_eq!(kind(table(0x1000), 2), Kind::Table);
        assert_eq!(kind(leaf(3, 0x1000, 0), 3), Kind::Leaf);
        assert_eq!(kind(leaf(1, 0x4000_0000, 0), 1), Kind::Leaf);
        assert_eq!(kind(0b01, 3), Kind::Invalid);
        assert_eq!(kind(0b01, 0), Kind::Invalid);
        assert_eq!([shift(0), shift(1), shift(2), shift(3)], [39, 30, 21, 12]);
    }
}
