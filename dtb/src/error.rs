//! Typed errors for everything the query layer can reject.
//!
//! The tree comes from firmware we do not control and is read before the
//! hypervisor has a console of its own, so every failure carries enough
//! context to be printed as one self-explanatory line: which node, which
//! property, and why.

use core::fmt;

/// A node name small enough to live inside an error without a heap.
///
/// Node names are at most 31 characters of node-name plus the unit address
/// (DTSpec v0.4 §2.2.1 limits the node-name part to 31); longer names are
/// truncated on a character boundary, which is enough to identify the node in
/// a diagnostic.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NodeName {
    bytes: [u8; NodeName::CAPACITY],
    len: u8,
}

impl NodeName {
    /// Maximum number of bytes kept.
    pub const CAPACITY: usize = 48;

    /// Copies `name`, truncated to [`Self::CAPACITY`] bytes on a character
    /// boundary. The root node (empty name) is shown as `/`.
    pub fn new(name: &str) -> Self {
        let name = if name.is_empty() { "/" } else { name };
        let mut end = name.len().min(Self::CAPACITY);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0; Self::CAPACITY];
        bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
        // `end <= CAPACITY` (48), so it always fits in a u8.
        Self {
            bytes,
            len: end as u8,
        }
    }

    /// The (possibly truncated) name.
    pub fn as_str(&self) -> &str {
        // Built from a `&str` cut on a char boundary, so this cannot fail;
        // fall back to an empty name rather than panic regardless.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Problems with the 40-byte FDT header or the block layout it describes
/// (DTSpec v0.4 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer bytes than the 40-byte version-17 header.
    TooShort(usize),
    /// The first word is not 0xd00dfeed.
    BadMagic(u32),
    /// `totalsize` is larger than the bytes we were given.
    Truncated { total_size: u32, available: usize },
    /// `totalsize` is smaller than the header or larger than we accept.
    BadTotalSize(u32),
    /// Only version 17 (and later versions compatible with 16/17) carries
    /// `size_dt_struct`, which the parser relies on.
    UnsupportedVersion { version: u32, last_compatible: u32 },
    /// A block (named) does not lie inside `totalsize`.
    BlockOutOfBounds(&'static str),
    /// A block (named) is not aligned as DTSpec v0.4 §5.6 requires.
    Misaligned(&'static str),
    /// The memory reservation block has no terminating all-zero entry.
    UnterminatedReservations,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooShort(len) => write!(f, "only {len} bytes, shorter than the 40-byte header"),
            Self::BadMagic(magic) => write!(f, "bad magic {magic:#010x} (expected 0xd00dfeed)"),
            Self::Truncated {
                total_size,
                available,
            } => {
                write!(
                    f,
                    "totalsize is {total_size} bytes but only {available} are available"
                )
            }
            Self::BadTotalSize(size) => write!(f, "implausible totalsize {size}"),
            Self::UnsupportedVersion {
                version,
                last_compatible,
            } => write!(
                f,
                "unsupported version {version} (last compatible {last_compatible}); need 17"
            ),
            Self::BlockOutOfBounds(block) => write!(f, "{block} lies outside totalsize"),
            Self::Misaligned(block) => write!(f, "{block} is misaligned"),
            Self::UnterminatedReservations => {
                f.write_str("memory reservation block has no terminating entry")
            }
        }
    }
}

/// Everything that can go wrong between "here are some bytes" and a
/// [`HostInfo`](crate::HostInfo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtbError {
    /// The header or block layout is invalid.
    BadHeader(HeaderError),
    /// The structure block is malformed at byte `offset` (relative to the
    /// start of the structure block).
    BadStructure { offset: u32, reason: &'static str },
    /// No usable `device_type = "memory"` node.
    NoMemory,
    /// No `/cpus/cpu@*` node.
    NoCpus,
    /// A `reg` property could not be decoded or translated.
    MalformedReg {
        node: NodeName,
        reason: &'static str,
    },
    /// An `interrupts`/`interrupts-extended` property could not be decoded.
    MalformedInterrupts {
        node: NodeName,
        reason: &'static str,
    },
    /// Some other property has the wrong size or an unknown value.
    MalformedProperty {
        node: NodeName,
        property: &'static str,
        reason: &'static str,
    },
    /// A fixed-capacity list overflowed; names what.
    TooMany(&'static str),
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadHeader(e) => write!(f, "device tree: bad header: {e}"),
            Self::BadStructure { offset, reason } => {
                write!(
                    f,
                    "device tree: bad structure block at offset {offset:#x}: {reason}"
                )
            }
            Self::NoMemory => f.write_str("device tree: no usable memory node"),
            Self::NoCpus => f.write_str("device tree: no cpu nodes under /cpus"),
            Self::MalformedReg { node, reason } => {
                write!(f, "device tree: node {node}: bad reg: {reason}")
            }
            Self::MalformedInterrupts { node, reason } => {
                write!(f, "device tree: node {node}: bad interrupts: {reason}")
            }
            Self::MalformedProperty {
                node,
                property,
                reason,
            } => {
                write!(f, "device tree: node {node}: bad {property}: {reason}")
            }
            Self::TooMany(what) => write!(f, "device tree: too many {what} for the fixed tables"),
        }
    }
}

impl core::error::Error for DtbError {}

impl From<HeaderError> for DtbError {
    fn from(e: HeaderError) -> Self {
        Self::BadHeader(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_name_truncates_on_char_boundary() {
        let long = "é".repeat(40); // 80 bytes
        let n = NodeName::new(&long);
        assert!(n.as_str().len() <= NodeName::CAPACITY);
        assert!(long.starts_with(n.as_str()));
        assert_eq!(NodeName::new("").as_str(), "/");
        assert_eq!(NodeName::new("pl011@9000000").to_string(), "pl011@9000000");
    }

    #[test]
    fn display_is_one_line() {
        let errs = [
            DtbError::BadHeader(HeaderError::BadMagic(1)),
            DtbError::BadStructure {
                offset: 8,
                reason: "x",
            },
            DtbError::NoMemory,
            DtbError::NoCpus,
            DtbError::MalformedReg {
                node: NodeName::new("a"),
                reason: "b",
            },
            DtbError::MalformedInterrupts {
                node: NodeName::new("a"),
                reason: "b",
            },
            DtbError::MalformedProperty {
                node: NodeName::new("a"),
                property: "p",
                reason: "b",
            },
            DtbError::TooMany("cpus"),
        ];
        for e in errs {
            let s = e.to_string();
            assert!(!s.is_empty() && !s.contains('\n'), "{s:?}");
        }
    }
}
