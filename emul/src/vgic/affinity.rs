//! Affinity values and SPI routing.
//!
//! GICv3 routes an SPI by affinity (`GICD_IROUTER<n>`, IHI 0069H §12.9):
//! either to the one PE whose MPIDR affinity matches, or (`IRM == 1`) to any
//! one participating PE. GICv2 routes by CPU mask (`GICD_ITARGETSRn`, IHI
//! 0048B §4.3); with several CPUs in the mask only one takes the interrupt
//! (IHI 0048B chapter 3, "1-N model"), so the model picks the
//! lowest-numbered one.

use super::{Route, VGic, Version, PRIVATE_INTIDS};

/// Packs the affinity fields of an `MPIDR_EL1` value (Aff3 in [39:32],
/// Aff2..Aff0 in [23:0]) as Aff3:Aff2:Aff1:Aff0, the layout of
/// `GICR_TYPER.Affinity_Value` (IHI 0069H §12.11).
pub(crate) fn pack_mpidr(mpidr: u64) -> u32 {
    // Both fields are masked to fit, so the narrowing casts are exact.
    ((((mpidr >> 32) & 0xff) as u32) << 24) | ((mpidr & 0x00ff_ffff) as u32)
}

/// `GICD_IROUTER<n>` bit 31, Interrupt_Routing_Mode.
const IROUTER_IRM: u64 = 1 << 31;

impl Route {
    /// The 64-bit `GICD_IROUTER<n>` value: Aff3[39:32], IRM[31],
    /// Aff2[23:16], Aff1[15:8], Aff0[7:0].
    pub(crate) fn irouter(&self) -> u64 {
        let aff = u64::from(self.affinity);
        ((aff >> 24) << 32) | (aff & 0x00ff_ffff) | if self.any { IROUTER_IRM } else { 0 }
    }

    pub(crate) fn set_irouter(&mut self, value: u64) {
        self.any = value & IROUTER_IRM != 0;
        self.affinity = pack_mpidr(value);
    }
}

impl VGic {
    /// The vCPU whose affinity is `affinity`, if any.
    pub(crate) fn vcpu_by_affinity(&self, affinity: u32) -> Option<usize> {
        self.vcpus[..self.vcpu_count]
            .iter()
            .position(|v| v.affinity == affinity)
    }

    /// The vCPU that takes 1-of-N SPIs: the lowest-numbered one whose
    /// redistributor is awake. A PE whose `GICR_WAKER.ProcessorSleep` is 1
    /// does not participate (IHI 0069H §12.9, GICD_CTLR.E1NWF == 0: "a PE
    /// that is asleep cannot be picked for 1 of N interrupts").
    pub(crate) fn one_of_n_target(&self) -> Option<usize> {
        self.vcpus[..self.vcpu_count].iter().position(|v| !v.asleep)
    }

    /// Where SPI `intid` is delivered now; `any` is
    /// [`Self::one_of_n_target`], computed once by callers that loop.
    pub(crate) fn spi_target(&self, intid: u32, any: Option<usize>) -> Option<usize> {
        let route = self.routes.get(self.spi_slot(intid)?)?;
        match self.version {
            Version::V3 if route.any => any,
            Version::V3 => self.vcpu_by_affinity(route.affinity),
            Version::V2 => {
                let mask = u32::from(route.targets) & self.all_vcpus();
                (mask != 0).then(|| mask.trailing_zeros() as usize)
            }
        }
    }

    /// Kick mask for an SPI whose route is about to change or just changed.
    pub(crate) fn spi_route_kick(&self, intid: u32) -> u32 {
        if intid < PRIVATE_INTIDS {
            return 0;
        }
        self.kick_for(0, intid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpidr_packing() {
        assert_eq!(pack_mpidr(0x8000_0000), 0);
        assert_eq!(pack_mpidr(0x0000_0012_0003_0201), 0x1203_0201);
    }

    #[test]
    fn irouter_round_trip() {
        let mut r = Route::RESET;
        r.set_irouter(0xffff_ff00_ff00_0102);
        // Bits outside the defined fields are dropped.
        assert_eq!(r.irouter(), 0x8000_0102);
        assert!(r.any);
        r.set_irouter(0x07_0000_0000 | 0x0003_0201);
        assert_eq!(r.affinity, 0x0703_0201);
        assert_eq!(r.irouter(), 0x07_0003_0201);
        assert!(!r.any);
    }
}
