//! virtio-mmio transports.

use core::ops::ControlFlow;

use fdt::Fdt;

use crate::error::{DtbError, NodeName};
use crate::host::{VirtioMmio, MAX_VIRTIO_MMIO};
use crate::intc::IrqResolver;
use crate::list::BoundedList;
use crate::props;
use crate::reg::mmio_region;
use crate::walk::walk;

/// Every available `virtio,mmio` node (Linux `virtio/mmio.yaml`) in tree
/// order. Both `reg` and one GIC interrupt are required by the binding and
/// by us: a transport without its interrupt is unusable.
pub(crate) fn collect<'b, 'a>(
    fdt: &'b Fdt<'a>,
    irq: &mut IrqResolver<'b, 'a>,
) -> Result<BoundedList<VirtioMmio, MAX_VIRTIO_MMIO>, DtbError> {
    let mut out = BoundedList::new();
    walk(fdt, &mut |path| {
        let node = path.node();
        if !props::is_compatible(node, &["virtio,mmio"]) || !props::is_available(node) {
            return Ok(ControlFlow::Continue(()));
        }
        let name = NodeName::new(node.name);
        let region = mmio_region(path, 0)?.ok_or(DtbError::MalformedReg {
            node: name,
            reason: "virtio-mmio has no reg",
        })?;
        let intid = irq
            .intids(path)?
            .first()
            .flatten()
            .ok_or(DtbError::MalformedInterrupts {
                node: name,
                reason: "virtio-mmio has no interrupt routed to the GIC",
            })?;
        out.push(VirtioMmio { region, intid })
            .map_err(|_| DtbError::TooMany("virtio-mmio devices"))?;
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(out)
}
