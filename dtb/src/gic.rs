//! The GIC's MMIO frames.

use fdt::Fdt;

use crate::error::{DtbError, NodeName};
use crate::host::{GicInfo, GicVersion};
use crate::intc::IrqResolver;
use crate::props;
use crate::reg::mmio_region;
use crate::regions::{Region, Regions};
use crate::walk::{find_first, NodePath};

/// Linux `interrupt-controller/arm,gic-v3.yaml`.
pub(crate) const GICV3: &[&str] = &["arm,gic-v3"];

/// The GICv2 implementations an ARMv8 host can have (Linux
/// `interrupt-controller/arm,gic.yaml`); QEMU `virt` says
/// "arm,cortex-a15-gic".
pub(crate) const GICV2: &[&str] = &["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a7-gic"];

/// Everything using the GIC's `<type number flags>` interrupt specifiers,
/// for decoding other nodes' interrupts (also older arm,gic.yaml parts).
pub(crate) const GIC_COMPATIBLES: &[&str] = &[
    "arm,gic-v3",
    "arm,cortex-a15-gic",
    "arm,gic-400",
    "arm,cortex-a7-gic",
    "arm,cortex-a9-gic",
    "arm,cortex-a5-gic",
    "arm,pl390",
];

/// The first available GICv3 or GICv2 node in tree order.
pub(crate) fn find<'b, 'a>(
    fdt: &'b Fdt<'a>,
    irq: &mut IrqResolver<'b, 'a>,
) -> Result<Option<GicInfo>, DtbError> {
    let Some(path) = find_first(fdt, |p| {
        let n = p.node();
        Ok(props::is_available(n)
            && (props::is_compatible(n, GICV3) || props::is_compatible(n, GICV2)))
    })?
    else {
        return Ok(None);
    };
    let node = path.node();
    let err = |reason| DtbError::MalformedReg {
        node: NodeName::new(node.name),
        reason,
    };
    let frame = |i: usize| mmio_region(&path, i);

    let version = if props::is_compatible(node, GICV3) {
        GicVersion::V3
    } else {
        GicVersion::V2
    };
    let distributor = frame(0)?.ok_or(err("GIC has no distributor (GICD) entry"))?;
    let mut redistributors = Regions::new();
    // Index of the first optional frame after GICD (and, on v3, the GICRs).
    let after = match version {
        GicVersion::V3 => {
            // arm,gic-v3.yaml: reg = GICD, one entry per redistributor
            // region (`#redistributor-regions`, default 1), then optional
            // GICC, GICH, GICV.
            let n = props::u32_prop(node, "#redistributor-regions")?.unwrap_or(1) as usize;
            if n == 0 {
                return Err(DtbError::MalformedProperty {
                    node: NodeName::new(node.name),
                    property: "#redistributor-regions",
                    reason: "must be at least 1",
                });
            }
            for i in 1..=n {
                let r = frame(i)?.ok_or(err("fewer reg entries than #redistributor-regions"))?;
                redistributors.push_named(r, "GICv3 redistributor regions")?;
            }
            1 + n
        }
        // arm,gic.yaml: reg = GICD, GICC, then optional GICH, GICV.
        GicVersion::V2 => 1,
    };

    Ok(Some(GicInfo {
        version,
        distributor,
        redistributor: redistributors.get(0),
        redistributors,
        cpu_interface: frame(after)?,
        hyp_interface: frame(after + 1)?,
        vcpu_interface: frame(after + 2)?,
        maintenance_intid: irq.intids(&path)?.first().flatten(),
        its: match version {
            GicVersion::V3 => its(&path)?,
            GicVersion::V2 => None,
        },
    }))
}

/// The first available `arm,gic-v3-its` child's frame.
fn its(gic: &NodePath<'_, '_>) -> Result<Option<Region>, DtbError> {
    for child in gic.node().children() {
        if props::is_compatible(child, &["arm,gic-v3-its"]) && props::is_available(child) {
            return mmio_region(&gic.child(child)?, 0);
        }
    }
    Ok(None)
}
