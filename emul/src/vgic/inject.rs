//! The bridge to the list registers: raising interrupt lines, choosing what
//! to inject next, and folding list-register state back.
//!
//! Selection follows what a physical distributor and CPU interface would
//! present (IHI 0069H chapter 4, "Interrupt prioritization": the highest
//! priority, i.e. lowest value, wins; ties go to the lowest INTID here),
//! with one addition from virtualization: an interrupt that is active but
//! not in a list register goes back first, whatever its priority or enable,
//! because the guest can only deactivate what a list register holds
//! (IHI 0069H chapter 6; an EOI that matches no list register is lost to
//! `ICH_HCR_EL2.EOIcount`).

use super::irq::Irq;
use super::{vcpu_bit, LrState, VGic, Version, PRIVATE_INTIDS};
use crate::VgicError;

/// What to put in a list register (see [`super::lr::encode_v3`] and
/// [`super::lr::encode_v2`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injection {
    /// The virtual INTID.
    pub intid: u32,
    pub priority: u8,
    /// Group 1 (signalled as vIRQ); group 0 is vFIQ on GICv3 and, for a
    /// GICv2 guest with `GICV_CTLR.FIQEn == 0`, also an IRQ.
    pub group1: bool,
    /// The list register state to write: `Pending`, `Active` or
    /// `PendingActive`, never `Invalid`.
    pub state: LrState,
    /// Edge-triggered (informational: the list register has no such bit).
    pub edge: bool,
    /// `HW = 1` with this physical INTID (see [`VGic::link_hw`]).
    pub hw_pintid: Option<u32>,
    /// GICv2 SGIs: the requesting CPU, for `GICH_LR.CPUID`.
    pub source_cpu: Option<u8>,
    /// Request a maintenance interrupt when the guest deactivates it (the
    /// list register's `EOI` bit; never with `hw_pintid`). Set for
    /// level-sensitive interrupts so a still-asserted line is re-sampled
    /// promptly, and for GICv2 SGIs with more sources queued.
    pub eoi_maintenance: bool,
}

impl VGic {
    /// Drives an interrupt line: an SPI from an emulated device
    /// (`vcpu == None`), or a PPI of one vCPU.
    ///
    /// Level-sensitive interrupts follow the line; edge-triggered ones
    /// latch a pending state on each rising edge (so a device signalling a
    /// new event on an edge-configured INTID lowers and raises again).
    /// For a hardware-linked INTID ([`Self::link_hw`]) call this with
    /// `true` each time the physical interrupt is taken at EL2: each call
    /// is one activation, injected once (`false` withdraws one not yet
    /// injected).
    ///
    /// Returns the vCPU to kick if the interrupt became deliverable.
    pub fn set_level(
        &mut self,
        intid: u32,
        vcpu: Option<usize>,
        level: bool,
    ) -> Result<Option<usize>, VgicError> {
        let owner = match (intid, vcpu) {
            (0..16, _) => return Err(VgicError::BadIntid(intid)),
            (16..32, None) => return Err(VgicError::PpiNeedsVcpu(intid)),
            (16..32, Some(v)) if v >= self.vcpu_count => return Err(VgicError::NoSuchVcpu(v)),
            (16..32, Some(v)) => v,
            (_, Some(_)) => return Err(VgicError::SpiTakesNoVcpu(intid)),
            (_, None) => 0,
        };
        let irq = self
            .irq_mut(owner, intid)
            .ok_or(VgicError::BadIntid(intid))?;
        let rose = irq.set_line(level);
        let irq = *irq;
        if !rose || !self.deliverable(&irq) {
            return Ok(None);
        }
        Ok(if intid < PRIVATE_INTIDS {
            Some(owner)
        } else {
            self.spi_target(intid, self.one_of_n_target())
        })
    }

    /// Links virtual `intid` (a PPI on every vCPU, or an SPI) to physical
    /// `pintid`: its list registers get `HW = 1`, so the guest's
    /// deactivation also deactivates the physical interrupt (IHI 0069H
    /// §12.4, `ICH_LR<n>_EL2.HW`). Used for the virtual timer PPI 27.
    ///
    /// The glue must then leave the physical interrupt active after taking
    /// it at EL2 (priority drop only, `ICC_CTLR_EL1.EOImode == 1`).
    pub fn link_hw(&mut self, intid: u32, pintid: u32) -> Result<(), VgicError> {
        if !(16..1020).contains(&pintid) {
            return Err(VgicError::BadPhysicalIntid(pintid));
        }
        // pintid < 1020, so it fits u16.
        let hw = pintid as u16;
        if (16..PRIVATE_INTIDS).contains(&intid) {
            for vcpu in &mut self.vcpus[..self.vcpu_count] {
                vcpu.private[intid as usize].hw = hw;
            }
            return Ok(());
        }
        let irq = self
            .irq_mut(0, intid)
            .filter(|_| intid >= PRIVATE_INTIDS)
            .ok_or(VgicError::BadIntid(intid))?;
        irq.hw = hw;
        Ok(())
    }

    /// Picks the next interrupt for `vcpu`'s list registers and marks it
    /// as held there: the highest-priority one that is pending, enabled,
    /// in an enabled group and not already in a list register (active ones
    /// first, see the module notes). `None` when nothing is left.
    pub fn next_pending(&mut self, vcpu: usize) -> Option<Injection> {
        let (intid, mut with_pending) = self.best_candidate(vcpu)?;
        let version = self.version;
        let v2_sgi = version == Version::V2 && intid < 16;
        // A GICv2 SGI's active state belongs to one (SGI, source) pair and
        // its pending state to the others: one list register cannot hold
        // both, so the active one goes alone.
        if v2_sgi && self.irq(vcpu, intid).is_some_and(|i| i.active) {
            with_pending = false;
        }
        // vcpu < vcpu_count <= 8 (checked by best_candidate).
        let lr_vcpu = vcpu as u8;
        let irq = self.irq_mut(vcpu, intid)?;
        let state = irq.hand_off(lr_vcpu, with_pending);
        let irq = *irq;
        let mut source_cpu = None;
        let mut more_sources = false;
        if v2_sgi {
            let v = &mut self.vcpus[vcpu];
            let sgi = intid as usize;
            if state.pending() {
                let sources = v.sgi_sources[sgi];
                // One requester at a time, lowest first: each (SGI, source
                // CPU) pair is a separate interrupt that the guest sees
                // with its own CPUID (IHI 0048B §4.3 GICD_SPENDSGIRn and
                // the GICC_IAR.CPUID field). `& 7` keeps an (impossible)
                // empty set from shifting out of range.
                let src = (sources.trailing_zeros() & 7) as u8;
                v.sgi_lr_source[sgi] = src;
                v.sgi_sources[sgi] = sources & !(1 << src);
                v.private[sgi].latch = v.sgi_sources[sgi] != 0;
            }
            more_sources = v.sgi_sources[sgi] != 0;
            source_cpu = Some(v.sgi_lr_source[sgi]);
        }
        let hw_pintid = irq.hw_pintid();
        Some(Injection {
            intid,
            priority: irq.priority,
            group1: irq.group1,
            state,
            edge: irq.edge,
            hw_pintid,
            source_cpu,
            eoi_maintenance: hw_pintid.is_none() && (!irq.edge || more_sources),
        })
    }

    /// Whether [`Self::next_pending`] would return something: if so after
    /// all list registers are full, request an underflow maintenance
    /// interrupt (`ICH_HCR_EL2.UIE` / `GICH_HCR.UIE`).
    pub fn has_pending(&self, vcpu: usize) -> bool {
        self.best_candidate(vcpu).is_some()
    }

    /// Folds back a list register the guest has finished with, or that the
    /// glue is reclaiming: `state` is what the list register held (`Invalid`
    /// once the guest deactivated it). Level interrupts whose line is still
    /// asserted become pending again; edges latched meanwhile stay pending.
    /// Ignored unless `intid` is held in `vcpu`'s list registers. An
    /// [`Injection`] that the glue could not place can be handed back with
    /// its own `state`.
    pub fn lr_retired(&mut self, vcpu: usize, intid: u32, state: LrState) {
        let version = self.version;
        let Some(irq) = self.irq_mut(vcpu, intid) else {
            return;
        };
        if !irq.in_lr() || usize::from(irq.lr_vcpu) != vcpu {
            return;
        }
        irq.retire(state);
        if version == Version::V2 && intid < 16 && state.pending() {
            let v = &mut self.vcpus[vcpu];
            let sgi = intid as usize;
            v.sgi_sources[sgi] |= 1 << (v.sgi_lr_source[sgi] & 7);
            v.private[sgi].latch = true;
        }
    }

    /// The best candidate for `vcpu`: (INTID, may deliver its pending state).
    fn best_candidate(&self, vcpu: usize) -> Option<(u32, bool)> {
        if vcpu >= self.vcpu_count {
            return None;
        }
        let any = self.one_of_n_target();
        let private = self.vcpus[vcpu]
            .private
            .iter()
            .zip(0..PRIVATE_INTIDS)
            .map(|(irq, intid)| (intid, irq));
        let shared = self.spis[..self.spi_count()]
            .iter()
            .zip(PRIVATE_INTIDS..)
            .filter(|&(_, intid)| self.spi_target(intid, any) == Some(vcpu))
            .map(|(irq, intid)| (intid, irq));
        let mut best: Option<((bool, u8), u32, bool)> = None;
        for (intid, irq) in private.chain(shared) {
            let Some((key, with_pending)) = self.rank(irq) else {
                continue;
            };
            // Strictly better only, so ties keep the lowest INTID.
            if best.is_none_or(|(k, _, _)| key < k) {
                best = Some((key, intid, with_pending));
            }
        }
        best.map(|(_, intid, with_pending)| (intid, with_pending))
    }

    /// Sort key (active-not-first flag, priority) and whether the pending
    /// state may go with it; `None` if the interrupt has nothing to inject.
    fn rank(&self, irq: &Irq) -> Option<((bool, u8), bool)> {
        if irq.in_lr() {
            return None;
        }
        let pending = self.deliverable(irq);
        if !irq.active && !pending {
            return None;
        }
        Some(((!irq.active, irq.priority), pending))
    }

    /// Number of implemented SPI slots.
    fn spi_count(&self) -> usize {
        (self.num_spis.min(1020 - PRIVATE_INTIDS)) as usize
    }

    /// Mask of vCPUs that have something to inject (for the glue's
    /// periodic sanity checks and for tests).
    pub fn pending_vcpus(&self) -> u32 {
        (0..self.vcpu_count)
            .filter(|&v| self.has_pending(v))
            .fold(0, |m, v| m | vcpu_bit(v))
    }
}
