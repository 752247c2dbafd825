//! The [`Platform`] trait and machine detection from the root `compatible`.

use dtb::fdt::Fdt;
use dtb::{HostInfo, NodeName, Region, UartInfo};

use crate::bcm2712::BCM2712;
use crate::error::PlatformError;
use crate::gic::GicFrames;
use crate::memory::{self, UsableRam};
use crate::qemu_virt::QEMU_VIRT;
use crate::timer;

/// What the hypervisor needs to know about a machine beyond the generic
/// [`HostInfo`]. Every answer is derived from the host device tree; a
/// platform adds only checks and policy (which GIC it must have, for
/// example), never addresses of its own.
pub trait Platform: Sync {
    /// Human-readable name for the boot log.
    fn name(&self) -> &'static str;

    /// Root-node `compatible` strings that identify this machine (any one
    /// matches).
    fn compatible(&self) -> &'static [&'static str];

    /// The console: the PL011 `/chosen/stdout-path` names, else the first
    /// available one.
    fn console(&self, host: &HostInfo) -> Result<UartInfo, PlatformError> {
        host.uart.ok_or(PlatformError::NoConsole)
    }

    /// The physical GIC frames the hypervisor drives.
    fn gic(&self, host: &HostInfo) -> Result<GicFrames, PlatformError>;

    /// RAM the hypervisor may hand out: the memory nodes minus the
    /// reservations in the tree and minus `exclude` (the hypervisor image,
    /// the DTB blob, an initrd loaded by firmware...).
    fn memory(&self, host: &HostInfo, exclude: &[Region]) -> Result<UsableRam, PlatformError> {
        memory::usable(host, exclude)
    }

    /// The generic timer's frequency in Hz, from the DTB's
    /// `clock-frequency` if present (firmware that could not program
    /// CNTFRQ_EL0), else from `cntfrq_el0` (as read on this CPU).
    fn timer_frequency(&self, host: &HostInfo, cntfrq_el0: u64) -> Result<u64, PlatformError> {
        timer::frequency(host, cntfrq_el0)
    }
}

/// Every supported machine, in detection order.
pub static PLATFORMS: [&dyn Platform; 2] = [&QEMU_VIRT, &BCM2712];

/// Whether any string of the root node's `compatible` is in `wanted`.
pub fn root_compatible_matches(fdt: &Fdt<'_>, wanted: &[&str]) -> bool {
    root_compatibles(fdt).any(|c| wanted.contains(&c))
}

fn root_compatibles<'a>(fdt: &Fdt<'a>) -> impl Iterator<Item = &'a str> {
    let value = fdt
        .find_node("/")
        .and_then(|root| root.property("compatible"))
        .map(|p| p.value)
        .unwrap_or(&[]);
    value
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| core::str::from_utf8(s).ok())
}

/// The platform whose compatible strings match the root node.
///
/// The tree must come from `dtb::open`/`dtb::open_at`, which validate it so
/// that the `fdt` crate's accessors cannot panic.
pub fn detect(fdt: &Fdt<'_>) -> Result<&'static dyn Platform, PlatformError> {
    PLATFORMS
        .iter()
        .copied()
        .find(|p| root_compatible_matches(fdt, p.compatible()))
        .ok_or_else(|| {
            let first = root_compatibles(fdt).next().unwrap_or("(none)");
            PlatformError::UnknownMachine(NodeName::new(first))
        })
}
