//! Errors of the stage-2 builder.

use core::fmt;

/// Why a stage-2 operation was refused. Every refusal happens before any
/// descriptor is written, so a failed `map`/`unmap` leaves the tables as
/// they were.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage2Error {
    /// `what` ("ipa", "pa" or "size") is not a multiple of 4 KiB.
    Unaligned { what: &'static str, value: u64 },
    /// A zero-sized range was given.
    EmptyRange,
    /// The IPA range does not fit in the configured IPA space.
    IpaOutOfRange { ipa: u64, size: u64, ipa_bits: u32 },
    /// The PA range does not fit in the physical address size.
    PaOutOfRange { pa: u64, size: u64, pa_bits: u32 },
    /// Part of the IPA range (starting at `ipa`) is already mapped.
    AlreadyMapped { ipa: u64 },
    /// The operation needs `needed` more tables; only `free` are left.
    OutOfTables { needed: usize, free: usize },
    /// The pool has no run of `root_tables` physically contiguous tables
    /// aligned to their combined size (needed for concatenation, Arm ARM D8.2).
    NoRootSlot { root_tables: usize },
    /// The table-address function returned an unusable PA (unaligned or
    /// above 48 bits).
    BadTablePa { pa: u64 },
    /// The requested geometry is not one this builder supports.
    UnsupportedGeometry { ipa_bits: u32, pa_bits: u32 },
    /// A table descriptor points outside the pool: the tables were
    /// corrupted by someone else.
    ForeignTable { pa: u64 },
}

impl fmt::Display for Stage2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Unaligned { what, value } => {
                write!(f, "stage 2: {what} {value:#x} is not 4 KiB aligned")
            }
            Self::EmptyRange => write!(f, "stage 2: empty range"),
            Self::IpaOutOfRange {
                ipa,
                size,
                ipa_bits,
            } => write!(
                f,
                "stage 2: IPA range {ipa:#x}+{size:#x} exceeds the {ipa_bits}-bit IPA space"
            ),
            Self::PaOutOfRange { pa, size, pa_bits } => write!(
                f,
                "stage 2: PA range {pa:#x}+{size:#x} exceeds the {pa_bits}-bit PA space"
            ),
            Self::AlreadyMapped { ipa } => {
                write!(f, "stage 2: IPA {ipa:#x} is already mapped")
            }
            Self::OutOfTables { needed, free } => write!(
                f,
                "stage 2: needs {needed} more translation tables, {free} left in the pool"
            ),
            Self::NoRootSlot { root_tables } => write!(
                f,
                "stage 2: pool has no {root_tables} contiguous tables aligned to {} KiB for the root",
                root_tables * 4
            ),
            Self::BadTablePa { pa } => {
                write!(f, "stage 2: table physical address {pa:#x} is unusable")
            }
            Self::UnsupportedGeometry { ipa_bits, pa_bits } => write!(
                f,
                "stage 2: a {ipa_bits}-bit IPA space with {pa_bits}-bit PAs is not supported"
            ),
            Self::ForeignTable { pa } => write!(
                f,
                "stage 2: table descriptor points at {pa:#x}, outside the table pool"
            ),
        }
    }
}
