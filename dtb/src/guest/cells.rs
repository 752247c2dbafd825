//! GIC interrupt specifiers and `reg` cells for the guest tree.
//!
//! Specifier format from the Linux bindings
//! `interrupt-controller/arm,gic.yaml` and `arm,gic-v3.yaml`: three cells
//! `<type number flags>`, type 0 = SPI (number = INTID - 32), 1 = PPI
//! (number = INTID - 16). Flags are the `IRQ_TYPE_*` trigger bits of
//! `include/dt-bindings/interrupt-controller/irq.h`; for GICv2 PPIs bits
//! 15:8 additionally hold a mask of the CPUs the PPI is wired to.

extern crate alloc;

use alloc::vec::Vec;

use super::error::GuestDtbError;
use crate::irq::{GIC_PPI, GIC_SPI};
use crate::regions::Region;

/// `IRQ_TYPE_EDGE_RISING`.
pub const IRQ_EDGE_RISING: u32 = 1;
/// `IRQ_TYPE_LEVEL_HIGH`.
pub const IRQ_LEVEL_HIGH: u32 = 4;

/// `<0 INTID-32 flags>` for an SPI.
pub fn spi(what: &'static str, intid: u32, flags: u32) -> Result<[u32; 3], GuestDtbError> {
    if !(32..=1019).contains(&intid) {
        return Err(GuestDtbError::NotSpi { what, intid });
    }
    Ok([GIC_SPI, intid - 32, flags])
}

/// `<1 INTID-16 flags>` for a PPI.
pub fn ppi(what: &'static str, intid: u32, flags: u32) -> Result<[u32; 3], GuestDtbError> {
    if !(16..=31).contains(&intid) {
        return Err(GuestDtbError::NotPpi { what, intid });
    }
    Ok([GIC_PPI, intid - 16, flags])
}

/// `reg` cells for regions with `#address-cells = #size-cells = 2`.
pub fn reg(regions: &[Region]) -> Vec<u64> {
    regions.iter().flat_map(|r| [r.base, r.size]).collect()
}

/// The MPIDR_EL1 affinity fields (Aff3 at 39:32, Aff2..Aff0 at 23:0), the
/// value a cpu node's `reg` holds (Linux `arm/cpus.yaml`).
pub const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;
