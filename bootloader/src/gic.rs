//! The physical GIC as the hypervisor uses it, GICv2 or GICv3 as the DTB
//! says: set up once on the boot CPU, then shared read-only by all CPUs.
//! Everything above this module (vm/irq.rs) is version-independent except
//! for the list-register encoding, which `emul::vgic::lr` provides.

use arch_hal::gic::gich::GicH;
use arch_hal::gic::v2::{GicV2, Iar, SgiTarget};
use arch_hal::gic::v3::GicV3;
use arch_hal::gic::{icc, ich, regs};
use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};
use spin::Once;

#[derive(Clone, Copy, Debug)]
pub enum HostGic {
    V2 { gic: GicV2, gich: GicH },
    V3(GicV3),
}

static GIC: Once<HostGic> = Once::new();

/// GICv2 CPU interface number of each pCPU (not derivable from MPIDR on
/// every SoC: on the Pi 5 Aff0 is 0 on all cores).
static CPU_IF: [AtomicU8; crate::cpus::MAX_CPUS] =
    [const { AtomicU8::new(0) }; crate::cpus::MAX_CPUS];

pub enum GicError {
    Missing,
    Incomplete(&'static str),
    Cpu(&'static str),
}

impl fmt::Display for GicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "the DTB describes no interrupt controller"),
            Self::Incomplete(what) => write!(f, "the DTB's GIC node lacks the {what}"),
            Self::Cpu(why) => write!(f, "GIC CPU set-up failed: {why}"),
        }
    }
}

/// An acknowledged physical interrupt.
#[derive(Clone, Copy, Debug)]
pub struct Ack {
    pub intid: u32,
    raw: u32,
}

/// Initialises the distributor (boot CPU only) and publishes the GIC.
pub fn init(host: &dtb::HostInfo) -> Result<HostGic, GicError> {
    let info = host.gic.as_ref().ok_or(GicError::Missing)?;
    let gic = match info.version {
        dtb::GicVersion::V3 => {
            let gicr = info
                .redistributor
                .ok_or(GicError::Incomplete("redistributor region"))?;
            // SAFETY: addresses from the DTB, mapped Device by the identity
            // map; the hypervisor is the only driver of the physical GIC.
            let g = unsafe {
                GicV3::new(
                    info.distributor.base as usize,
                    gicr.base as usize,
                    gicr.size as usize,
                )
            };
            g.init_distributor();
            HostGic::V3(g)
        }
        dtb::GicVersion::V2 => {
            let gicc = info
                .cpu_interface
                .ok_or(GicError::Incomplete("CPU interface (GICC)"))?;
            let gich = info
                .hyp_interface
                .ok_or(GicError::Incomplete("virtual interface control (GICH)"))?;
            info.vcpu_interface
                .ok_or(GicError::Incomplete("virtual CPU interface (GICV)"))?;
            // SAFETY: as above, for the GICv2 frames.
            let g = unsafe {
                GicV2::new(
                    info.distributor.base as usize,
                    gicc.base as usize,
                    gich.base as usize,
                )
            };
            g.init_distributor();
            // SAFETY: GICH from the same DTB node, used only by us.
            HostGic::V2 {
                gic: g,
                gich: unsafe { GicH::new(gich.base as usize) },
            }
        }
    };
    Ok(*GIC.call_once(|| gic))
}

pub fn get() -> Option<HostGic> {
    GIC.get().copied()
}

impl HostGic {
    /// This CPU's interface: wake it, enable the listed SGIs/PPIs, and (v2)
    /// learn its CPU interface number for SPI targets and SGIs.
    pub fn init_cpu(&self, index: usize, mpidr: u64, enable: &[u32]) -> Result<(), GicError> {
        match self {
            Self::V3(g) => g
                .init_cpu(mpidr, enable)
                .map_err(|_| GicError::Cpu("redistributor")),
            Self::V2 { gic, .. } => {
                gic.init_cpu(enable);
                let id = gic
                    .cpu_interface_id()
                    .map_err(|_| GicError::Cpu("no CPU interface number"))?;
                if let Some(slot) = CPU_IF.get(index) {
                    slot.store(id as u8, Ordering::Relaxed);
                }
                Ok(())
            }
        }
    }

    /// Routes SPI `intid` to pCPU `index` and enables it.
    pub fn enable_spi(&self, intid: u32, index: usize, mpidr: u64) {
        match self {
            Self::V3(g) => g.enable_spi(intid, mpidr),
            Self::V2 { gic, .. } => {
                let id = CPU_IF.get(index).map_or(0, |s| s.load(Ordering::Relaxed));
                let _ = gic.enable_spi(intid, 1 << id);
            }
        }
    }

    pub fn ack(&self) -> Ack {
        match self {
            Self::V3(_) => {
                let v = icc::ack();
                Ack { intid: v, raw: v }
            }
            Self::V2 { gic, .. } => {
                let iar = gic.ack();
                Ack {
                    intid: iar.intid(),
                    raw: iar.0,
                }
            }
        }
    }

    /// Priority drop (EOImode 1 on both versions).
    pub fn eoi(&self, a: Ack) {
        match self {
            Self::V3(_) => icc::eoi(a.raw),
            Self::V2 { gic, .. } => gic.eoi(Iar(a.raw)),
        }
    }

    pub fn deactivate(&self, a: Ack) {
        match self {
            Self::V3(_) => icc::deactivate(a.raw),
            Self::V2 { gic, .. } => gic.deactivate(Iar(a.raw)),
        }
    }

    /// Sends SGI `intid` to pCPU `index` (MPIDR `mpidr`).
    pub fn send_sgi(&self, intid: u32, index: usize, mpidr: u64) {
        match self {
            Self::V3(_) => icc::send_sgi(regs::sgi1r(intid, mpidr)),
            Self::V2 { gic, .. } => {
                let id = CPU_IF.get(index).map_or(0, |s| s.load(Ordering::Relaxed));
                let _ = gic.send_sgi(intid, SgiTarget::List(1 << id));
            }
        }
    }

    // The virtual CPU interface's list registers (ICH_* or GICH_*).

    pub fn list_registers(&self) -> usize {
        match self {
            Self::V3(_) => ich::list_registers(),
            Self::V2 { gich, .. } => gich.list_registers(),
        }
    }

    /// (vINTID, state) of LR `i`, None when it is all zero.
    pub fn read_lr(&self, i: usize) -> Option<(u32, emul::LrState)> {
        match self {
            Self::V3(_) => {
                let v = ich::read_lr(i);
                (v != 0).then(|| emul::vgic::lr::decode_v3(v))
            }
            Self::V2 { gich, .. } => {
                let v = gich.read_lr(i).unwrap_or(0);
                (v != 0).then(|| emul::vgic::lr::decode_v2(v))
            }
        }
    }

    pub fn clear_lr(&self, i: usize) {
        match self {
            Self::V3(_) => ich::write_lr(i, 0),
            Self::V2 { gich, .. } => {
                let _ = gich.write_lr(i, 0);
            }
        }
    }

    pub fn write_lr(&self, i: usize, inj: &emul::Injection) {
        match self {
            Self::V3(_) => ich::write_lr(i, emul::vgic::lr::encode_v3(inj)),
            Self::V2 { gich, .. } => {
                let _ = gich.write_lr(i, emul::vgic::lr::encode_v2(inj));
            }
        }
    }

    /// Enables the virtual CPU interface, with the underflow maintenance
    /// interrupt when `underflow` (ICH_HCR_EL2 / GICH_HCR: En, UIE).
    /// `enabled = false` holds every virtual interrupt back (the list
    /// registers keep their state): a single step must execute the
    /// instruction at pc, not enter an interrupt handler.
    pub fn set_virtual_control(&self, underflow: bool, enabled: bool) {
        let bits = match (enabled, underflow) {
            (false, _) => 0,
            (true, false) => 1,
            (true, true) => 0b11,
        };
        match self {
            Self::V3(_) => ich::set_hcr(bits),
            Self::V2 { gich, .. } => gich.set_hcr(bits as u32),
        }
    }

    /// Resets the virtual CPU interface state for a fresh vCPU.
    pub fn reset_virtual(&self) {
        for i in 0..self.list_registers() {
            self.clear_lr(i);
        }
        match self {
            Self::V3(_) => ich::set_vmcr(0),
            Self::V2 { gich, .. } => gich.set_vmcr(0),
        }
        self.set_virtual_control(false, true);
    }
}
