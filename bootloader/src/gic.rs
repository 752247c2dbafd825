//! The physical GICv3 as the hypervisor uses it: set up once on the boot
//! CPU, shared read-only by all CPUs afterwards.

use arch_hal::gic::v3::GicV3;
use core::fmt;
use spin::Once;

static GIC: Once<GicV3> = Once::new();

pub enum GicError {
    Missing,
    NotV3,
}

impl fmt::Display for GicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "the DTB describes no interrupt controller"),
            Self::NotV3 => write!(f, "only GICv3 hosts are supported so far"),
        }
    }
}

/// Initialises the distributor (boot CPU only) and publishes the GIC.
pub fn init(host: &dtb::HostInfo) -> Result<GicV3, GicError> {
    let info = host.gic.as_ref().ok_or(GicError::Missing)?;
    let gicr = info.redistributor.ok_or(GicError::NotV3)?;
    if info.version != dtb::GicVersion::V3 {
        return Err(GicError::NotV3);
    }
    // SAFETY: addresses from the DTB, mapped Device by the identity map;
    // the hypervisor is the only driver of the physical GIC.
    let gic = unsafe {
        GicV3::new(
            info.distributor.base as usize,
            gicr.base as usize,
            gicr.size as usize,
        )
    };
    gic.init_distributor();
    Ok(*GIC.call_once(|| gic))
}

pub fn get() -> Option<GicV3> {
    GIC.get().copied()
}
