//! Bus-address to CPU-physical-address translation through `ranges`
//! (DTSpec v0.4 §2.3.8).
//!
//! QEMU `virt` puts devices at the root, where `reg` already holds CPU
//! addresses, but real boards do not: on a Raspberry Pi 4 the PL011 sits
//! under `/soc` at bus address 0x7e201000 and `/soc`'s `ranges` maps that to
//! CPU address 0xfe201000.

use crate::error::{DtbError, NodeName};
use crate::props;
use crate::reg::{be_number, child_cells};
use crate::walk::NodePath;

/// Translates `addr`, taken from the current node's `reg` (so expressed in
/// its parent's bus address space), up to the root's address space.
///
/// Mirrors Linux `of_translate_address()`: an empty `ranges` is a 1:1
/// mapping, a missing one means the bus is not memory-mapped and the address
/// cannot be translated.
pub(crate) fn to_cpu(path: &NodePath<'_, '_>, mut addr: u64) -> Result<u64, DtbError> {
    let name = path.node().name;
    let err = |reason| DtbError::MalformedReg {
        node: NodeName::new(name),
        reason,
    };

    // Buses from the node's parent up to (excluding) the root.
    for bus_index in (1..path.len().saturating_sub(1)).rev() {
        let (Some(bus), Some(above)) = (path.get(bus_index), path.get(bus_index - 1)) else {
            return Err(err("internal: broken node path"));
        };
        let Some(ranges) = props::raw(bus, "ranges") else {
            return Err(err(
                "an ancestor bus has no `ranges`, so the address is not CPU-visible",
            ));
        };
        if ranges.is_empty() {
            continue;
        }
        let child = child_cells(bus)?.address;
        let parent = child_cells(above)?.address;
        let size = child_cells(bus)?.size;
        if child > 2 || parent > 2 || size > 2 {
            return Err(err("an ancestor's `ranges` uses cells wider than 64 bits"));
        }
        let (c, p, s) = (child * 4, parent * 4, size * 4);
        let entry = c + p + s;
        if entry == 0 || !ranges.len().is_multiple_of(entry) {
            return Err(err(
                "an ancestor's `ranges` is not a whole number of entries",
            ));
        }
        addr = ranges
            .chunks_exact(entry)
            .find_map(|e| {
                let child_base = be_number(&e[..c])?;
                let parent_base = be_number(&e[c..c + p])?;
                let len = be_number(&e[c + p..])?;
                let offset = addr.checked_sub(child_base)?;
                (offset < len)
                    .then(|| parent_base.checked_add(offset))
                    .flatten()
            })
            .ok_or(err("address is not covered by an ancestor's `ranges`"))?;
    }
    Ok(addr)
}
