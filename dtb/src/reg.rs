//! Decoding `reg` with the parent's `#address-cells`/`#size-cells`.
//!
//! `fdt` 0.1.5's `FdtNode::reg()` does honour the parent's cell sizes, but it
//! silently drops a trailing partial entry, returns `None` (not an error) for
//! cells > 2, and yields `*const u8`/`usize`. We decode the raw bytes so a
//! malformed length is reported, and translate through `ranges`.

use fdt::node::FdtNode;

use crate::error::{DtbError, NodeName};
use crate::props;
use crate::regions::Region;
use crate::translate;
use crate::walk::NodePath;

/// `#address-cells`/`#size-cells` of a node, i.e. the layout of its
/// children's `reg` (DTSpec v0.4 §2.3.5). Absent values default to 2 and 1;
/// they are not inherited from further up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cells {
    pub address: usize,
    pub size: usize,
}

pub(crate) fn child_cells(node: FdtNode<'_, '_>) -> Result<Cells, DtbError> {
    let address = props::u32_prop(node, "#address-cells")?.unwrap_or(2) as usize;
    let size = props::u32_prop(node, "#size-cells")?.unwrap_or(1) as usize;
    Ok(Cells { address, size })
}

/// Reads a big-endian number of 0, 4 or 8 bytes.
pub(crate) fn be_number(bytes: &[u8]) -> Option<u64> {
    match *bytes {
        [] => Some(0),
        [a, b, c, d] => Some(u64::from(u32::from_be_bytes([a, b, c, d]))),
        [a, b, c, d, e, f, g, h] => Some(u64::from_be_bytes([a, b, c, d, e, f, g, h])),
        _ => None,
    }
}

/// A checked `reg` value: whole entries of at most 64-bit numbers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reg<'a> {
    data: &'a [u8],
    cells: Cells,
}

impl<'a> Reg<'a> {
    /// Checks `value` against `cells`; `node` names the owner in errors.
    pub fn new(node: &str, value: &'a [u8], cells: Cells) -> Result<Self, DtbError> {
        let err = |reason| DtbError::MalformedReg {
            node: NodeName::new(node),
            reason,
        };
        if cells.address > 2 || cells.size > 2 {
            return Err(err(
                "parent's #address-cells/#size-cells above 2 do not fit 64 bits",
            ));
        }
        let entry = (cells.address + cells.size) * 4;
        if entry == 0 {
            return Err(err("parent has #address-cells = #size-cells = 0"));
        }
        if !value.len().is_multiple_of(entry) {
            return Err(err(
                "length is not a whole number of (address, size) entries",
            ));
        }
        Ok(Self { data: value, cells })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.data.len() / ((self.cells.address + self.cells.size) * 4)
    }

    /// `(address, size)` of entry `i`, untranslated. Size is 0 when the
    /// parent has `#size-cells = 0`.
    pub fn entry(&self, i: usize) -> Option<(u64, u64)> {
        let (a, s) = (self.cells.address * 4, self.cells.size * 4);
        let start = i.checked_mul(a + s)?;
        let e = self.data.get(start..start + a + s)?;
        Some((be_number(&e[..a])?, be_number(&e[a..])?))
    }

    /// Parent cell sizes used to decode this value.
    pub fn cells(&self) -> Cells {
        self.cells
    }
}

/// The current node's `reg`, decoded with its parent's cells; `None` if it
/// has no `reg`.
pub(crate) fn reg<'a>(path: &NodePath<'_, 'a>) -> Result<Option<Reg<'a>>, DtbError> {
    let node = path.node();
    let Some(value) = props::raw(node, "reg") else {
        return Ok(None);
    };
    // DTSpec §2.3.5: the root's own `reg` (rare) uses the defaults.
    let cells = match path.parent() {
        Some(parent) => child_cells(parent)?,
        None => Cells {
            address: 2,
            size: 1,
        },
    };
    Reg::new(node.name, value, cells).map(Some)
}

/// Entry `index` of the current node's `reg` as a CPU physical region,
/// translated through every ancestor's `ranges`. `Ok(None)` when there is no
/// `reg` or fewer entries.
pub(crate) fn mmio_region(
    path: &NodePath<'_, '_>,
    index: usize,
) -> Result<Option<Region>, DtbError> {
    let Some(reg) = reg(path)? else {
        return Ok(None);
    };
    let Some((addr, size)) = reg.entry(index) else {
        return Ok(None);
    };
    let node = path.node();
    if reg.cells().size == 0 {
        return Err(DtbError::MalformedReg {
            node: NodeName::new(node.name),
            reason: "parent has #size-cells = 0",
        });
    }
    let base = translate::to_cpu(path, addr)?;
    checked_region(node.name, base, size).map(Some)
}

/// A region that does not wrap past 2^64.
pub(crate) fn checked_region(node: &str, base: u64, size: u64) -> Result<Region, DtbError> {
    let r = Region::new(base, size);
    match r.checked_end() {
        Some(_) => Ok(r),
        None => Err(DtbError::MalformedReg {
            node: NodeName::new(node),
            reason: "region wraps past 2^64",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(address: usize, size: usize) -> Cells {
        Cells { address, size }
    }

    #[test]
    fn decodes_2_2_and_1_1() {
        let v = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0];
        let r = Reg::new("m", &v, cells(2, 2)).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r.entry(0), Some((0x1_0000_0000, 0x4000_0000)));
        assert_eq!(r.entry(1), None);
        let r = Reg::new("m", &v, cells(1, 1)).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.entry(1), Some((0, 0x4000_0000)));
    }

    #[test]
    fn rejects_partial_entries_and_wide_cells() {
        let v = [0u8; 12];
        assert!(matches!(
            Reg::new("m", &v, cells(2, 2)),
            Err(DtbError::MalformedReg { .. })
        ));
        assert!(Reg::new("m", &v, cells(2, 1)).is_ok());
        assert!(Reg::new("m", &v, cells(3, 0)).is_err());
        assert!(Reg::new("m", &v, cells(0, 0)).is_err());
        assert!(Reg::new("m", &[], cells(1, 0)).unwrap().len() == 0);
    }

    #[test]
    fn wrapping_region_is_an_error() {
        assert!(checked_region("x", u64::MAX, 2).is_err());
        assert_eq!(
            checked_region("x", u64::MAX - 1, 1),
            Ok(Region::new(u64::MAX - 1, 1))
        );
    }
}
