//! The platform layer on real trees: the Raspberry Pi 5's (Linux's
//! `bcm2712-rpi-5-b.dtb`) and QEMU 7.2 `virt` dumps, all from
//! `dtb/tests/fixtures` (provenance in `dtb/tests/rpi5.rs` and the
//! fixtures' README).

use dtb::{HostInfo, Region};
use rpi_boot::{detect, GicFrames, Platform as _, PlatformError, Stage2Window};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../dtb/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn with_tree<R>(name: &str, f: impl FnOnce(&dtb::fdt::Fdt<'_>, &HostInfo) -> R) -> R {
    let bytes = fixture(name);
    let fdt = dtb::open(&bytes).unwrap();
    let host = HostInfo::parse(&fdt).unwrap();
    f(&fdt, &host)
}

const SOC: u64 = 0x10_0000_0000;

#[test]
fn raspberry_pi_5() {
    with_tree("bcm2712-rpi-5-b.dtb", |fdt, host| {
        let p = detect(fdt).unwrap();
        assert_eq!(p.name(), "Broadcom BCM2712 (Raspberry Pi 5)");
        assert_eq!(p.console(host).unwrap().base, SOC + 0x7d00_1000);

        let GicFrames::V2(gic) = p.gic(host).unwrap() else {
            panic!("the Pi 5 has a GIC-400");
        };
        assert_eq!(gic.distributor.base, SOC + 0x7fff_9000);
        assert_eq!(gic.cpu_interface.base, SOC + 0x7fff_a000);
        assert_eq!(gic.hyp_interface.base, SOC + 0x7fff_c000);
        assert_eq!(gic.maintenance_intid, Some(25));
        // The guest keeps a QEMU-virt-like GICC address.
        assert_eq!(
            gic.guest_cpu_interface(0x0801_0000),
            Ok(Stage2Window {
                ipa: 0x0801_0000,
                pa: SOC + 0x7fff_e000,
                size: 0x2000
            })
        );

        // TF-A's 0..0x80000 is cut out; so is whatever the caller excludes.
        let ram = p
            .memory(host, &[Region::new(0x100_0000, 0x10_0000)])
            .unwrap();
        let pieces: Vec<_> = ram.iter().collect();
        assert_eq!(
            pieces,
            [
                Region::new(0x8_0000, 0x100_0000 - 0x8_0000),
                Region::new(0x110_0000, 0x2800_0000 - 0x110_0000),
            ]
        );

        assert_eq!(p.timer_frequency(host, 54_000_000), Ok(54_000_000));
        assert_eq!(
            p.timer_frequency(host, 0),
            Err(PlatformError::NoTimerFrequency)
        );
        // The upstream tree has no initrd; the firmware adds it.
        assert_eq!(rpi_boot::initrd::find(fdt), Ok(None));
    });
}

#[test]
fn qemu_virt_gicv2() {
    with_tree("virt-gicv2-smp2-768m.dtb", |fdt, host| {
        let p = detect(fdt).unwrap();
        assert_eq!(p.name(), "QEMU virt");
        assert_eq!(p.console(host).unwrap().base, 0x0900_0000);
        let GicFrames::V2(gic) = p.gic(host).unwrap() else {
            panic!("gic-version=2");
        };
        // GICV at 0x0804_0000 shown where the guest expects GICC.
        assert_eq!(
            gic.guest_cpu_interface(0x0801_0000),
            Ok(Stage2Window {
                ipa: 0x0801_0000,
                pa: 0x0804_0000,
                size: 0x2000
            })
        );
        assert_eq!(p.timer_frequency(host, 62_500_000), Ok(62_500_000));
    });
}

#[test]
fn qemu_virt_gicv3_and_bcm2712_policy() {
    with_tree("virt-gicv3-smp4-1g.dtb", |fdt, host| {
        let p = detect(fdt).unwrap();
        assert!(matches!(p.gic(host), Ok(GicFrames::V3(_))));
        // The BCM2712 platform insists on its GIC-400.
        assert_eq!(
            rpi_boot::bcm2712::BCM2712.gic(host),
            Err(PlatformError::NotGicV2)
        );
        let ram = p.memory(host, &[]).unwrap();
        assert_eq!(ram.total_size(), 1024 * 1024 * 1024);
    });
}

fn tree(compatible: &str, chosen: impl FnOnce(&mut vm_fdt::FdtWriter)) -> Vec<u8> {
    let mut w = vm_fdt::FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    w.property_string("compatible", compatible).unwrap();
    let c = w.begin_node("chosen").unwrap();
    chosen(&mut w);
    w.end_node(c).unwrap();
    w.end_node(root).unwrap();
    w.finish().unwrap()
}

#[test]
fn unknown_machine_is_named() {
    let bytes = tree("acme,board", |_| {});
    let fdt = dtb::open(&bytes).unwrap();
    let err = detect(&fdt).err().unwrap();
    assert_eq!(
        err.to_string(),
        "unsupported machine (root compatible \"acme,board\")"
    );
}

#[test]
fn firmware_initrd_in_chosen() {
    // As the Pi firmware writes it for `initramfs guest.cpio followkernel`
    // (32-bit cells), and as U-Boot may (64-bit cells).
    let bytes = tree("brcm,bcm2712", |w| {
        w.property_u32("linux,initrd-start", 0x4160_0000).unwrap();
        w.property_u64("linux,initrd-end", 0x4d00_0000).unwrap();
    });
    let fdt = dtb::open(&bytes).unwrap();
    assert_eq!(
        rpi_boot::initrd::find(&fdt),
        Ok(Some(Region::new(0x4160_0000, 0x4d00_0000 - 0x4160_0000)))
    );

    let bytes = tree("brcm,bcm2712", |w| {
        w.property_u32("linux,initrd-start", 0x5000).unwrap();
        w.property_u32("linux,initrd-end", 0x5000).unwrap();
    });
    let fdt = dtb::open(&bytes).unwrap();
    assert!(matches!(
        rpi_boot::initrd::find(&fdt),
        Err(PlatformError::Initrd(_))
    ));

    let bytes = tree("brcm,bcm2712", |w| {
        w.property_u32("linux,initrd-start", 0x5000).unwrap();
    });
    let fdt = dtb::open(&bytes).unwrap();
    assert!(rpi_boot::initrd::find(&fdt).is_err());
}
