//! Virtual GIC: distributor and redistributor emulation for a guest that
//! uses the hardware virtual CPU interface.
//!
//! The guest's `ICC_*`/`GICC_*` accesses (acknowledge, EOI, priority mask)
//! go to the hardware virtual CPU interface; everything the distributor and
//! redistributors own (enables, priorities, routing, pending and active
//! state) lives here and reaches the guest through list registers.
//!
//! One state model serves both front-ends: the GICv3 one (`GICD` with
//! affinity routing through `GICD_IROUTER<n>`, per-vCPU `GICR` frames,
//! SGIs from `ICC_SGI1R_EL1` traps) and the GICv2 one (`GICD` with banked
//! private interrupts, `GICD_ITARGETSR<n>` and `GICD_SGIR`). The guest sees
//! one security state (IHI 0069H chapter 4, "Interrupt grouping and
//! security", with `GICD_CTLR.DS == 1`; IHI 0048B
//! GICv2 "without the Security Extensions").
//!
//! Intended use by the glue, per vCPU, on every exit to EL2 (including the
//! maintenance interrupt and kicks from other pCPUs):
//! 1. for every list register in use: [`lr::decode_v3`] it, pass the result
//!    to [`VGic::lr_retired`] and clear the register;
//! 2. handle the exit (MMIO to [`VGic::dist_write`] and friends, kicking the
//!    vCPUs in [`Update::kick`]);
//! 3. before returning: fill free list registers from [`VGic::next_pending`]
//!    and, if [`VGic::has_pending`] is still true, ask for an underflow
//!    maintenance interrupt (`ICH_HCR_EL2.UIE`).

mod affinity;
mod bank;
mod dist_v2;
mod dist_v3;
mod idregs;
mod inject;
mod irq;
pub mod lr;
mod redist;
mod sgi;
#[cfg(test)]
mod tests;

pub use inject::Injection;
pub use lr::LrState;

use crate::VgicError;
use irq::Irq;

/// Most vCPUs a guest can have: the hypervisor's own limit, which is also
/// the most a GICv2 distributor can target (IHI 0048B §4.3, 8-bit
/// `GICD_ITARGETSR` CPU masks).
pub const MAX_VCPUS: usize = 8;

/// Number of private INTIDs per vCPU (16 SGIs and 16 PPIs).
pub const PRIVATE_INTIDS: u32 = 32;

/// Largest `num_spis` accepted: `ITLinesNumber` = 31 describes 1024 INTIDs
/// (IHI 0069H §12.9, GICD_TYPER).
pub const MAX_SPI_COUNT: u32 = 992;

/// INTIDs 1020-1023 are special (IHI 0069H §2.2, "INTIDs"), so SPIs end at
/// 1019.
const SPI_LIMIT: u32 = 1020;

/// SPI state slots: INTIDs 32..=1019.
const SPI_SLOTS: usize = (SPI_LIMIT - PRIVATE_INTIDS) as usize;

/// Size of the GICv3 distributor frame (IHI 0069H §12.8).
pub const DIST_SIZE_V3: u64 = 0x1_0000;

/// Size of the GICv2 distributor register space (IHI 0048B §4.1, Distributor register map).
pub const DIST_SIZE_V2: u64 = 0x1000;

/// One redistributor: the 64 KiB `RD_base` frame and the 64 KiB `SGI_base`
/// frame, contiguous (IHI 0069H §12.10; no VLPI frames since GICv4 is not
/// offered).
pub const REDIST_FRAME_SIZE: u64 = 0x2_0000;

/// Offset of `SGI_base` inside a redistributor (IHI 0069H §12.10).
pub const SGI_BASE: u64 = 0x1_0000;

/// Which GIC architecture the guest is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V2,
    V3,
}

/// What a register write changed beyond the register itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use = "vCPUs in `kick` must re-sync their list registers"]
pub struct Update {
    /// Bit n set: vCPU n's list registers may be stale (something became
    /// deliverable, or an interrupt it holds changed). Kick it out of the
    /// guest if it is running so it re-syncs; may include the writer.
    pub kick: u32,
}

impl Update {
    pub const NONE: Self = Self { kick: 0 };

    pub fn vcpu(vcpu: usize) -> Self {
        Self {
            kick: vcpu_bit(vcpu),
        }
    }
}

pub(crate) fn vcpu_bit(vcpu: usize) -> u32 {
    if vcpu < MAX_VCPUS {
        1 << vcpu
    } else {
        0
    }
}

/// Per-vCPU state: the banked private interrupts and the redistributor.
#[derive(Clone, Copy, Debug)]
struct Vcpu {
    /// Affinity packed as Aff3:Aff2:Aff1:Aff0 (the `GICR_TYPER`
    /// Affinity_Value layout, IHI 0069H §12.11).
    affinity: u32,
    private: [Irq; PRIVATE_INTIDS as usize],
    /// GICv2 only: for each SGI, the set of CPUs that sent it and have not
    /// been delivered yet (IHI 0048B §4.3, `GICD_SPENDSGIRn`).
    sgi_sources: [u8; 16],
    /// GICv2 only: the source CPU of the SGI in the list register.
    sgi_lr_source: [u8; 16],
    /// `GICR_WAKER.ProcessorSleep` (IHI 0069H §12.11).
    asleep: bool,
}

impl Vcpu {
    const RESET: Self = {
        let mut private = [Irq::RESET; PRIVATE_INTIDS as usize];
        let mut i = 0;
        while i < 16 {
            private[i] = Irq::SGI_RESET;
            i += 1;
        }
        Self {
            affinity: 0,
            private,
            sgi_sources: [0; 16],
            sgi_lr_source: [0; 16],
            // Redistributors come out of reset asleep; Linux wakes each one
            // in gic_enable_redist() before using it.
            asleep: true,
        }
    };
}

/// Where an SPI goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Route {
    /// GICv3 `GICD_IROUTER<n>.Interrupt_Routing_Mode`: any one vCPU.
    any: bool,
    /// GICv3 target affinity, packed as in [`Vcpu::affinity`].
    affinity: u32,
    /// GICv2 `GICD_ITARGETSR<n>` CPU mask.
    targets: u8,
}

impl Route {
    const RESET: Self = Self {
        any: false,
        affinity: 0,
        targets: 0,
    };
}

/// The virtual distributor and redistributors of one guest.
///
/// About 20 KiB: keep it in a static (see [`VGic::empty`] and
/// [`VGic::configure`]) rather than on a small stack.
#[derive(Clone, Debug)]
pub struct VGic {
    version: Version,
    vcpu_count: usize,
    num_spis: u32,
    /// `GICD_CTLR.EnableGrp0` / `EnableGrp1` (DS == 1 layout).
    enable_grp0: bool,
    enable_grp1: bool,
    vcpus: [Vcpu; MAX_VCPUS],
    spis: [Irq; SPI_SLOTS],
    routes: [Route; SPI_SLOTS],
}

impl VGic {
    /// An inert GIC with no vCPUs, for static initialisation; every access
    /// fails or reads as zero until [`VGic::configure`] is called.
    pub const fn empty() -> Self {
        Self {
            version: Version::V3,
            vcpu_count: 0,
            num_spis: 0,
            enable_grp0: false,
            enable_grp1: false,
            vcpus: [Vcpu::RESET; MAX_VCPUS],
            spis: [Irq::RESET; SPI_SLOTS],
            routes: [Route::RESET; SPI_SLOTS],
        }
    }

    /// A configured GIC in its reset state. See [`VGic::configure`].
    pub fn new(
        version: Version,
        vcpu_count: usize,
        num_spis: u32,
        mpidrs: &[u64],
    ) -> Result<Self, VgicError> {
        let mut gic = Self::empty();
        gic.configure(version, vcpu_count, num_spis, mpidrs)?;
        Ok(gic)
    }

    /// Resets everything and sets the shape of the GIC in place.
    ///
    /// `num_spis` is a multiple of 32 (the granule of `GICD_TYPER`
    /// `ITLinesNumber`); SPIs are INTIDs 32..32 + `num_spis` (capped at
    /// 1019). `mpidrs` holds each vCPU's `MPIDR_EL1` as the guest sees it
    /// (`VMPIDR_EL2`); its affinity fields feed `GICR_TYPER`,
    /// `GICD_IROUTER` and `ICC_SGI1R_EL1` decoding. A GICv2 model may pass
    /// an empty slice.
    pub fn configure(
        &mut self,
        version: Version,
        vcpu_count: usize,
        num_spis: u32,
        mpidrs: &[u64],
    ) -> Result<(), VgicError> {
        if vcpu_count == 0 || vcpu_count > MAX_VCPUS {
            return Err(VgicError::BadVcpuCount(vcpu_count));
        }
        if !num_spis.is_multiple_of(32) || num_spis > MAX_SPI_COUNT {
            return Err(VgicError::BadSpiCount(num_spis));
        }
        let need_mpidrs = version == Version::V3 || !mpidrs.is_empty();
        if need_mpidrs && mpidrs.len() != vcpu_count {
            return Err(VgicError::MpidrCount {
                expected: vcpu_count,
                got: mpidrs.len(),
            });
        }
        let mut affinities = [0u32; MAX_VCPUS];
        for (i, &mpidr) in mpidrs.iter().enumerate() {
            let aff = affinity::pack_mpidr(mpidr);
            if let Some(first) = affinities[..i].iter().position(|&a| a == aff) {
                return Err(VgicError::DuplicateAffinity { first, second: i });
            }
            affinities[i] = aff;
        }
        *self = Self::empty();
        self.version = version;
        self.vcpu_count = vcpu_count;
        self.num_spis = num_spis;
        for (vcpu, &aff) in self.vcpus.iter_mut().zip(affinities.iter()) {
            vcpu.affinity = aff;
        }
        Ok(())
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn vcpu_count(&self) -> usize {
        self.vcpu_count
    }

    pub fn num_spis(&self) -> u32 {
        self.num_spis
    }

    /// Size of the redistributor region to describe to the guest (and to
    /// leave unmapped in stage 2): one 128 KiB frame pair per vCPU.
    pub fn redist_region_size(&self) -> u64 {
        REDIST_FRAME_SIZE * self.vcpu_count as u64
    }

    /// Bit mask of all configured vCPUs.
    fn all_vcpus(&self) -> u32 {
        (1u32 << self.vcpu_count) - 1
    }

    fn spi_slot(&self, intid: u32) -> Option<usize> {
        let end = (PRIVATE_INTIDS + self.num_spis).min(SPI_LIMIT);
        (PRIVATE_INTIDS..end)
            .contains(&intid)
            .then(|| (intid - PRIVATE_INTIDS) as usize)
    }

    fn group_enabled(&self, irq: &Irq) -> bool {
        if irq.group1 {
            self.enable_grp1
        } else {
            self.enable_grp0
        }
    }

    /// Pending, enabled, and its group enabled: what the distributor
    /// forwards to a CPU interface (IHI 0069H §4.1, interrupt lifecycle, and
    /// the enable bits of `GICD_CTLR` / `GICD_ISENABLER<n>` in §12.9).
    fn deliverable(&self, irq: &Irq) -> bool {
        irq.pending() && irq.enabled && self.group_enabled(irq)
    }

    /// The interrupt `intid` as seen from `vcpu` (private INTIDs are
    /// banked per vCPU; SPIs are shared).
    fn irq(&self, vcpu: usize, intid: u32) -> Option<&Irq> {
        if intid < PRIVATE_INTIDS {
            self.vcpus
                .get(vcpu)
                .filter(|_| vcpu < self.vcpu_count)?
                .private
                .get(intid as usize)
        } else {
            self.spis.get(self.spi_slot(intid)?)
        }
    }

    fn irq_mut(&mut self, vcpu: usize, intid: u32) -> Option<&mut Irq> {
        if intid < PRIVATE_INTIDS {
            if vcpu >= self.vcpu_count {
                return None;
            }
            self.vcpus.get_mut(vcpu)?.private.get_mut(intid as usize)
        } else {
            let slot = self.spi_slot(intid)?;
            self.spis.get_mut(slot)
        }
    }

    /// vCPUs to kick after `intid` (seen from `vcpu`) changed: its target
    /// if it is now deliverable, and whoever holds it in a list register.
    fn kick_for(&self, vcpu: usize, intid: u32) -> u32 {
        let Some(irq) = self.irq(vcpu, intid) else {
            return 0;
        };
        let mut mask = 0;
        if irq.in_lr() {
            mask |= vcpu_bit(usize::from(irq.lr_vcpu));
        }
        if self.deliverable(irq) || irq.active {
            let target = if intid < PRIVATE_INTIDS {
                Some(vcpu)
            } else {
                self.spi_target(intid, self.one_of_n_target())
            };
            if let Some(t) = target {
                mask |= vcpu_bit(t);
            }
        }
        mask
    }
}

impl Default for VGic {
    fn default() -> Self {
        Self::empty()
    }
}
