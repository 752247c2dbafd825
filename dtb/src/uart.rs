//! The PL011 console UART.

use fdt::Fdt;

use crate::error::{DtbError, NodeName};
use crate::host::UartInfo;
use crate::intc::IrqResolver;
use crate::props;
use crate::reg::mmio_region;
use crate::walk::{descend, find_first, find_path, NodePath};

/// `compatible` of an ARM PrimeCell UART (Linux `serial/arm,pl011.yaml`).
pub(crate) const PL011: &[&str] = &["arm,pl011"];

/// The console: `/chosen/stdout-path` if it names an available PL011,
/// otherwise the first available PL011 in tree order.
pub(crate) fn find<'b, 'a>(
    fdt: &'b Fdt<'a>,
    irq: &mut IrqResolver<'b, 'a>,
) -> Result<Option<UartInfo>, DtbError> {
    let usable = |n| props::is_compatible(n, PL011) && props::is_available(n);
    let path = match stdout_node(fdt)? {
        Some(p) if usable(p.node()) => Some(p),
        _ => find_first(fdt, |p| Ok(usable(p.node())))?,
    };
    path.map(|p| describe(&p, irq)).transpose()
}

fn describe<'b, 'a>(
    path: &NodePath<'b, 'a>,
    irq: &mut IrqResolver<'b, 'a>,
) -> Result<UartInfo, DtbError> {
    let region = mmio_region(path, 0)?.ok_or(DtbError::MalformedReg {
        node: NodeName::new(path.node().name),
        reason: "pl011 has no reg",
    })?;
    let intid = irq.intids(path)?.first().flatten();
    Ok(UartInfo {
        base: region.base,
        size: region.size,
        intid,
    })
}

/// The node `/chosen` `stdout-path` names (DTSpec v0.4 §3.6): a full path or
/// an alias from `/aliases` (optionally followed by `/more/path`), cut at the
/// first `:` which starts the options such as `115200n8`. Falls back to the
/// legacy `linux,stdout-path`. `None` when unset or unresolvable.
fn stdout_node<'b, 'a>(fdt: &'b Fdt<'a>) -> Result<Option<NodePath<'b, 'a>>, DtbError> {
    let Some(chosen) = find_path(fdt, "/chosen")? else {
        return Ok(None);
    };
    let chosen = chosen.node();
    let Some(value) = props::str_prop(chosen, "stdout-path")
        .or_else(|| props::str_prop(chosen, "linux,stdout-path"))
    else {
        return Ok(None);
    };
    let path = value.split(':').next().unwrap_or("");
    if path.starts_with('/') {
        return find_path(fdt, path);
    }
    let (alias, rest) = path.split_once('/').unwrap_or((path, ""));
    let Some(aliases) = find_path(fdt, "/aliases")? else {
        return Ok(None);
    };
    // Alias values are full paths (DTSpec §3.3); one level only, so alias
    // chains in a hostile tree cannot loop.
    let Some(target) = props::str_prop(aliases.node(), alias).filter(|t| t.starts_with('/')) else {
        return Ok(None);
    };
    match find_path(fdt, target)? {
        Some(start) => descend(start, rest),
        None => Ok(None),
    }
}
