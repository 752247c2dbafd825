//! The Raspberry Pi 5's device tree as Linux ships it.
//!
//! Fixture `tests/fixtures/bcm2712-rpi-5-b.dtb`: copied unchanged from
//! Debian 12's generic arm64 kernel package
//! `linux-image-6.12.117+deb12-arm64_6.12.117-1~deb12u1_arm64.deb`, path
//! `usr/lib/linux-image-6.12.117+deb12-arm64/broadcom/bcm2712-rpi-5-b.dtb`
//! (6848 bytes, sha256 894449c8…ed9e). It is the UPSTREAM (mainline 6.12)
//! tree, not the Raspberry Pi kernel's ~80 KiB downstream one: it has no
//! RP1/PCIe nodes, and its memory node is the placeholder 640 MiB that the
//! firmware overwrites at boot. `dtc -I dtb -O dts` shows it as source.

mod common;

use common::fixture;
use dtb::{GicVersion, HostInfo, PsciConduit, Region, TimerInfo, UartInfo};

const RPI5: &str = "bcm2712-rpi-5-b.dtb";

fn parse() -> HostInfo {
    let bytes = fixture(RPI5);
    let fdt = dtb::open(&bytes).unwrap();
    HostInfo::parse(&fdt).unwrap()
}

/// `/soc@107c000000` has `ranges = <0x0  0x10 0x0  0x80000000>`: bus
/// address 0 is CPU address 0x10_0000_0000 (1 address cell below, 2 above).
const SOC: u64 = 0x10_0000_0000;

#[test]
fn debug_uart_is_uart10_through_soc_ranges() {
    // `/chosen/stdout-path = "serial10:115200n8"`, alias serial10 =
    // /soc@107c000000/serial@7d001000: the PL011 on the 3-pin debug
    // connector (`uart10` in bcm2712.dtsi), SPI 121 = INTID 153.
    assert_eq!(
        parse().uart,
        Some(UartInfo {
            base: SOC + 0x7d00_1000,
            size: 0x200,
            intid: Some(32 + 121),
        })
    );
}

#[test]
fn gic400_frames() {
    // arm,gic-400 at bus 0x7fff9000: GICD 4 KiB, GICC 8 KiB, GICH 8 KiB
    // (this CPU's frame plus the GIC-400's per-CPU aliases), GICV 8 KiB.
    let gic = parse().gic.unwrap();
    assert_eq!(gic.version, GicVersion::V2);
    assert_eq!(gic.distributor, Region::new(SOC + 0x7fff_9000, 0x1000));
    assert_eq!(
        gic.cpu_interface,
        Some(Region::new(SOC + 0x7fff_a000, 0x2000))
    );
    assert_eq!(
        gic.hyp_interface,
        Some(Region::new(SOC + 0x7fff_c000, 0x2000))
    );
    assert_eq!(
        gic.vcpu_interface,
        Some(Region::new(SOC + 0x7fff_e000, 0x2000))
    );
    assert_eq!(gic.redistributor, None);
    assert_eq!(gic.its, None);
    // <GIC_PPI 9 (GIC_CPU_MASK_SIMPLE(4) | IRQ_TYPE_LEVEL_HIGH)>.
    assert_eq!(gic.maintenance_intid, Some(25));
}

#[test]
fn four_cortex_a76_with_aff1_numbering() {
    let h = parse();
    assert_eq!(h.cpu_count, 4);
    // MPIDR Aff1 is the core number (Aff0 = 0): GICv2 CPU interface numbers
    // must come from GICD_ITARGETSR0, not from MPIDR.Aff0.
    assert_eq!(h.cpus(), [0x000, 0x100, 0x200, 0x300]);
    assert_eq!(h.psci, Some(PsciConduit::Smc));
}

#[test]
fn memory_placeholder_and_tf_a_reservation() {
    let h = parse();
    // The firmware rewrites this with the board's real RAM at boot.
    assert_eq!(h.memory.len(), 1);
    assert_eq!(h.memory.get(0), Some(Region::new(0, 0x2800_0000)));
    // /reserved-memory/atf@0: TF-A BL31. `linux,cma` has only a size and
    // is skipped.
    assert_eq!(h.reserved.len(), 1);
    assert_eq!(h.reserved.get(0), Some(Region::new(0, 0x8_0000)));
}

#[test]
fn arch_timer_without_clock_frequency() {
    // PPIs 13, 14, 11, 10; no clock-frequency: the firmware programs
    // CNTFRQ_EL0 (54 MHz).
    assert_eq!(
        parse().timer,
        Some(TimerInfo {
            secure_phys_intid: 29,
            phys_intid: 30,
            virt_intid: 27,
            hyp_intid: 26,
            hyp_virt_intid: None,
            clock_frequency: None,
        })
    );
}

#[test]
fn no_virtio_and_stays_small() {
    let h = parse();
    assert!(h.virtio_mmio.is_empty());
    assert!(fixture(RPI5).len() < 16 * 1024);
}

#[test]
fn damaged_copies_never_panic() {
    let good = fixture(RPI5);
    // Every truncation is a typed error (the header's totalsize no longer
    // fits), never a panic.
    for len in (0..good.len()).step_by(7) {
        assert!(dtb::parse_any(&good[..len]).is_err(), "truncated to {len}");
    }
    // Single-byte corruption anywhere: any result but a panic.
    for at in (0..good.len()).step_by(13) {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        let _ = dtb::parse_any(&bad);
    }
}
