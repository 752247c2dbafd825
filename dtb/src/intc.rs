//! Finding a node's interrupt parent and splitting its `interrupts` into
//! specifiers (DTSpec v0.4 §2.4).

use fdt::Fdt;

use crate::error::{DtbError, NodeName};
use crate::gic::GIC_COMPATIBLES;
use crate::irq::gic_intid;
use crate::list::BoundedList;
use crate::props;
use crate::walk::{find_phandle, NodePath};

/// How many of a node's interrupts are decoded; the devices we describe use
/// at most five (the architected timer).
pub const MAX_NODE_IRQS: usize = 8;

/// Decoded interrupts of one node, in property order. `None` marks an
/// interrupt routed to a controller that is not a GIC (e.g. a GPIO or a
/// Raspberry Pi 3 `bcm2836-l1-intc`), which has no INTID.
pub(crate) type Intids = BoundedList<Option<u32>, MAX_NODE_IRQS>;

/// Bounds the interrupt-parent search (a cyclic `interrupt-parent` chain in
/// a hostile tree would otherwise loop forever).
const MAX_HOPS: usize = 64;

/// An interrupt controller as seen by its consumers.
#[derive(Clone, Copy, Debug)]
struct Controller {
    cells: u32,
    gic: bool,
}

/// Resolves interrupt parents, caching phandle lookups (each lookup is a
/// full tree walk, and nearly every node shares the root's parent).
pub(crate) struct IrqResolver<'b, 'a> {
    fdt: &'b Fdt<'a>,
    cache: [Option<(u32, Controller)>; 4],
    next_slot: usize,
}

impl<'b, 'a> IrqResolver<'b, 'a> {
    pub fn new(fdt: &'b Fdt<'a>) -> Self {
        Self {
            fdt,
            cache: [None; 4],
            next_slot: 0,
        }
    }

    /// The INTIDs of the current node's interrupts (first
    /// [`MAX_NODE_IRQS`]). `interrupts-extended` takes precedence over
    /// `interrupts`, as in Linux `of_irq_parse_one()`.
    pub fn intids(&mut self, path: &NodePath<'b, 'a>) -> Result<Intids, DtbError> {
        let node = path.node();
        let err = |reason| DtbError::MalformedInterrupts {
            node: NodeName::new(node.name),
            reason,
        };
        let mut out = Intids::new();

        if let Some(value) = props::raw(node, "interrupts-extended") {
            // <phandle specifier...> pairs; each specifier is as long as its
            // own controller's #interrupt-cells.
            let mut rest = value;
            while !rest.is_empty() && out.len() < MAX_NODE_IRQS {
                let (ph, after) =
                    take_cells(rest, 1).ok_or(err("truncated interrupts-extended"))?;
                let phandle = u32::from_be_bytes([ph[0], ph[1], ph[2], ph[3]]);
                let ctrl = self.by_phandle(phandle, node.name)?;
                let (spec, after) =
                    take_cells(after, ctrl.cells).ok_or(err("truncated interrupts-extended"))?;
                push(&mut out, decode(ctrl, spec).map_err(err)?);
                rest = after;
            }
        } else if let Some(value) = props::raw(node, "interrupts") {
            let ctrl = self.parent_of(path)?;
            let width = (ctrl.cells as usize)
                .checked_mul(4)
                .filter(|&w| w > 0)
                .ok_or(err("interrupt parent has #interrupt-cells = 0"))?;
            if !value.len().is_multiple_of(width) {
                return Err(err(
                    "length is not a multiple of the parent's #interrupt-cells",
                ));
            }
            for spec in value.chunks_exact(width).take(MAX_NODE_IRQS) {
                push(&mut out, decode(ctrl, spec).map_err(err)?);
            }
        }
        Ok(out)
    }

    /// Linux `of_irq_find_parent()`: follow `interrupt-parent` if present,
    /// else the tree parent, until a node with `#interrupt-cells` is reached.
    fn parent_of(&mut self, path: &NodePath<'b, 'a>) -> Result<Controller, DtbError> {
        let name = path.node().name;
        let err = |reason| DtbError::MalformedInterrupts {
            node: NodeName::new(name),
            reason,
        };
        let mut owned: Option<NodePath<'b, 'a>> = None;
        let mut idx = path.len() - 1;
        for _ in 0..MAX_HOPS {
            let cur = owned.as_ref().unwrap_or(path);
            let node = cur.get(idx).ok_or(err("internal: broken node path"))?;
            if let Some(ph) = props::u32_prop(node, "interrupt-parent")? {
                if let Some(ctrl) = self.cached(ph) {
                    return Ok(ctrl);
                }
                let target = find_phandle(self.fdt, ph)?
                    .ok_or(err("interrupt-parent phandle matches no node"))?;
                if let Some(ctrl) = controller(target.node())? {
                    self.remember(ph, ctrl);
                    return Ok(ctrl);
                }
                // Points at a non-controller: keep searching from there.
                idx = target.len() - 1;
                owned = Some(target);
            } else {
                idx = idx
                    .checked_sub(1)
                    .ok_or(err("no interrupt parent on the node or any ancestor"))?;
                let parent = cur.get(idx).ok_or(err("internal: broken node path"))?;
                if let Some(ctrl) = controller(parent)? {
                    return Ok(ctrl);
                }
            }
        }
        Err(err("interrupt-parent chain is cyclic or too long"))
    }

    /// The controller a phandle in `interrupts-extended` names; it must have
    /// `#interrupt-cells` itself (DTSpec §2.4.1.3).
    fn by_phandle(&mut self, phandle: u32, user: &str) -> Result<Controller, DtbError> {
        if let Some(ctrl) = self.cached(phandle) {
            return Ok(ctrl);
        }
        let err = |reason| DtbError::MalformedInterrupts {
            node: NodeName::new(user),
            reason,
        };
        let target = find_phandle(self.fdt, phandle)?
            .ok_or(err("interrupts-extended phandle matches no node"))?;
        let ctrl = controller(target.node())?.ok_or(err(
            "interrupts-extended names a node without #interrupt-cells",
        ))?;
        self.remember(phandle, ctrl);
        Ok(ctrl)
    }

    fn cached(&self, phandle: u32) -> Option<Controller> {
        self.cache
            .iter()
            .flatten()
            .find(|(p, _)| *p == phandle)
            .map(|(_, c)| *c)
    }

    fn remember(&mut self, phandle: u32, ctrl: Controller) {
        let slot = self.next_slot % self.cache.len();
        if let Some(entry) = self.cache.get_mut(slot) {
            *entry = Some((phandle, ctrl));
        }
        self.next_slot = self.next_slot.wrapping_add(1);
    }
}

/// `Some` if `node` is an interrupt controller or nexus (has
/// `#interrupt-cells`).
fn controller(node: fdt::node::FdtNode<'_, '_>) -> Result<Option<Controller>, DtbError> {
    Ok(
        props::u32_prop(node, "#interrupt-cells")?.map(|cells| Controller {
            cells,
            // A nexus with `interrupt-map` (DTSpec §2.4.3) would need the map
            // walked; only a real GIC yields INTIDs directly.
            gic: props::is_compatible(node, GIC_COMPATIBLES)
                && props::raw(node, "interrupt-map").is_none(),
        }),
    )
}

/// Splits `n` cells off the front of `bytes`.
fn take_cells(bytes: &[u8], n: u32) -> Option<(&[u8], &[u8])> {
    let len = (n as usize).checked_mul(4)?;
    (bytes.len() >= len).then(|| bytes.split_at(len))
}

/// One specifier (`spec` holds exactly the controller's cells).
fn decode(ctrl: Controller, spec: &[u8]) -> Result<Option<u32>, &'static str> {
    if !ctrl.gic {
        return Ok(None);
    }
    // arm,gic.yaml fixes 3 cells; arm,gic-v3.yaml allows 3 or 4.
    let mut cells = [0u32; 4];
    if !(3..=4).contains(&ctrl.cells) {
        return Err("GIC #interrupt-cells is not 3 or 4");
    }
    for (cell, bytes) in cells.iter_mut().zip(spec.chunks_exact(4)) {
        *cell = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    gic_intid(&cells[..ctrl.cells as usize])
        .map(Some)
        .map_err(|e| e.reason())
}

fn push(out: &mut Intids, intid: Option<u32>) {
    // Callers stop at MAX_NODE_IRQS, so this never drops anything.
    let _ = out.push(intid);
}
