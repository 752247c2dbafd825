//! Decoding GIC interrupt specifiers into INTIDs.
//!
//! `fdt` 0.1.5's `FdtNode::interrupts()` only understands 1- or 2-cell
//! specifiers (a 2-cell one is even read as a single u64), so the GIC's
//! 3-cell form `<type number flags>` cannot go through it. The raw cells are
//! split by the interrupt parent's `#interrupt-cells` in `intc.rs` and
//! decoded here.
//!
//! Cell meanings, from the Linux bindings
//! `interrupt-controller/arm,gic.yaml` and `arm,gic-v3.yaml`:
//! - cell 0: 0 = SPI, 1 = PPI; GICv3.1 adds 2 = extended SPI, 3 = extended PPI
//! - cell 1: number within that range
//! - cell 2: trigger flags (and a CPU mask for GICv2 PPIs) — not needed here
//! - cell 3 (GICv3 with `#interrupt-cells = 4` only): PPI partition phandle

use core::fmt;

/// Specifier type cell values.
pub const GIC_SPI: u32 = 0;
pub const GIC_PPI: u32 = 1;
pub const GIC_ESPI: u32 = 2;
pub const GIC_EPPI: u32 = 3;

/// Why a GIC specifier was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicSpecError {
    /// Fewer than two cells: no type/number.
    TooFewCells,
    /// Cell 0 is not SPI/PPI/ESPI/EPPI.
    UnknownType(u32),
    /// Cell 1 is beyond the range of its type.
    OutOfRange { kind: u32, number: u32 },
}

impl GicSpecError {
    /// A fixed one-line reason, for [`DtbError`](crate::DtbError).
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::TooFewCells => "GIC specifier has fewer than 2 cells",
            Self::UnknownType(_) => "GIC specifier type is not SPI, PPI, ESPI or EPPI",
            Self::OutOfRange { .. } => "GIC interrupt number out of range for its type",
        }
    }
}

impl fmt::Display for GicSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::OutOfRange { kind, number } => {
                write!(f, "{} (type {kind}, number {number})", self.reason())
            }
            Self::UnknownType(t) => write!(f, "{} (type {t})", self.reason()),
            Self::TooFewCells => f.write_str(self.reason()),
        }
    }
}

/// The INTID of a GIC interrupt specifier (cells as read from the tree).
///
/// | type | numbers | INTIDs       |
/// |------|---------|--------------|
/// | SPI  | 0..=987 | 32..=1019    |
/// | PPI  | 0..=15  | 16..=31      |
/// | ESPI | 0..=1023| 4096..=5119  |
/// | EPPI | 0..=63  | 1056..=1119  |
///
/// INTID ranges are from the GIC architecture spec (IHI 0069, "INTIDs");
/// 1020..=1023 are special and never described in a tree.
pub const fn gic_intid(spec: &[u32]) -> Result<u32, GicSpecError> {
    let [kind, number, ..] = *spec else {
        return Err(GicSpecError::TooFewCells);
    };
    let (base, max) = match kind {
        GIC_SPI => (32, 987),
        GIC_PPI => (16, 15),
        GIC_ESPI => (4096, 1023),
        GIC_EPPI => (1056, 63),
        _ => return Err(GicSpecError::UnknownType(kind)),
    };
    if number > max {
        return Err(GicSpecError::OutOfRange { kind, number });
    }
    Ok(base + number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spi_and_ppi() {
        // QEMU virt: pl011 <0 1 4> is INTID 33, virtio-mmio <0 16 1> is 48.
        assert_eq!(gic_intid(&[0, 1, 4]), Ok(33));
        assert_eq!(gic_intid(&[0, 16, 1]), Ok(48));
        // Arch timer <1 14 4> (non-secure physical) is INTID 30.
        assert_eq!(gic_intid(&[1, 14, 4]), Ok(30));
        // GICv2 PPIs carry a CPU mask in the flags cell; ignored.
        assert_eq!(gic_intid(&[1, 11, 0x304]), Ok(27));
        // GICv3 maintenance interrupt <1 9 4>.
        assert_eq!(gic_intid(&[1, 9, 4]), Ok(25));
        // 4-cell GICv3 form with a partition phandle.
        assert_eq!(gic_intid(&[1, 7, 4, 0x8000]), Ok(23));
    }

    #[test]
    fn range_edges() {
        assert_eq!(gic_intid(&[0, 0, 4]), Ok(32));
        assert_eq!(gic_intid(&[0, 987, 4]), Ok(1019));
        assert_eq!(
            gic_intid(&[0, 988, 4]),
            Err(GicSpecError::OutOfRange {
                kind: 0,
                number: 988
            })
        );
        assert_eq!(gic_intid(&[1, 0, 4]), Ok(16));
        assert_eq!(gic_intid(&[1, 15, 4]), Ok(31));
        assert!(gic_intid(&[1, 16, 4]).is_err());
        assert_eq!(gic_intid(&[2, 0, 4]), Ok(4096));
        assert_eq!(gic_intid(&[2, 1023, 4]), Ok(5119));
        assert!(gic_intid(&[2, 1024, 4]).is_err());
        assert_eq!(gic_intid(&[3, 0, 4]), Ok(1056));
        assert_eq!(gic_intid(&[3, 63, 4]), Ok(1119));
        assert!(gic_intid(&[3, 64, 4]).is_err());
        assert!(gic_intid(&[1, u32::MAX, 4]).is_err());
    }

    #[test]
    fn bad_shapes() {
        assert_eq!(gic_intid(&[]), Err(GicSpecError::TooFewCells));
        assert_eq!(gic_intid(&[0]), Err(GicSpecError::TooFewCells));
        assert_eq!(gic_intid(&[4, 0, 0]), Err(GicSpecError::UnknownType(4)));
        assert_eq!(
            gic_intid(&[u32::MAX, 0, 0]),
            Err(GicSpecError::UnknownType(u32::MAX))
        );
        assert!(!GicSpecError::UnknownType(4).to_string().contains('\n'));
    }
}
