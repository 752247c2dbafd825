//! QEMU's `virt` machine (`hw/arm/virt.c`), GICv2 or GICv3.

use dtb::HostInfo;

use crate::error::PlatformError;
use crate::gic::{self, GicFrames};
use crate::platform::Platform;

/// QEMU `virt`: its generated tree's root is `compatible =
/// "linux,dummy-virt"` (QEMU `create_fdt()`).
pub struct QemuVirt;

pub static QEMU_VIRT: QemuVirt = QemuVirt;

impl Platform for QemuVirt {
    fn name(&self) -> &'static str {
        "QEMU virt"
    }

    fn compatible(&self) -> &'static [&'static str] {
        &["linux,dummy-virt"]
    }

    /// Either GIC version (`-M virt,gic-version=2|3`); a GICv2 must have the
    /// virtualization frames (`virtualization=on`).
    fn gic(&self, host: &HostInfo) -> Result<GicFrames, PlatformError> {
        gic::frames(host)
    }
}
