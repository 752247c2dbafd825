//! Identification registers: `GICD_IIDR`/`GICR_IIDR` and the CoreSight-style
//! peripheral/component ID block at the end of each frame.
//!
//! Linux checks only the architecture revision, `PIDR2[7:4]`
//! (`gic_validate_dist_version()` and the redistributor walk in
//! drivers/irqchip/irq-gic-v3.c accept 3 or 4), and matches `GICD_IIDR`
//! against its errata table, so the IIDR must not look like a real GIC.

/// `GICD_IIDR`/`GICR_IIDR`: ProductID[31:24] = 'E' (emulated), Variant and
/// Revision 0, Implementer[11:0] = 0x43B (Arm's JEP106 code, as IHI 0069H
/// §12.9 GICD_IIDR lays out). No Linux GIC quirk matches product 0x45.
pub(crate) const IIDR: u32 = (0x45 << 24) | 0x43b;

/// Component ID bytes CIDR0..CIDR3 (the standard 0xB105F00D preamble).
const CIDR: [u32; 4] = [0x0d, 0xf0, 0x05, 0xb1];

/// JEP106-used flag and the low identity-code bits of Arm (0x3B) that share
/// `PIDR2` with ArchRev.
const PIDR2_JEDEC: u32 = 0xb;

/// Reads the ID block register at `offset` from the block start (PIDR4 at
/// +0x00 ... PIDR2 at +0x18 ... CIDR3 at +0x2C; IHI 0069H §12.9 GICD_PIDR2
/// and the ID register map in §12.8; same layout at 0xFD0 in GICv2,
/// IHI 0048B §4.3 "Identification registers"). `arch_rev` is 2 or 3.
pub(crate) fn read(arch_rev: u32, offset: u64) -> u32 {
    match offset {
        0x18 => (arch_rev << 4) | PIDR2_JEDEC,
        0x20..=0x2c => {
            let index = ((offset - 0x20) / 4) as usize;
            CIDR.get(index).copied().unwrap_or(0)
        }
        _ => 0,
    }
}

/// Start of the ID block in a GICv3 distributor or redistributor frame.
pub(crate) const V3_BLOCK: u64 = 0xffd0;
/// Start of the ID block in a GICv2 distributor.
pub(crate) const V2_BLOCK: u64 = 0xfd0;
/// Size of the ID block (12 words).
const BLOCK_SIZE: u64 = 0x30;

/// Whether `offset` falls in the ID block starting at `block`.
pub(crate) fn in_block(offset: u64, block: u64) -> bool {
    (block..block + BLOCK_SIZE).contains(&offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidr2_and_cidr() {
        assert_eq!((read(3, 0x18) >> 4) & 0xf, 3);
        assert_eq!((read(2, 0x18) >> 4) & 0xf, 2);
        let cid = (0..4).fold(0u32, |acc, i| acc | (read(3, 0x20 + 4 * i) << (8 * i)));
        assert_eq!(cid, 0xb105_f00d);
        assert_eq!(read(3, 0x00), 0);
    }
}
