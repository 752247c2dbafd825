//! Typed readers for single properties (DTSpec v0.4 §2.2.4 value types).
//!
//! These read raw property bytes rather than `fdt`'s helpers, which
//! `unwrap()` on short or non-UTF-8 values.

use fdt::node::FdtNode;

use crate::error::{DtbError, NodeName};

/// The raw value of `name`, if present.
pub(crate) fn raw<'a>(node: FdtNode<'_, 'a>, name: &str) -> Option<&'a [u8]> {
    node.property(name).map(|p| p.value)
}

/// A `<u32>` property; present-but-not-4-bytes is an error.
pub(crate) fn u32_prop(node: FdtNode<'_, '_>, name: &'static str) -> Result<Option<u32>, DtbError> {
    match raw(node, name) {
        None => Ok(None),
        Some(&[a, b, c, d]) => Ok(Some(u32::from_be_bytes([a, b, c, d]))),
        Some(_) => Err(DtbError::MalformedProperty {
            node: NodeName::new(node.name),
            property: name,
            reason: "expected exactly one 32-bit cell",
        }),
    }
}

/// The first string of a `<string>`/`<stringlist>` property, without the
/// terminating NUL; `None` if absent or not UTF-8.
pub(crate) fn str_prop<'a>(node: FdtNode<'_, 'a>, name: &str) -> Option<&'a str> {
    strings(raw(node, name)?).next()
}

/// The NUL-separated strings of a `<stringlist>` value. Stops at the first
/// non-UTF-8 entry.
pub(crate) fn strings(value: &[u8]) -> impl Iterator<Item = &str> {
    value
        .split(|&b| b == 0)
        .map_while(|s| core::str::from_utf8(s).ok())
        .filter(|s| !s.is_empty())
}

/// Whether `compatible` lists any of `wanted`.
pub(crate) fn is_compatible(node: FdtNode<'_, '_>, wanted: &[&str]) -> bool {
    raw(node, "compatible").is_some_and(|v| strings(v).any(|c| wanted.contains(&c)))
}

/// Whether some `compatible` entry starts with `prefix`.
pub(crate) fn has_compatible_prefix(node: FdtNode<'_, '_>, prefix: &str) -> bool {
    raw(node, "compatible").is_some_and(|v| strings(v).any(|c| c.starts_with(prefix)))
}

/// DTSpec v0.4 §2.3.4: a device is usable when `status` is absent or
/// "okay". Linux (`__of_device_is_available`) also accepts the legacy "ok".
pub(crate) fn is_available(node: FdtNode<'_, '_>) -> bool {
    match raw(node, "status") {
        None => true,
        Some(v) => matches!(strings(v).next(), Some("okay" | "ok")),
    }
}

/// `status = "fail"` or `"fail-sss"` (DTSpec v0.4 §2.3.4): the device is
/// broken, as opposed to merely not enabled.
pub(crate) fn is_failed(node: FdtNode<'_, '_>) -> bool {
    raw(node, "status").is_some_and(|v| strings(v).next().is_some_and(|s| s.starts_with("fail")))
}

/// Whether `device_type` is `ty`.
pub(crate) fn device_type_is(node: FdtNode<'_, '_>, ty: &str) -> bool {
    str_prop(node, "device_type") == Some(ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_lists() {
        let v = b"arm,pl011\0arm,primecell\0";
        assert_eq!(
            strings(v).collect::<Vec<_>>(),
            ["arm,pl011", "arm,primecell"]
        );
        assert_eq!(strings(b"no-nul").collect::<Vec<_>>(), ["no-nul"]);
        assert_eq!(
            strings(b"ok\0\xff\xfe\0later\0").collect::<Vec<_>>(),
            ["ok"]
        );
        assert_eq!(strings(b"").count(), 0);
    }
}
