//! Why a platform query failed.

use core::fmt;

use dtb::{DtbError, NodeName};

/// A platform query could not be answered from the device tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformError {
    /// The root `compatible` names no supported machine (first string kept).
    UnknownMachine(NodeName),
    /// No available PL011 in the tree.
    NoConsole,
    /// No interrupt controller node.
    NoGic,
    /// The platform needs a GICv2 and the tree describes something else.
    NotGicV2,
    /// A GIC frame the hypervisor needs is absent from the node's `reg`.
    MissingGicFrame(&'static str),
    /// A GIC frame is smaller than its architected size.
    GicFrameTooSmall {
        frame: &'static str,
        size: u64,
        needed: u64,
    },
    /// A Stage-2 window would not be 4 KiB aligned.
    Unaligned { what: &'static str, addr: u64 },
    /// Neither the DTB's `clock-frequency` nor CNTFRQ_EL0 gives a frequency.
    NoTimerFrequency,
    /// `/chosen` `linux,initrd-start`/`-end` are malformed.
    Initrd(&'static str),
    /// More RAM pieces than the fixed table holds after cutting out
    /// reservations.
    TooManyRegions,
    /// No RAM left after reservations and exclusions.
    NoUsableMemory,
    /// The tree itself could not be read.
    Dtb(DtbError),
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownMachine(c) => write!(f, "unsupported machine (root compatible {c:?})"),
            Self::NoConsole => f.write_str("the device tree has no available PL011 console"),
            Self::NoGic => f.write_str("the device tree has no interrupt controller"),
            Self::NotGicV2 => f.write_str("this platform needs a GICv2 (arm,gic-400)"),
            Self::MissingGicFrame(frame) => write!(f, "the GIC node has no {frame} frame"),
            Self::GicFrameTooSmall {
                frame,
                size,
                needed,
            } => write!(f, "GIC {frame} frame is {size:#x} bytes, need {needed:#x}"),
            Self::Unaligned { what, addr } => {
                write!(f, "{what} {addr:#x} is not 4 KiB aligned")
            }
            Self::NoTimerFrequency => f.write_str(
                "no timer frequency: CNTFRQ_EL0 is 0 and the timer node has no clock-frequency",
            ),
            Self::Initrd(reason) => write!(f, "/chosen initrd: {reason}"),
            Self::TooManyRegions => f.write_str("too many usable RAM regions for the fixed table"),
            Self::NoUsableMemory => f.write_str("no usable RAM left after reservations"),
            Self::Dtb(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for PlatformError {}

impl From<DtbError> for PlatformError {
    fn from(e: DtbError) -> Self {
        Self::Dtb(e)
    }
}
