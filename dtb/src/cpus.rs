//! CPU MPIDRs from `/cpus`.

use fdt::Fdt;

use crate::error::{DtbError, NodeName};
use crate::host::MAX_CPUS;
use crate::props;
use crate::reg::{child_cells, Reg};
use crate::walk::NodePath;

/// Fills `out` with the `reg` of every `/cpus` child whose `device_type` is
/// "cpu" and returns how many there are. Per Linux `arm/cpus.yaml`, `reg` is
/// the MPIDR_EL1 affinity: one cell (Aff2..Aff0) or two (Aff3, then
/// Aff2..Aff0), which as a 64-bit number lines up with MPIDR_EL1 itself.
///
/// `/cpus/cpu-map` and other helpers lack `device_type` and are skipped.
/// `status = "disabled"` is kept: for CPUs it means "parked, can be started
/// via enable-method" (DTSpec v0.4 §3.8.1), so only "fail*" is skipped, like
/// Linux `of_get_next_cpu_node()`.
pub(crate) fn collect(fdt: &Fdt<'_>, out: &mut [u64; MAX_CPUS]) -> Result<usize, DtbError> {
    let root = NodePath::root(fdt)?.node();
    let Some(cpus) = root.children().find(|n| n.name == "cpus") else {
        return Err(DtbError::NoCpus);
    };
    let cells = child_cells(cpus)?;
    let mut count = 0;
    for node in cpus.children() {
        if !props::device_type_is(node, "cpu") || props::is_failed(node) {
            continue;
        }
        let err = |reason| DtbError::MalformedReg {
            node: NodeName::new(node.name),
            reason,
        };
        let value = props::raw(node, "reg").ok_or(err("cpu node has no reg"))?;
        let (mpidr, _) = Reg::new(node.name, value, cells)?
            .entry(0)
            .ok_or(err("cpu node has an empty reg"))?;
        let slot = out.get_mut(count).ok_or(DtbError::TooMany("cpus"))?;
        *slot = mpidr;
        count += 1;
    }
    if count == 0 {
        return Err(DtbError::NoCpus);
    }
    Ok(count)
}
