//! The architected generic timer's interrupts.

use fdt::Fdt;

use crate::error::{DtbError, NodeName};
use crate::host::TimerInfo;
use crate::intc::{Intids, IrqResolver};
use crate::props;
use crate::walk::find_first;

/// Linux `timer/arm,arch_timer.yaml`; ARMv8 trees usually list both.
const COMPATIBLE: &[&str] = &["arm,armv8-timer", "arm,armv7-timer"];

/// `interrupt-names` values, in the binding's positional order.
const NAMES: [&str; 5] = ["sec-phys", "phys", "virt", "hyp-phys", "hyp-virt"];

/// The timer's PPIs. Positional (secure phys, non-secure phys, virt, hyp
/// phys, optional hyp virt) unless `interrupt-names` is present, in which
/// case it decides (as in Linux `arch_timer_of_init()`).
///
/// `None` without a timer node, or if its interrupts do not go to a GIC.
pub(crate) fn find<'b, 'a>(
    fdt: &'b Fdt<'a>,
    irq: &mut IrqResolver<'b, 'a>,
) -> Result<Option<TimerInfo>, DtbError> {
    let Some(path) = find_first(fdt, |p| {
        let n = p.node();
        Ok(props::is_compatible(n, COMPATIBLE) && props::is_available(n))
    })?
    else {
        return Ok(None);
    };
    let node = path.node();
    let intids = irq.intids(&path)?;
    if intids.iter().any(|i| i.is_none()) {
        return Ok(None);
    }

    let mut by_role = [None::<u32>; 5];
    match props::raw(node, "interrupt-names") {
        Some(names) => {
            for (i, name) in props::strings(names).enumerate() {
                if let Some(role) = NAMES.iter().position(|n| *n == name) {
                    by_role[role] = intids.get(i).flatten();
                }
            }
        }
        None => {
            for (role, slot) in by_role.iter_mut().enumerate() {
                *slot = intids.get(role).flatten();
            }
        }
    }
    let [Some(secure_phys_intid), Some(phys_intid), Some(virt_intid), Some(hyp_intid), hyp_virt_intid] =
        by_role
    else {
        return Err(missing(node.name, &intids));
    };
    Ok(Some(TimerInfo {
        secure_phys_intid,
        phys_intid,
        virt_intid,
        hyp_intid,
        hyp_virt_intid,
        clock_frequency: props::u32_prop(node, "clock-frequency")?,
    }))
}

fn missing(node: &str, intids: &Intids) -> DtbError {
    DtbError::MalformedInterrupts {
        node: NodeName::new(node),
        reason: if intids.len() < 4 {
            "timer needs 4 interrupts: sec-phys, phys, virt, hyp-phys"
        } else {
            "interrupt-names lacks one of sec-phys, phys, virt, hyp-phys"
        },
    }
}
