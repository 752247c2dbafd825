//! VMSAv8-64 stage-1 descriptor bits for the EL2 regime (Arm ARM D8.3).

pub const VALID: u64 = 1 << 0;
/// Bit 1: set for table (levels 0-2) and page (level 3) descriptors, clear
/// for block descriptors.
pub const TABLE_OR_PAGE: u64 = 1 << 1;
/// AP[1]: for regimes with a single privilege level it is RES1 (D8.4.1.2).
pub const AP_RES1: u64 = 1 << 6;
/// AP[2]: read-only.
pub const READ_ONLY: u64 = 1 << 7;
pub const INNER_SHAREABLE: u64 = 0b11 << 8;
/// Access flag: without it the first access faults (D8.5.1).
pub const AF: u64 = 1 << 10;
/// Execute-never for the EL2 regime (bit 54).
pub const XN: u64 = 1 << 54;
/// Output address bits [47:12].
pub const ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;

pub const fn attr_index(index: u64) -> u64 {
    (index & 0x7) << 2
}

/// A block descriptor mapping Normal write-back memory, read/write, executable.
pub const fn normal_block(pa: u64) -> u64 {
    (pa & ADDR_MASK) | VALID | attr_index(super::attr::NORMAL) | AP_RES1 | INNER_SHAREABLE | AF
}

/// A block descriptor mapping Device-nGnRnE memory, read/write, never executable.
pub const fn device_block(pa: u64) -> u64 {
    (pa & ADDR_MASK) | VALID | attr_index(super::attr::DEVICE) | AP_RES1 | AF | XN
}

/// A table descriptor pointing at the next-level table at `pa`.
pub const fn table(pa: u64) -> u64 {
    (pa & ADDR_MASK) | VALID | TABLE_OR_PAGE
}

/// The attribute index of a valid leaf descriptor.
pub const fn leaf_attr_index(desc: u64) -> u64 {
    (desc >> 2) & 0x7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_blocks() {
        let n = normal_block(0x4000_0000);
        assert_eq!(n & ADDR_MASK, 0x4000_0000);
        assert_eq!(n & 0b11, 0b01, "block, not table");
        assert_eq!(leaf_attr_index(n), super::super::attr::NORMAL);
        assert_eq!(n & XN, 0);
        let d = device_block(0x0900_0000 & !0x1f_ffff);
        assert_ne!(d & XN, 0);
        assert_eq!(leaf_attr_index(d), super::super::attr::DEVICE);
        assert_eq!(table(0x4100_3000) & 0b11, 0b11);
    }
}
