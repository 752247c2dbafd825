//! Stage-2 translation tables: the guest's IPA → PA map (Arm ARM D8,
//! "The AArch64 Virtual Memory System Architecture", stage 2 of the EL1&0
//! regime).
//!
//! Pure logic, tested on the host: nothing here touches a system register.
//! The caller writes [`Vtcr::value`] to VTCR_EL2 and [`vttbr_el2`] to
//! VTTBR_EL2.
//!
//! Geometry (see [`vtcr`]): 4 KiB granule, a 40-bit IPA space by default,
//! starting at level 1 with two concatenated root tables (8 KiB, 8 KiB
//! aligned). The builder ([`Stage2`]) works over a caller-provided pool of
//! [`crate::mmu::Table`]s and never allocates.
//!
//! Coherency contract: the builder only stores descriptors. Before the
//! walker may use them the caller must make them visible to it: with the
//! hypervisor's identity map and caches on (walks are inner write-back,
//! inner shareable per VTCR_EL2.IRGN0/ORGN0/SH0) a `DSB ISHST` suffices; if
//! walks were ever made non-cacheable, clean each table in
//! [`Stage2::used_tables`] to the PoC (`DC CVAC`) first. After `unmap`
//! (or anything replacing a valid entry) the caller also invalidates the TLBs
//! (`TLBI IPAS2E1IS` / `TLBI VMALLS12E1IS`, then `DSB ISH`; Arm ARM D8, "TLB maintenance").

mod desc;
mod error;
mod table;
mod vtcr;
mod walk;

pub use desc::S2Attr;
pub use error::Stage2Error;
pub use table::Stage2;
pub use vtcr::{vtcr_el2, vtcr_el2_for, vttbr_el2, Vtcr, DEFAULT_IPA_BITS};

#[cfg(test)]
mod tests;
