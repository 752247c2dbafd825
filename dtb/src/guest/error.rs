//! Why a guest device tree could not be built.

use core::fmt;

/// A [`GuestSpec`](super::GuestSpec) that cannot be described, or a writer
/// failure.
#[derive(Debug, PartialEq, Eq)]
pub enum GuestDtbError {
    /// `vcpus` is 0.
    NoVcpus,
    /// Fewer MPIDRs than vCPUs.
    TooFewMpidrs { vcpus: usize, mpidrs: usize },
    /// GICv2 addresses at most 8 CPUs (its PPI CPU masks are 8 bits).
    TooManyVcpusForGicV2(usize),
    /// The RAM region is empty or wraps past 2^64.
    BadRam,
    /// The initrd is empty or not entirely inside guest RAM.
    InitrdOutsideRam,
    /// A device's MMIO region (named) overlaps guest RAM or is empty.
    BadDeviceRegion(&'static str),
    /// A device interrupt (named) is not an SPI (INTID 32..=1019).
    NotSpi { what: &'static str, intid: u32 },
    /// A per-CPU interrupt (named) is not a PPI (INTID 16..=31).
    NotPpi { what: &'static str, intid: u32 },
    /// `vm-fdt` rejected a name or value (e.g. a NUL in `bootargs`).
    Writer(vm_fdt::Error),
}

impl From<vm_fdt::Error> for GuestDtbError {
    fn from(e: vm_fdt::Error) -> Self {
        Self::Writer(e)
    }
}

impl fmt::Display for GuestDtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoVcpus => f.write_str("guest device tree: no vCPUs"),
            Self::TooFewMpidrs { vcpus, mpidrs } => write!(
                f,
                "guest device tree: {vcpus} vCPUs but only {mpidrs} MPIDRs"
            ),
            Self::TooManyVcpusForGicV2(n) => write!(
                f,
                "guest device tree: {n} vCPUs, but GICv2 supports at most 8"
            ),
            Self::BadRam => f.write_str("guest device tree: RAM region is empty or wraps"),
            Self::InitrdOutsideRam => {
                f.write_str("guest device tree: initrd is empty or not inside guest RAM")
            }
            Self::BadDeviceRegion(what) => write!(
                f,
                "guest device tree: {what} MMIO region is empty, wraps or overlaps RAM"
            ),
            Self::NotSpi { what, intid } => write!(
                f,
                "guest device tree: {what} interrupt {intid} is not an SPI (32..=1019)"
            ),
            Self::NotPpi { what, intid } => write!(
                f,
                "guest device tree: {what} interrupt {intid} is not a PPI (16..=31)"
            ),
            Self::Writer(e) => write!(f, "guest device tree writer: {e}"),
        }
    }
}
