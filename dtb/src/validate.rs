//! Full check of the structure block's token stream (DTSpec v0.4 §5.4).
//!
//! Every property the `fdt` crate may later touch is validated here, so its
//! `unwrap()`s/`assert!`s cannot fire: token framing, lengths within the
//! block, name strings NUL-terminated and UTF-8, exactly one root named "",
//! properties before subnodes, bounded depth, and no `FDT_NOP`.

use crate::blob::Header;
use crate::error::DtbError;

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

/// Deepest nesting accepted (the root is depth 1). `fdt` 0.1.5's `all_nodes`
/// keeps its parents in a fixed 64-entry array and indexes past it on deeper
/// trees; real trees stay below ~10, and our own walker keeps one
/// `NodePath` slot per level.
pub const MAX_DEPTH: usize = 32;

fn bad(offset: usize, reason: &'static str) -> DtbError {
    DtbError::BadStructure {
        offset: u32::try_from(offset).unwrap_or(u32::MAX),
        reason,
    }
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let w = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
}

/// A NUL-terminated UTF-8 string starting at `off` in `block`; returns it
/// without the NUL.
fn c_str(block: &[u8], off: usize) -> Option<&str> {
    let rest = block.get(off..)?;
    let nul = rest.iter().position(|&b| b == 0)?;
    core::str::from_utf8(&rest[..nul]).ok()
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Walks the structure block of `bytes` (already header-checked) and rejects
/// anything `fdt` 0.1.5 would mis-parse or panic on.
pub(crate) fn check_structure(bytes: &[u8], h: &Header) -> Result<(), DtbError> {
    let s0 = h.off_dt_struct as usize;
    let st0 = h.off_dt_strings as usize;
    let block = bytes
        .get(s0..s0 + h.size_dt_struct as usize)
        .ok_or(bad(0, "outside the blob"))?;
    let strings = bytes
        .get(st0..st0 + h.size_dt_strings as usize)
        .ok_or(bad(0, "strings block outside the blob"))?;

    let mut pos = 0usize;
    let mut depth = 0usize;
    let mut seen_root = false;
    // DTSpec §5.4.2: within a node all properties precede all subnodes.
    // `fdt` stops reading properties at the first child and asserts on a
    // property after one, so this ordering is mandatory here.
    let mut props_allowed = false;

    loop {
        let token = be32(block, pos).ok_or(bad(pos, "truncated before FDT_END"))?;
        match token {
            FDT_BEGIN_NODE => {
                if depth == 0 && seen_root {
                    return Err(bad(pos, "more than one root node"));
                }
                let name =
                    c_str(block, pos + 4).ok_or(bad(pos, "node name not NUL-terminated UTF-8"))?;
                // `fdt` finds the root by matching the path "/" against an
                // empty name (the root has no node-name, DTSpec v0.4 §2.2.1).
                if depth == 0 && !name.is_empty() {
                    return Err(bad(pos, "root node name is not empty"));
                }
                if depth > 0 && name.is_empty() {
                    return Err(bad(pos, "empty name on a non-root node"));
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(bad(pos, "nodes nested too deeply"));
                }
                seen_root = true;
                props_allowed = true;
                pos = align4(pos + 4 + name.len() + 1);
            }
            FDT_PROP => {
                if depth == 0 {
                    return Err(bad(pos, "property outside any node"));
                }
                if !props_allowed {
                    return Err(bad(pos, "property after a subnode"));
                }
                let len =
                    be32(block, pos + 4).ok_or(bad(pos, "truncated property header"))? as usize;
                let name_off =
                    be32(block, pos + 8).ok_or(bad(pos, "truncated property header"))? as usize;
                let value_end = (pos + 12)
                    .checked_add(len)
                    .ok_or(bad(pos, "property length overflows"))?;
                if value_end > block.len() {
                    return Err(bad(pos, "property value runs past the structure block"));
                }
                let name = c_str(strings, name_off)
                    .ok_or(bad(pos, "property name offset invalid or not UTF-8"))?;
                // `fdt`'s cell_sizes()/reg() `expect` at least 4 bytes here.
                if matches!(name, "#address-cells" | "#size-cells") && len != 4 {
                    return Err(bad(pos, "#address-cells/#size-cells is not one cell"));
                }
                pos = align4(value_end);
            }
            FDT_END_NODE => {
                if depth == 0 {
                    return Err(bad(pos, "FDT_END_NODE without a matching FDT_BEGIN_NODE"));
                }
                depth -= 1;
                props_allowed = false;
                pos += 4;
            }
            FDT_NOP => {
                // `fdt` 0.1.5 skips NOPs in some walkers but not others: one
                // between properties silently truncates `all_nodes()` and
                // trips an assertion in `children()`. dtc and QEMU never emit
                // them; libfdt's fdt_nop_*() does, so such a tree needs a
                // `dtc -I dtb -O dtb` pass first.
                return Err(bad(pos, "FDT_NOP tokens are not supported"));
            }
            FDT_END => {
                if !seen_root {
                    return Err(bad(pos, "no root node"));
                }
                if depth != 0 {
                    return Err(bad(pos, "FDT_END inside a node"));
                }
                return Ok(());
            }
            _ => return Err(bad(pos, "unknown token")),
        }
    }
}
