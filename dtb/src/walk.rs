//! Depth-first tree walks that remember the ancestors of each node.
//!
//! Decoding a node needs its ancestors: `reg` uses the parent's cell sizes
//! and every ancestor's `ranges`, and the interrupt parent defaults to the
//! tree parent. `fdt` 0.1.5 nodes only know their parent's property bytes, so
//! we walk from the root with `children()` and keep the path ourselves.
//!
//! `Fdt::find_node` is deliberately not used: when a path is not found it
//! retries the path as an alias name, recursively, so an alias cycle in a
//! hostile blob recurses until the stack overflows.

use core::ops::ControlFlow;

use fdt::node::FdtNode;
use fdt::Fdt;

use crate::error::DtbError;
use crate::props;
use crate::validate::MAX_DEPTH;

/// The nodes from the root down to (and including) the current node.
#[derive(Clone, Copy)]
pub(crate) struct NodePath<'b, 'a> {
    /// Kept apart so `node()` has a fallback without a panic path.
    root: FdtNode<'b, 'a>,
    /// `nodes[0]` is the root; slots below `len` are `Some`.
    nodes: [Option<FdtNode<'b, 'a>>; MAX_DEPTH],
    len: usize,
}

impl<'b, 'a> NodePath<'b, 'a> {
    /// The path holding just the root node.
    pub fn root(fdt: &'b Fdt<'a>) -> Result<Self, DtbError> {
        // `open()` checked that the first node is a root named "", which is
        // exactly what `find_node("/")` matches; no alias fallback happens.
        let root = fdt.find_node("/").ok_or(DtbError::BadStructure {
            offset: 0,
            reason: "no root node",
        })?;
        let mut p = Self {
            root,
            nodes: [None; MAX_DEPTH],
            len: 0,
        };
        p.push(root)?;
        Ok(p)
    }

    fn push(&mut self, node: FdtNode<'b, 'a>) -> Result<(), DtbError> {
        let slot = self.nodes.get_mut(self.len).ok_or(DtbError::BadStructure {
            offset: 0,
            reason: "nodes nested too deeply",
        })?;
        *slot = Some(node);
        self.len += 1;
        Ok(())
    }

    fn pop(&mut self) {
        if self.len > 1 {
            self.len -= 1;
            if let Some(slot) = self.nodes.get_mut(self.len) {
                *slot = None;
            }
        }
    }

    /// This path extended by `child` (a child of the current node).
    pub fn child(&self, child: FdtNode<'b, 'a>) -> Result<Self, DtbError> {
        let mut p = *self;
        p.push(child)?;
        Ok(p)
    }

    /// Number of nodes on the path; the root alone has length 1.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The node at `index` (0 = root).
    pub fn get(&self, index: usize) -> Option<FdtNode<'b, 'a>> {
        if index < self.len {
            self.nodes.get(index).copied().flatten()
        } else {
            None
        }
    }

    /// The current (deepest) node.
    pub fn node(&self) -> FdtNode<'b, 'a> {
        // A path always holds at least the root (see `root()`/`pop()`).
        self.len
            .checked_sub(1)
            .and_then(|i| self.get(i))
            .unwrap_or(self.root)
    }

    /// The tree parent of the current node (`None` for the root).
    pub fn parent(&self) -> Option<FdtNode<'b, 'a>> {
        self.len.checked_sub(2).and_then(|i| self.get(i))
    }
}

/// Visits every node depth-first in blob order (parents before children),
/// until `visit` breaks.
pub(crate) fn walk<'b, 'a>(
    fdt: &'b Fdt<'a>,
    visit: &mut dyn FnMut(&NodePath<'b, 'a>) -> Result<ControlFlow<()>, DtbError>,
) -> Result<(), DtbError> {
    let mut path = NodePath::root(fdt)?;
    walk_from(&mut path, visit).map(|_| ())
}

fn walk_from<'b, 'a>(
    path: &mut NodePath<'b, 'a>,
    visit: &mut dyn FnMut(&NodePath<'b, 'a>) -> Result<ControlFlow<()>, DtbError>,
) -> Result<ControlFlow<()>, DtbError> {
    if visit(path)?.is_break() {
        return Ok(ControlFlow::Break(()));
    }
    // Recursion depth is bounded by MAX_DEPTH, enforced by `open()`.
    for child in path.node().children() {
        path.push(child)?;
        let flow = walk_from(path, visit)?;
        path.pop();
        if flow.is_break() {
            return Ok(flow);
        }
    }
    Ok(ControlFlow::Continue(()))
}

/// The path to the first node (blob order) for which `pred` holds.
pub(crate) fn find_first<'b, 'a>(
    fdt: &'b Fdt<'a>,
    mut pred: impl FnMut(&NodePath<'b, 'a>) -> Result<bool, DtbError>,
) -> Result<Option<NodePath<'b, 'a>>, DtbError> {
    let mut found = None;
    walk(fdt, &mut |path| {
        if pred(path)? {
            found = Some(*path);
            Ok(ControlFlow::Break(()))
        } else {
            Ok(ControlFlow::Continue(()))
        }
    })?;
    Ok(found)
}

/// The path to the node whose `phandle` (or legacy `linux,phandle`) is
/// `phandle` (DTSpec v0.4 §2.3.3).
pub(crate) fn find_phandle<'b, 'a>(
    fdt: &'b Fdt<'a>,
    phandle: u32,
) -> Result<Option<NodePath<'b, 'a>>, DtbError> {
    find_first(fdt, |path| {
        let node = path.node();
        let own = match props::u32_prop(node, "phandle")? {
            Some(p) => Some(p),
            None => props::u32_prop(node, "linux,phandle")?,
        };
        Ok(own == Some(phandle))
    })
}

/// Looks up an absolute path such as `/soc/serial@7e201000`. A component
/// without `@` also matches a node whose name has a unit address, the first
/// such node winning (DTSpec v0.4 §2.2.3 allows omitting an unambiguous unit
/// address).
pub(crate) fn find_path<'b, 'a>(
    fdt: &'b Fdt<'a>,
    path: &str,
) -> Result<Option<NodePath<'b, 'a>>, DtbError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Ok(None);
    };
    descend(NodePath::root(fdt)?, rest)
}

/// Follows the `/`-separated `relative` path down from `start`.
pub(crate) fn descend<'b, 'a>(
    start: NodePath<'b, 'a>,
    relative: &str,
) -> Result<Option<NodePath<'b, 'a>>, DtbError> {
    let mut cur = start;
    for component in relative.split('/').filter(|c| !c.is_empty()) {
        let Some(child) = cur
            .node()
            .children()
            .find(|c| name_matches(c.name, component))
        else {
            return Ok(None);
        };
        cur.push(child)?;
    }
    Ok(Some(cur))
}

fn name_matches(node_name: &str, component: &str) -> bool {
    node_name == component
        || (!component.contains('@') && node_name.split('@').next() == Some(component))
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn component_matching() {
        assert!(name_matches("pl011@9000000", "pl011@9000000"));
        assert!(name_matches("pl011@9000000", "pl011"));
        assert!(!name_matches("pl011@9000000", "pl011@9000001"));
        assert!(!name_matches("pl0110", "pl011"));
        assert!(name_matches("chosen", "chosen"));
    }
}
