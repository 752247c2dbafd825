//! RAM and reserved RAM.

use fdt::Fdt;

use crate::error::DtbError;
use crate::host::{MAX_MEMORY_REGIONS, MAX_RESERVED_REGIONS};
use crate::props;
use crate::reg::{checked_region, child_cells, Reg};
use crate::regions::Regions;
use crate::walk::NodePath;

/// RAM: every available root child with `device_type = "memory"`, whatever
/// its name (DTSpec v0.4 §3.4), decoded with the root's cells.
///
/// Only root children are considered, as in Linux
/// `early_init_dt_scan_memory()`: a memory node deeper down would need bus
/// translation, and nothing produces one. Disabled nodes (QEMU's
/// `secram@e000000` with `secure=on`) and zero-sized entries are skipped,
/// again as Linux does.
pub(crate) fn memory(fdt: &Fdt<'_>) -> Result<Regions<MAX_MEMORY_REGIONS>, DtbError> {
    let root = NodePath::root(fdt)?.node();
    let cells = child_cells(root)?;
    let mut out = Regions::new();
    for node in root.children() {
        if !props::device_type_is(node, "memory") || !props::is_available(node) {
            continue;
        }
        let Some(value) = props::raw(node, "reg") else {
            continue;
        };
        push_all(
            &mut out,
            node.name,
            Reg::new(node.name, value, cells)?,
            "memory regions",
        )?;
    }
    if out.is_empty() {
        return Err(DtbError::NoMemory);
    }
    Ok(out)
}

/// Reserved RAM: the header's memory reservation block (DTSpec v0.4 §5.3),
/// then every available child of `/reserved-memory` that has a `reg`
/// (Linux binding `reserved-memory/reserved-memory.yaml`). Children with only
/// `size` are dynamic allocations for the OS and are skipped.
pub(crate) fn reserved(fdt: &Fdt<'_>) -> Result<Regions<MAX_RESERVED_REGIONS>, DtbError> {
    let mut out = Regions::new();
    for r in fdt.memory_reservations() {
        // `fdt` exposes these as pointer/usize; we only build for 64-bit.
        let (base, size) = (r.address().addr() as u64, r.size() as u64);
        if size != 0 {
            out.push_named(
                checked_region("/memreserve/", base, size)?,
                "reserved regions",
            )?;
        }
    }

    let root = NodePath::root(fdt)?.node();
    let Some(rmem) = root.children().find(|n| n.name == "reserved-memory") else {
        return Ok(out);
    };
    // The binding requires `ranges;` (identity) and the root's cells, so
    // child addresses are physical; decode with /reserved-memory's own cells.
    let cells = child_cells(rmem)?;
    for node in rmem.children() {
        if !props::is_available(node) {
            continue;
        }
        let Some(value) = props::raw(node, "reg") else {
            continue;
        };
        push_all(
            &mut out,
            node.name,
            Reg::new(node.name, value, cells)?,
            "reserved regions",
        )?;
    }
    Ok(out)
}

/// Appends every non-empty entry of `reg`; a RAM range needs a size.
fn push_all<const N: usize>(
    out: &mut Regions<N>,
    node: &str,
    reg: Reg<'_>,
    what: &'static str,
) -> Result<(), DtbError> {
    if reg.cells().size == 0 {
        return Err(DtbError::MalformedReg {
            node: crate::error::NodeName::new(node),
            reason: "parent has #size-cells = 0",
        });
    }
    for i in 0..reg.len() {
        let Some((base, size)) = reg.entry(i) else {
            continue;
        };
        if size != 0 {
            out.push_named(checked_region(node, base, size)?, what)?;
        }
    }
    Ok(())
}
