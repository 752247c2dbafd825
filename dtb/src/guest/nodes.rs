//! One function per node of the guest tree. Names, properties and values
//! follow what QEMU `virt` (hw/arm/virt.c) emits for the same devices, since
//! that is the tree Linux's arm64 defconfig drivers are exercised against.

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use vm_fdt::FdtWriter;

use super::cells::{self, IRQ_EDGE_RISING, IRQ_LEVEL_HIGH, MPIDR_AFFINITY_MASK};
use super::error::GuestDtbError;
use super::{GuestSpec, MmioDevice};
use crate::host::{GicVersion, PsciConduit};
use crate::regions::Region;

/// Phandle of the interrupt controller (the root's `interrupt-parent`).
pub const GIC_PHANDLE: u32 = 1;
/// Phandle of the PL011's fixed clock.
pub const CLOCK_PHANDLE: u32 = 2;
/// The PL011 reference and bus clock QEMU models (`clk24mhz`).
pub const APB_PCLK_HZ: u32 = 24_000_000;

type Result<T = ()> = core::result::Result<T, GuestDtbError>;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `/cpus`: one `cpu@<reg>` per vCPU, `reg` = that vCPU's MPIDR affinity.
/// One address cell suffices unless some Aff3 is non-zero (Linux
/// `arm/cpus.yaml`: "#address-cells = <1> ... if Aff3 is 0").
pub fn cpus(w: &mut FdtWriter, mpidrs: &[u64]) -> Result {
    let affinities: Vec<u64> = mpidrs.iter().map(|m| m & MPIDR_AFFINITY_MASK).collect();
    let wide = affinities.iter().any(|a| *a > u64::from(u32::MAX));
    let node = w.begin_node("cpus")?;
    w.property_u32("#address-cells", if wide { 2 } else { 1 })?;
    w.property_u32("#size-cells", 0)?;
    for aff in affinities {
        let cpu = w.begin_node(&format!("cpu@{aff:x}"))?;
        w.property_string("device_type", "cpu")?;
        w.property_string("compatible", "arm,armv8")?;
        if wide {
            w.property_u64("reg", aff)?;
        } else {
            // `wide` is false, so the value fits in 32 bits.
            w.property_u32("reg", aff as u32)?;
        }
        // Secondaries are started by PSCI CPU_ON, which the hypervisor serves.
        w.property_string("enable-method", "psci")?;
        w.end_node(cpu)?;
    }
    w.end_node(node)?;
    Ok(())
}

/// `/psci` (Linux `arm/psci.yaml`). Without the legacy `"arm,psci"`
/// compatible no per-function IDs are needed.
pub fn psci(w: &mut FdtWriter, conduit: PsciConduit) -> Result {
    let node = w.begin_node("psci")?;
    w.property_string_list("compatible", strings(&["arm,psci-1.0", "arm,psci-0.2"]))?;
    let method = match conduit {
        PsciConduit::Hvc => "hvc",
        PsciConduit::Smc => "smc",
    };
    w.property_string("method", method)?;
    w.end_node(node)?;
    Ok(())
}

/// `/memory@<base>` (DTSpec §3.4).
pub fn memory(w: &mut FdtWriter, ram: Region) -> Result {
    let node = w.begin_node(&format!("memory@{:x}", ram.base))?;
    w.property_string("device_type", "memory")?;
    w.property_array_u64("reg", &cells::reg(&[ram]))?;
    w.end_node(node)?;
    Ok(())
}

/// `/chosen` (DTSpec §3.6; Linux `Documentation/devicetree/bindings/chosen.txt`
/// for the initrd properties, whose end is exclusive).
pub fn chosen(w: &mut FdtWriter, spec: &GuestSpec<'_>) -> Result {
    let node = w.begin_node("chosen")?;
    w.property_string("bootargs", spec.bootargs)?;
    if let Some(uart) = &spec.uart {
        w.property_string("stdout-path", &uart_path(uart))?;
    }
    if let Some(initrd) = spec.initrd {
        w.property_u64("linux,initrd-start", initrd.base)?;
        w.property_u64("linux,initrd-end", initrd.end())?;
    }
    w.end_node(node)?;
    Ok(())
}

/// `/timer` (Linux `timer/arm,arch_timer.yaml`): secure phys, phys, virt,
/// hyp phys PPIs, level-high as QEMU emits them, with GICv2's CPU mask
/// covering every vCPU (QEMU: `(1 << smp_cpus) - 1` in bits 15:8).
pub fn timer(w: &mut FdtWriter, spec: &GuestSpec<'_>) -> Result {
    let t = &spec.timer;
    let flags = match spec.gic.version {
        GicVersion::V3 => IRQ_LEVEL_HIGH,
        // vcpus <= 8 was checked, so the mask fits its 8 bits.
        GicVersion::V2 => IRQ_LEVEL_HIGH | ((((1u32 << spec.vcpus) - 1) & 0xff) << 8),
    };
    let mut irqs = Vec::with_capacity(12);
    for (what, intid) in [
        ("timer sec-phys", t.secure_phys_intid),
        ("timer phys", t.phys_intid),
        ("timer virt", t.virt_intid),
        ("timer hyp-phys", t.hyp_intid),
    ] {
        irqs.extend(cells::ppi(what, intid, flags)?);
    }
    let node = w.begin_node("timer")?;
    w.property_string_list(
        "compatible",
        strings(&["arm,armv8-timer", "arm,armv7-timer"]),
    )?;
    w.property_array_u32("interrupts", &irqs)?;
    w.property_null("always-on")?;
    if let Some(hz) = t.clock_frequency {
        w.property_u32("clock-frequency", hz)?;
    }
    w.end_node(node)?;
    Ok(())
}

/// `/intc@<gicd>`: GICv3 (`arm,gic-v3.yaml`: reg = GICD, GICR) or GICv2
/// (`arm,gic.yaml`: reg = GICD, GICC, where GICC is the IPA the hypervisor
/// backs with GICV).
pub fn intc(w: &mut FdtWriter, spec: &GuestSpec<'_>) -> Result {
    let gic = &spec.gic;
    let node = w.begin_node(&format!("intc@{:x}", gic.distributor.base))?;
    match gic.version {
        GicVersion::V3 => {
            w.property_string("compatible", "arm,gic-v3")?;
            w.property_u32("#redistributor-regions", 1)?;
        }
        GicVersion::V2 => w.property_string("compatible", "arm,cortex-a15-gic")?,
    }
    w.property_u32("#interrupt-cells", 3)?;
    w.property_null("interrupt-controller")?;
    // An interrupt provider's own #address-cells (dtc's interrupt_provider
    // check); 0 because it has no children and no interrupt-map users.
    w.property_u32("#address-cells", 0)?;
    w.property_array_u64("reg", &cells::reg(&[gic.distributor, gic.cpu]))?;
    if let Some(intid) = gic.maintenance_intid {
        w.property_array_u32(
            "interrupts",
            &cells::ppi("GIC maintenance", intid, IRQ_LEVEL_HIGH)?,
        )?;
    }
    w.property_phandle(GIC_PHANDLE)?;
    w.end_node(node)?;
    Ok(())
}

/// `/pl011@<base>` plus the fixed clock Linux's amba-pl011 probe requires
/// (`serial/arm,pl011.yaml`: clocks `uartclk` and `apb_pclk`).
pub fn uart(w: &mut FdtWriter, uart: &MmioDevice) -> Result {
    let clk = w.begin_node("apb-pclk")?;
    w.property_string("compatible", "fixed-clock")?;
    w.property_u32("#clock-cells", 0)?;
    w.property_u32("clock-frequency", APB_PCLK_HZ)?;
    w.property_string("clock-output-names", "clk24mhz")?;
    w.property_phandle(CLOCK_PHANDLE)?;
    w.end_node(clk)?;

    let irq = cells::spi("UART", uart.intid, IRQ_LEVEL_HIGH)?;
    let node = w.begin_node(&uart_path(uart)[1..])?;
    w.property_string_list("compatible", strings(&["arm,pl011", "arm,primecell"]))?;
    w.property_array_u64("reg", &cells::reg(&[uart.region]))?;
    w.property_array_u32("interrupts", &irq)?;
    w.property_array_u32("clocks", &[CLOCK_PHANDLE, CLOCK_PHANDLE])?;
    w.property_string_list("clock-names", strings(&["uartclk", "apb_pclk"]))?;
    w.end_node(node)?;
    Ok(())
}

/// `/virtio_mmio@<base>` (`virtio/mmio.yaml`), edge-rising as QEMU emits.
/// `dma-coherent`: the guest's RAM is cacheable normal memory on both sides.
pub fn virtio_mmio(w: &mut FdtWriter, dev: &MmioDevice) -> Result {
    let irq = cells::spi("virtio-mmio", dev.intid, IRQ_EDGE_RISING)?;
    let node = w.begin_node(&format!("virtio_mmio@{:x}", dev.region.base))?;
    w.property_string("compatible", "virtio,mmio")?;
    w.property_array_u64("reg", &cells::reg(&[dev.region]))?;
    w.property_array_u32("interrupts", &irq)?;
    w.property_null("dma-coherent")?;
    w.end_node(node)?;
    Ok(())
}

/// Absolute path of the UART node, for `stdout-path`.
fn uart_path(uart: &MmioDevice) -> String {
    format!("/pl011@{:x}", uart.region.base)
}

/// The root node's own properties.
pub fn root_props(w: &mut FdtWriter) -> Result {
    w.property_u32("#address-cells", 2)?;
    w.property_u32("#size-cells", 2)?;
    w.property_string("compatible", "linux,dummy-virt")?;
    w.property_string("model", "elf-hypervisor guest")?;
    w.property_u32("interrupt-parent", GIC_PHANDLE)?;
    Ok(())
}
