//! Typed errors: [`AccessError`] for a guest MMIO access the device model
//! cannot perform, [`VgicError`] for a bad request from the hypervisor glue.
//!
//! The split matters to the caller: an `AccessError` is the guest's fault
//! (the glue typically logs it and injects an external abort, as a real
//! interconnect would answer an unsupported access), while a `VgicError` is
//! a bug or a configuration mistake on the hypervisor side.

use core::fmt;

/// Why a guest MMIO access was refused.
///
/// Only malformed accesses are errors. Well-formed accesses to reserved or
/// unimplemented registers are read-as-zero / write-ignored, which is what
/// both the GIC (IHI 0069H §12.1, "reserved ... RES0") and the PL011 TRM
/// (DDI 0183G §3.2, "reserved locations must not be accessed", read as zero
/// by the model) leave software to expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// The access size is not 1, 2, 4 or 8 bytes, or the register at this
    /// offset does not support it (e.g. a byte write to `GICD_ISENABLER`).
    BadWidth { offset: u64, size: u8 },
    /// The offset is not a multiple of the access size.
    Misaligned { offset: u64, size: u8 },
    /// The offset lies outside the device's register frame.
    OutOfRange { offset: u64 },
    /// A redistributor access named a vCPU that does not exist.
    NoSuchVcpu(usize),
    /// The front-end does not match the configured GIC version (a GICv2
    /// distributor access on a GICv3 model, or a redistributor access on a
    /// GICv2 model).
    WrongVersion,
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadWidth { offset, size } => {
                write!(f, "unsupported {size}-byte access at offset {offset:#x}")
            }
            Self::Misaligned { offset, size } => {
                write!(f, "misaligned {size}-byte access at offset {offset:#x}")
            }
            Self::OutOfRange { offset } => {
                write!(f, "offset {offset:#x} is outside the register frame")
            }
            Self::NoSuchVcpu(vcpu) => write!(f, "no redistributor for vCPU {vcpu}"),
            Self::WrongVersion => f.write_str("register frame does not exist in this GIC version"),
        }
    }
}

/// A request from the hypervisor glue that the virtual GIC rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VgicError {
    /// `vcpu_count` is zero or above [`crate::vgic::MAX_VCPUS`].
    BadVcpuCount(usize),
    /// `num_spis` is not a multiple of 32 or exceeds what `GICD_TYPER`
    /// can describe (IHI 0069H §12.9, `ITLinesNumber`: 32 × (N + 1) INTIDs).
    BadSpiCount(u32),
    /// `mpidrs` does not hold one entry per vCPU.
    MpidrCount { expected: usize, got: usize },
    /// Two vCPUs share an affinity, so `GICD_IROUTER` and `ICC_SGI1R_EL1`
    /// could not tell them apart.
    DuplicateAffinity { first: usize, second: usize },
    /// The vCPU index is out of range.
    NoSuchVcpu(usize),
    /// The INTID is not implemented (or is of the wrong kind for the call,
    /// e.g. an SGI passed to `set_level`).
    BadIntid(u32),
    /// A PPI was raised without naming the vCPU it belongs to.
    PpiNeedsVcpu(u32),
    /// An SPI was raised with a vCPU: SPIs are routed by the distributor.
    SpiTakesNoVcpu(u32),
    /// A physical INTID that a list register cannot carry with `HW = 1`
    /// (only PPIs and SPIs, 16..1019, can be linked).
    BadPhysicalIntid(u32),
}

impl fmt::Display for VgicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadVcpuCount(n) => {
                write!(f, "vCPU count {n} not in 1..={}", crate::vgic::MAX_VCPUS)
            }
            Self::BadSpiCount(n) => write!(
                f,
                "SPI count {n} is not a multiple of 32 up to {}",
                crate::vgic::MAX_SPI_COUNT
            ),
            Self::MpidrCount { expected, got } => {
                write!(f, "expected {expected} MPIDR values, got {got}")
            }
            Self::DuplicateAffinity { first, second } => {
                write!(f, "vCPUs {first} and {second} have the same affinity")
            }
            Self::NoSuchVcpu(v) => write!(f, "no vCPU {v}"),
            Self::BadIntid(i) => write!(f, "INTID {i} is not valid here"),
            Self::PpiNeedsVcpu(i) => write!(f, "PPI {i} raised without a vCPU"),
            Self::SpiTakesNoVcpu(i) => write!(f, "SPI {i} raised with a vCPU"),
            Self::BadPhysicalIntid(i) => {
                write!(f, "physical INTID {i} cannot be hardware-linked")
            }
        }
    }
}
