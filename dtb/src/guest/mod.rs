//! The device tree the hypervisor hands to a Linux guest.
//!
//! Built from scratch (not copied from the host tree) so that the guest sees
//! exactly the machine the hypervisor emulates or passes through, and
//! nothing else: no flash, fw-cfg, PCIe, RTC or secure-world nodes. The
//! shape mirrors QEMU `virt`'s tree, which Linux's `linux,dummy-virt`
//! support and defconfig drivers expect:
//!
//! ```text
//! / { #address-cells = <2>; #size-cells = <2>; compatible = "linux,dummy-virt";
//!     interrupt-parent = <&gic>;
//!     cpus { cpu@0 { ... enable-method = "psci"; }; ... };
//!     psci { compatible = "arm,psci-1.0", "arm,psci-0.2"; method = "hvc"; };
//!     memory@40000000 { device_type = "memory"; reg = <...>; };
//!     chosen { bootargs; stdout-path; linux,initrd-start; linux,initrd-end; };
//!     timer { compatible = "arm,armv8-timer"; interrupts = <4 PPIs>; always-on; };
//!     intc@8000000 { compatible = "arm,gic-v3" | "arm,cortex-a15-gic"; ... };
//!     apb-pclk { compatible = "fixed-clock"; 24 MHz };
//!     pl011@9000000 { ... };
//!     virtio_mmio@a000000 { ... };
//! };
//! ```
//!
//! All addresses in a [`GuestSpec`] are guest IPAs.

extern crate alloc;

mod cells;
mod error;
mod nodes;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;

use vm_fdt::FdtWriter;

pub use cells::{IRQ_EDGE_RISING, IRQ_LEVEL_HIGH, MPIDR_AFFINITY_MASK};
pub use error::GuestDtbError;
pub use nodes::{APB_PCLK_HZ, CLOCK_PHANDLE, GIC_PHANDLE};

use crate::host::{GicInfo, GicVersion, PsciConduit, TimerInfo};
use crate::regions::Region;

/// An MMIO device with one SPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioDevice {
    /// Guest IPA range.
    pub region: Region,
    /// GIC INTID, an SPI (32..=1019).
    pub intid: u32,
}

/// The interrupt controller as the guest sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestGic {
    pub version: GicVersion,
    /// GICD.
    pub distributor: Region,
    /// GICv3: the GICR region (must cover `vcpus` redistributors,
    /// 128 KiB each). GICv2: the IPA of the guest's GICC, where the
    /// hypervisor maps the host's GICV.
    pub cpu: Region,
    /// Maintenance interrupt (a PPI) for a guest that itself virtualizes
    /// the GIC; `None` for an ordinary EL1 guest.
    pub maintenance_intid: Option<u32>,
}

impl GuestGic {
    /// The guest GIC at the host's own addresses (the usual identity IPA
    /// layout): GICD and GICR for v3; GICD and the host's GICC address for
    /// v2. `None` when the host tree lacks the frame needed.
    pub fn identity(host: &GicInfo) -> Option<Self> {
        let cpu = match host.version {
            GicVersion::V3 => host.redistributor?,
            GicVersion::V2 => host.cpu_interface?,
        };
        Some(Self {
            version: host.version,
            distributor: host.distributor,
            cpu,
            maintenance_intid: None,
        })
    }
}

/// Everything the guest tree describes.
#[derive(Clone, Copy, Debug)]
pub struct GuestSpec<'a> {
    /// Guest RAM.
    pub ram: Region,
    /// Number of vCPUs; vCPU `i` gets `mpidrs[i]`.
    pub vcpus: usize,
    /// MPIDR values, at least `vcpus` of them (the host's, so that vCPU i
    /// has pCPU i's MPIDR: pass [`HostInfo::cpus`](crate::HostInfo::cpus)).
    pub mpidrs: &'a [u64],
    /// Kernel command line.
    pub bootargs: &'a str,
    /// Initramfs location, inside `ram`.
    pub initrd: Option<Region>,
    pub gic: GuestGic,
    /// The console PL011; also `stdout-path`.
    pub uart: Option<MmioDevice>,
    pub virtio_mmio: &'a [MmioDevice],
    /// The host's timer PPIs (the guest sees the same INTIDs).
    pub timer: TimerInfo,
    /// The PSCI conduit; `Hvc` for a guest of this hypervisor.
    pub psci: PsciConduit,
}

/// Builds the guest's flattened device tree (DTSpec v0.4 §5, version 17).
pub fn build(spec: &GuestSpec<'_>) -> Result<Vec<u8>, GuestDtbError> {
    validate(spec)?;
    let mpidrs = spec.mpidrs.get(..spec.vcpus).unwrap_or(&[]);

    let mut w = FdtWriter::new()?;
    // The boot CPU is vCPU 0 (DTSpec §5.2: boot_cpuid_phys = its reg).
    if let Some(&boot) = mpidrs.first() {
        w.set_boot_cpuid_phys((boot & 0xff_ffff) as u32);
    }
    let root = w.begin_node("")?;
    nodes::root_props(&mut w)?;
    nodes::cpus(&mut w, mpidrs)?;
    nodes::psci(&mut w, spec.psci)?;
    nodes::memory(&mut w, spec.ram)?;
    nodes::chosen(&mut w, spec)?;
    nodes::timer(&mut w, spec)?;
    nodes::intc(&mut w, spec)?;
    if let Some(uart) = &spec.uart {
        nodes::uart(&mut w, uart)?;
    }
    for dev in spec.virtio_mmio {
        nodes::virtio_mmio(&mut w, dev)?;
    }
    w.end_node(root)?;
    Ok(w.finish()?)
}

/// Checks the spec before writing anything, so that a bad spec is reported
/// by what is wrong rather than by a half-written tree.
fn validate(spec: &GuestSpec<'_>) -> Result<(), GuestDtbError> {
    if spec.vcpus == 0 {
        return Err(GuestDtbError::NoVcpus);
    }
    if spec.mpidrs.len() < spec.vcpus {
        return Err(GuestDtbError::TooFewMpidrs {
            vcpus: spec.vcpus,
            mpidrs: spec.mpidrs.len(),
        });
    }
    if spec.gic.version == GicVersion::V2 && spec.vcpus > 8 {
        return Err(GuestDtbError::TooManyVcpusForGicV2(spec.vcpus));
    }
    let ram = spec.ram;
    if ram.size == 0 || ram.checked_end().is_none() {
        return Err(GuestDtbError::BadRam);
    }
    if let Some(initrd) = spec.initrd {
        let inside = initrd.size != 0
            && initrd.checked_end().is_some()
            && initrd.base >= ram.base
            && initrd.end() <= ram.end();
        if !inside {
            return Err(GuestDtbError::InitrdOutsideRam);
        }
    }
    let mut devices = [
        ("GIC distributor", Some(spec.gic.distributor)),
        ("GIC CPU interface/redistributor", Some(spec.gic.cpu)),
        ("UART", spec.uart.map(|u| u.region)),
    ]
    .into_iter()
    .flat_map(|(what, r)| r.map(|r| (what, r)))
    .chain(spec.virtio_mmio.iter().map(|d| ("virtio-mmio", d.region)));
    if let Some((what, _)) =
        devices.find(|(_, r)| r.size == 0 || r.checked_end().is_none() || r.overlaps(&ram))
    {
        return Err(GuestDtbError::BadDeviceRegion(what));
    }
    Ok(())
}
