//! The PSCI conduit.

use fdt::Fdt;

use crate::error::{DtbError, NodeName};
use crate::host::PsciConduit;
use crate::props;
use crate::walk::find_first;

/// The `method` of the first available node compatible with `arm,psci*`
/// ("arm,psci", "arm,psci-0.2", "arm,psci-1.0"; Linux `arm/psci.yaml`).
/// `None` without such a node (e.g. QEMU `virt,secure=on`, where EL3
/// firmware would provide PSCI).
pub(crate) fn conduit(fdt: &Fdt<'_>) -> Result<Option<PsciConduit>, DtbError> {
    let Some(path) = find_first(fdt, |p| {
        let n = p.node();
        Ok(props::has_compatible_prefix(n, "arm,psci") && props::is_available(n))
    })?
    else {
        return Ok(None);
    };
    let node = path.node();
    match props::str_prop(node, "method") {
        Some("smc") => Ok(Some(PsciConduit::Smc)),
        Some("hvc") => Ok(Some(PsciConduit::Hvc)),
        _ => Err(DtbError::MalformedProperty {
            node: NodeName::new(node.name),
            property: "method",
            reason: "expected \"smc\" or \"hvc\"",
        }),
    }
}
