//! What the hypervisor needs to know about the machine it runs on, gathered
//! from the host device tree in one call.

use core::fmt;

use crate::error::DtbError;
use crate::intc::IrqResolver;
use crate::list::BoundedList;
use crate::regions::{Region, Regions};
use crate::{cpus, gic, memory, psci, timer, uart, virtio};

/// Capacity of [`HostInfo::memory`].
pub const MAX_MEMORY_REGIONS: usize = 16;
/// Capacity of [`HostInfo::reserved`].
pub const MAX_RESERVED_REGIONS: usize = 32;
/// Capacity of [`HostInfo::cpu_mpidrs`].
pub const MAX_CPUS: usize = 64;
/// Capacity of [`HostInfo::virtio_mmio`] (QEMU `virt` has 32).
pub const MAX_VIRTIO_MMIO: usize = 64;
/// Capacity of [`GicInfo::redistributors`].
pub const MAX_GICR_REGIONS: usize = 8;

/// How PSCI calls reach firmware (the psci node's `method`, Linux binding
/// `arm/psci.yaml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciConduit {
    /// `SMC #0` to EL3 firmware.
    Smc,
    /// `HVC #0` to a hypervisor (only when we are not EL2 ourselves).
    Hvc,
}

/// GIC architecture version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicVersion {
    V2,
    V3,
}

/// The interrupt controller's MMIO frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicInfo {
    pub version: GicVersion,
    /// GICD.
    pub distributor: Region,
    /// First GICR region (v3 only).
    pub redistributor: Option<Region>,
    /// All GICR regions, `#redistributor-regions` of them (v3 only).
    pub redistributors: Regions<MAX_GICR_REGIONS>,
    /// GICC: v2, or the optional v2-compatibility frame of a v3.
    pub cpu_interface: Option<Region>,
    /// GICH (virtualization control).
    pub hyp_interface: Option<Region>,
    /// GICV (virtual CPU interface).
    pub vcpu_interface: Option<Region>,
    /// The virtualization maintenance interrupt (a PPI) from the GIC node's
    /// own `interrupts`.
    pub maintenance_intid: Option<u32>,
    /// First available GICv3 ITS child (`arm,gic-v3-its`).
    pub its: Option<Region>,
}

/// A PL011 UART (`arm,pl011`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UartInfo {
    pub base: u64,
    pub size: u64,
    /// `None` if it has no interrupt or it is not routed to the GIC.
    pub intid: Option<u32>,
}

/// The architected generic timer (`arm,armv8-timer`, Linux binding
/// `timer/arm,arch_timer.yaml`) as GIC INTIDs (PPIs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerInfo {
    pub secure_phys_intid: u32,
    pub phys_intid: u32,
    pub virt_intid: u32,
    pub hyp_intid: u32,
    /// EL2 virtual timer (FEAT_VHE), the optional fifth interrupt.
    pub hyp_virt_intid: Option<u32>,
    /// Only set by firmware that cannot program CNTFRQ_EL0.
    pub clock_frequency: Option<u32>,
}

/// One `virtio,mmio` transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioMmio {
    pub region: Region,
    pub intid: u32,
}

/// Everything the hypervisor reads from the host tree.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HostInfo {
    /// RAM from `device_type = "memory"` nodes, in tree order.
    pub memory: Regions<MAX_MEMORY_REGIONS>,
    /// The header's reservation block, then `/reserved-memory` children.
    pub reserved: Regions<MAX_RESERVED_REGIONS>,
    /// Number of valid entries in `cpu_mpidrs`.
    pub cpu_count: usize,
    /// MPIDR affinity values from each cpu node's `reg`, in tree order.
    pub cpu_mpidrs: [u64; MAX_CPUS],
    pub psci: Option<PsciConduit>,
    pub uart: Option<UartInfo>,
    pub gic: Option<GicInfo>,
    pub timer: Option<TimerInfo>,
    /// In tree order.
    pub virtio_mmio: BoundedList<VirtioMmio, MAX_VIRTIO_MMIO>,
}

impl fmt::Debug for HostInfo {
    /// Like the derived form, but shows only the valid CPU entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostInfo")
            .field("memory", &self.memory)
            .field("reserved", &self.reserved)
            .field("cpu_count", &self.cpu_count)
            .field("cpu_mpidrs", &self.cpus())
            .field("psci", &self.psci)
            .field("uart", &self.uart)
            .field("gic", &self.gic)
            .field("timer", &self.timer)
            .field("virtio_mmio", &self.virtio_mmio)
            .finish()
    }
}

impl HostInfo {
    /// Gathers everything from a tree returned by [`open`](crate::open).
    ///
    /// Mandatory: at least one memory region ([`DtbError::NoMemory`]) and one
    /// CPU ([`DtbError::NoCpus`]). Everything else is optional, but a node
    /// that is present and malformed is an error rather than skipped.
    ///
    /// Panic-freedom relies on [`open`](crate::open)'s checks: a tree built
    /// with `fdt::Fdt::new` directly gets `fdt`'s own (panicking) behaviour
    /// on malformed input.
    pub fn parse(fdt: &fdt::Fdt<'_>) -> Result<Self, DtbError> {
        let mut irq = IrqResolver::new(fdt);
        let memory = memory::memory(fdt)?;
        let reserved = memory::reserved(fdt)?;
        let mut cpu_mpidrs = [0; MAX_CPUS];
        let cpu_count = cpus::collect(fdt, &mut cpu_mpidrs)?;
        Ok(Self {
            memory,
            reserved,
            cpu_count,
            cpu_mpidrs,
            psci: psci::conduit(fdt)?,
            uart: uart::find(fdt, &mut irq)?,
            gic: gic::find(fdt, &mut irq)?,
            timer: timer::find(fdt, &mut irq)?,
            virtio_mmio: virtio::collect(fdt, &mut irq)?,
        })
    }

    /// Total bytes of RAM.
    pub fn total_memory(&self) -> u64 {
        self.memory.total_size()
    }

    /// The valid prefix of [`cpu_mpidrs`](Self::cpu_mpidrs).
    pub fn cpus(&self) -> &[u64] {
        self.cpu_mpidrs.get(..self.cpu_count).unwrap_or(&[])
    }
}
