//! The Raspberry Pi 5's SoC, BCM2712: four Cortex-A76 (MPIDR 0x000, 0x100,
//! 0x200, 0x300), a GIC-400 and the debug-connector PL011 (`uart10`), all
//! under `/soc@107c000000`, whose `ranges` maps bus address 0 to CPU
//! address 0x10_0000_0000 (Linux `bcm2712.dtsi`).
//!
//! Boot state, from the firmware in the bootloader EEPROM: the kernel image
//! (`kernel_2712.img`) is loaded at `kernel_address` and entered on the boot
//! CPU at EL2 through the firmware's TF-A BL31 (which lives at 0..0x80000,
//! `/reserved-memory/atf@0`), MMU off, x0 = the firmware's DTB (Linux arm64
//! boot protocol, see [`crate::entry`]). Secondary CPUs are started with
//! PSCI CPU_ON over SMC (`/psci`, `method = "smc"`).

use dtb::{GicVersion, HostInfo};

use crate::error::PlatformError;
use crate::gic::{self, GicFrames};
use crate::platform::Platform;

/// BCM2712 boards (Raspberry Pi 5, CM5, Pi 500): root compatible
/// `brcm,bcm2712` (Linux binding `arm/bcm/brcm,bcm2835.yaml`).
pub struct Bcm2712;

pub static BCM2712: Bcm2712 = Bcm2712;

impl Platform for Bcm2712 {
    fn name(&self) -> &'static str {
        "Broadcom BCM2712 (Raspberry Pi 5)"
    }

    fn compatible(&self) -> &'static [&'static str] {
        &["brcm,bcm2712"]
    }

    /// The GIC-400 (GICv2) with all four frames: GICD, GICC (8 KiB), GICH,
    /// GICV (8 KiB).
    fn gic(&self, host: &HostInfo) -> Result<GicFrames, PlatformError> {
        let info = host.gic.as_ref().ok_or(PlatformError::NoGic)?;
        if info.version != GicVersion::V2 {
            return Err(PlatformError::NotGicV2);
        }
        gic::frames(host)
    }
}
