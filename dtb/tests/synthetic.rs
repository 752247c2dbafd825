//! Edge cases on synthetic trees built with vm-fdt: tree shapes that are
//! valid but unlike QEMU `virt`.

mod common;

use common::{cpus, gic_v3, memory_node, pl011, tree, tree_reserving, tree_with, GIC_PHANDLE};
use dtb::{parse_any, DtbError, GicVersion, PsciConduit, Region};
use vm_fdt::FdtWriter;

const GIB: u64 = 1 << 30;

#[test]
fn several_memory_nodes_any_name() {
    let blob = tree_with(|w| {
        cpus(w, &[0]);
        memory_node(w, "memory@40000000", &[0x4000_0000, GIB]);
        // Two ranges in one node, and a node not called "memory".
        memory_node(
            w,
            "ram@100000000",
            &[0x1_0000_0000, 2 * GIB, 0x8_0000_0000, GIB],
        );
        // Zero-sized entries are ignored.
        memory_node(w, "memory@0", &[0, 0]);
        // Disabled memory nodes are ignored.
        let n = w.begin_node("memory@c0000000").unwrap();
        w.property_string("device_type", "memory").unwrap();
        w.property_string("status", "disabled").unwrap();
        w.property_array_u64("reg", &[0xc000_0000, GIB]).unwrap();
        w.end_node(n).unwrap();
    });
    let h = parse_any(&blob).unwrap();
    assert_eq!(
        h.memory.iter().collect::<Vec<_>>(),
        [
            Region::new(0x4000_0000, GIB),
            Region::new(0x1_0000_0000, 2 * GIB),
            Region::new(0x8_0000_0000, GIB)
        ]
    );
    assert_eq!(h.total_memory(), 4 * GIB);
    assert!(h.memory.contains(0x8_0000_0000));
    assert!(!h.memory.contains(0xc000_0000));
}

#[test]
fn one_cell_addresses_and_sizes() {
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 1).unwrap();
    w.property_u32("#size-cells", 1).unwrap();
    let m = w.begin_node("memory@80000000").unwrap();
    w.property_string("device_type", "memory").unwrap();
    w.property_array_u32("reg", &[0x8000_0000, 0x4000_0000, 0x0, 0x1000_0000])
        .unwrap();
    w.end_node(m).unwrap();
    cpus(&mut w, &[0, 0x100]);
    let u = w.begin_node("serial@1c090000").unwrap();
    w.property_string("compatible", "arm,pl011").unwrap();
    w.property_array_u32("reg", &[0x1c09_0000, 0x1000]).unwrap();
    w.end_node(u).unwrap();
    w.end_node(root).unwrap();
    let h = parse_any(&w.finish().unwrap()).unwrap();
    assert_eq!(h.memory.get(0), Some(Region::new(0x8000_0000, 0x4000_0000)));
    assert_eq!(h.memory.get(1), Some(Region::new(0, 0x1000_0000)));
    assert_eq!(h.cpus(), [0, 0x100]);
    let uart = h.uart.unwrap();
    assert_eq!(
        (uart.base, uart.size, uart.intid),
        (0x1c09_0000, 0x1000, None)
    );
}

#[test]
fn default_cells_are_2_and_1() {
    // DTSpec §2.3.5: no #address-cells/#size-cells on the root means 2/1.
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    let m = w.begin_node("memory@40000000").unwrap();
    w.property_string("device_type", "memory").unwrap();
    w.property_array_u32("reg", &[0x0, 0x4000_0000, 0x2000_0000])
        .unwrap();
    w.end_node(m).unwrap();
    cpus(&mut w, &[0]);
    w.end_node(root).unwrap();
    let h = parse_any(&w.finish().unwrap()).unwrap();
    assert_eq!(h.memory.get(0), Some(Region::new(0x4000_0000, 0x2000_0000)));
}

#[test]
fn stdout_path_via_alias_with_options() {
    let blob = tree(|w| {
        pl011(w, "pl011@9000000", 0x900_0000, 1, None);
        pl011(w, "pl011@9040000", 0x904_0000, 8, None);
        let a = w.begin_node("aliases").unwrap();
        w.property_string("serial0", "/pl011@9040000").unwrap();
        w.end_node(a).unwrap();
        let c = w.begin_node("chosen").unwrap();
        w.property_string("stdout-path", "serial0:115200n8")
            .unwrap();
        w.end_node(c).unwrap();
    });
    let uart = parse_any(&blob).unwrap().uart.unwrap();
    assert_eq!((uart.base, uart.intid), (0x904_0000, Some(40)));
}

#[test]
fn stdout_path_full_path_and_unit_address_omitted() {
    for path in [
        "/soc/serial@9040000:115200n8",
        "/soc/serial",
        "/soc/serial@9040000",
    ] {
        let blob = tree(|w| {
            pl011(w, "pl011@9000000", 0x900_0000, 1, None);
            let soc = w.begin_node("soc").unwrap();
            w.property_u32("#address-cells", 2).unwrap();
            w.property_u32("#size-cells", 2).unwrap();
            w.property_null("ranges").unwrap();
            pl011(w, "serial@9040000", 0x904_0000, 8, None);
            w.end_node(soc).unwrap();
            let c = w.begin_node("chosen").unwrap();
            w.property_string("stdout-path", path).unwrap();
            w.end_node(c).unwrap();
        });
        assert_eq!(
            parse_any(&blob).unwrap().uart.unwrap().base,
            0x904_0000,
            "{path}"
        );
    }
}

#[test]
fn disabled_pl011_is_skipped() {
    let blob = tree(|w| {
        pl011(w, "pl011@9040000", 0x904_0000, 8, Some("disabled"));
        pl011(w, "pl011@9000000", 0x900_0000, 1, Some("okay"));
    });
    assert_eq!(parse_any(&blob).unwrap().uart.unwrap().base, 0x900_0000);
}

#[test]
fn stdout_path_to_disabled_or_foreign_uart_falls_back() {
    for (target, compatible, status) in [
        ("/pl011@9040000", "arm,pl011", "disabled"),
        ("/serial@9040000", "ns16550a", "okay"),
    ] {
        let blob = tree(|w| {
            let n = w.begin_node(&target[1..]).unwrap();
            w.property_string("compatible", compatible).unwrap();
            w.property_array_u64("reg", &[0x904_0000, 0x1000]).unwrap();
            w.property_string("status", status).unwrap();
            w.end_node(n).unwrap();
            pl011(w, "pl011@9000000", 0x900_0000, 1, None);
            let c = w.begin_node("chosen").unwrap();
            w.property_string("stdout-path", target).unwrap();
            w.end_node(c).unwrap();
        });
        assert_eq!(
            parse_any(&blob).unwrap().uart.unwrap().base,
            0x900_0000,
            "{target}"
        );
    }
}

#[test]
fn unresolvable_stdout_path_falls_back() {
    for path in ["nosuchalias", "loop:9600", "/nowhere", ""] {
        let blob = tree(|w| {
            pl011(w, "pl011@9000000", 0x900_0000, 1, None);
            let a = w.begin_node("aliases").unwrap();
            w.property_string("loop", "/loop").unwrap();
            w.end_node(a).unwrap();
            let c = w.begin_node("chosen").unwrap();
            w.property_string("stdout-path", path).unwrap();
            w.end_node(c).unwrap();
        });
        assert_eq!(
            parse_any(&blob).unwrap().uart.unwrap().base,
            0x900_0000,
            "{path:?}"
        );
    }
}

#[test]
fn no_uart_no_gic_no_timer_no_psci() {
    let blob = tree_with(|w| {
        memory_node(w, "memory@0", &[0, GIB]);
        cpus(w, &[0]);
    });
    let h = parse_any(&blob).unwrap();
    assert_eq!((h.uart, h.gic, h.timer, h.psci), (None, None, None, None));
    assert!(h.virtio_mmio.is_empty());
    assert!(h.reserved.is_empty());
}

#[test]
fn reservations_from_header_and_reserved_memory() {
    let blob = tree_reserving(&[(0x4000_0000, 0x1000)], |w| {
        memory_node(w, "memory@40000000", &[0x4000_0000, GIB]);
        cpus(w, &[0]);
        let rm = w.begin_node("reserved-memory").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        w.property_null("ranges").unwrap();
        for (name, reg, status) in [
            ("tfa@4e000000", Some([0x4e00_0000u64, 0x20_0000]), None),
            (
                "off@4f000000",
                Some([0x4f00_0000, 0x1000]),
                Some("disabled"),
            ),
            ("cma", None, None),
        ] {
            let n = w.begin_node(name).unwrap();
            if let Some(reg) = reg {
                w.property_array_u64("reg", &reg).unwrap();
            } else {
                w.property_u64("size", 0x100_0000).unwrap();
                w.property_null("reusable").unwrap();
            }
            if let Some(s) = status {
                w.property_string("status", s).unwrap();
            }
            w.end_node(n).unwrap();
        }
        w.end_node(rm).unwrap();
    });
    let h = parse_any(&blob).unwrap();
    assert_eq!(
        h.reserved.iter().collect::<Vec<_>>(),
        [
            Region::new(0x4000_0000, 0x1000),
            Region::new(0x4e00_0000, 0x20_0000)
        ]
    );
    assert!(h.reserved.overlaps(&Region::new(0x4e1f_f000, 0x2000)));
}

#[test]
fn cpus_two_cells_disabled_kept_failed_skipped() {
    let blob = tree_with(|w| {
        memory_node(w, "memory@0", &[0, GIB]);
        let c = w.begin_node("cpus").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 0).unwrap();
        let map = w.begin_node("cpu-map").unwrap();
        w.end_node(map).unwrap();
        for (name, reg, status) in [
            ("cpu@0", [0u32, 0], None),
            ("cpu@100000000", [1, 0x0001_0203], Some("disabled")),
            ("cpu@2", [0, 2], Some("fail")),
        ] {
            let n = w.begin_node(name).unwrap();
            w.property_string("device_type", "cpu").unwrap();
            w.property_array_u32("reg", &reg).unwrap();
            if let Some(s) = status {
                w.property_string("status", s).unwrap();
            }
            w.end_node(n).unwrap();
        }
        w.end_node(c).unwrap();
    });
    assert_eq!(parse_any(&blob).unwrap().cpus(), [0, 0x1_0001_0203]);
}

/// A Raspberry Pi 4 style tree: devices under `/soc`, whose `ranges` maps
/// bus addresses 0x7exxxxxx to CPU addresses 0xfexxxxxx, with the GIC-400
/// and its interrupt-parent on the bus rather than the root.
#[test]
fn ranges_translation_and_bus_interrupt_parent() {
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 1).unwrap();
    let m = w.begin_node("memory@0").unwrap();
    w.property_string("device_type", "memory").unwrap();
    w.property_array_u32("reg", &[0, 0, 0x3b40_0000]).unwrap();
    w.end_node(m).unwrap();
    cpus(&mut w, &[0, 1, 2, 3]);
    let soc = w.begin_node("soc").unwrap();
    w.property_string("compatible", "simple-bus").unwrap();
    w.property_u32("#address-cells", 1).unwrap();
    w.property_u32("#size-cells", 1).unwrap();
    w.property_array_u32(
        "ranges",
        &[
            0x7e00_0000,
            0x0,
            0xfe00_0000,
            0x0180_0000,
            0x4000_0000,
            0x0,
            0xff80_0000,
            0x0080_0000,
        ],
    )
    .unwrap();
    w.property_u32("interrupt-parent", 7).unwrap();
    let u = w.begin_node("serial@7e201000").unwrap();
    w.property_string("compatible", "arm,pl011").unwrap();
    w.property_array_u32("reg", &[0x7e20_1000, 0x200]).unwrap();
    w.property_array_u32("interrupts", &[0, 121, 4]).unwrap();
    w.end_node(u).unwrap();
    let g = w.begin_node("interrupt-controller@40041000").unwrap();
    w.property_string("compatible", "arm,gic-400").unwrap();
    w.property_null("interrupt-controller").unwrap();
    w.property_u32("#interrupt-cells", 3).unwrap();
    w.property_array_u32(
        "reg",
        &[
            0x4004_1000,
            0x1000,
            0x4004_2000,
            0x2000,
            0x4004_4000,
            0x2000,
            0x4004_6000,
            0x2000,
        ],
    )
    .unwrap();
    w.property_array_u32("interrupts", &[1, 9, 0xf04]).unwrap();
    w.property_phandle(7).unwrap();
    w.end_node(g).unwrap();
    w.end_node(soc).unwrap();
    w.end_node(root).unwrap();

    let h = parse_any(&w.finish().unwrap()).unwrap();
    let uart = h.uart.unwrap();
    assert_eq!(
        (uart.base, uart.size, uart.intid),
        (0xfe20_1000, 0x200, Some(153))
    );
    let gic = h.gic.unwrap();
    assert_eq!(gic.version, GicVersion::V2);
    assert_eq!(gic.distributor, Region::new(0xff84_1000, 0x1000));
    assert_eq!(gic.cpu_interface, Some(Region::new(0xff84_2000, 0x2000)));
    assert_eq!(gic.hyp_interface, Some(Region::new(0xff84_4000, 0x2000)));
    assert_eq!(gic.vcpu_interface, Some(Region::new(0xff84_6000, 0x2000)));
    assert_eq!(gic.maintenance_intid, Some(25));
}

#[test]
fn interrupts_extended_and_foreign_controllers() {
    let blob = tree(|w| {
        let gpio = w.begin_node("gpio@9030000").unwrap();
        w.property_null("interrupt-controller").unwrap();
        w.property_u32("#interrupt-cells", 2).unwrap();
        w.property_phandle(2).unwrap();
        w.end_node(gpio).unwrap();
        // interrupts-extended wins over interrupts.
        let u = w.begin_node("pl011@9000000").unwrap();
        w.property_string("compatible", "arm,pl011").unwrap();
        w.property_array_u64("reg", &[0x900_0000, 0x1000]).unwrap();
        w.property_array_u32("interrupts", &[0, 99, 4]).unwrap();
        w.property_array_u32("interrupts-extended", &[GIC_PHANDLE, 0, 5, 4, 2, 3, 0])
            .unwrap();
        w.end_node(u).unwrap();
        // Routed to a non-GIC controller: no INTID.
        let u = w.begin_node("pl011@9040000").unwrap();
        w.property_string("compatible", "arm,pl011").unwrap();
        w.property_array_u64("reg", &[0x904_0000, 0x1000]).unwrap();
        w.property_u32("interrupt-parent", 2).unwrap();
        w.property_array_u32("interrupts", &[7, 0]).unwrap();
        w.end_node(u).unwrap();
        let c = w.begin_node("chosen").unwrap();
        w.property_string("stdout-path", "/pl011@9040000").unwrap();
        w.end_node(c).unwrap();
    });
    let uart = parse_any(&blob).unwrap().uart.unwrap();
    assert_eq!((uart.base, uart.intid), (0x904_0000, None));

    let blob = tree(|w| {
        let u = w.begin_node("pl011@9000000").unwrap();
        w.property_string("compatible", "arm,pl011").unwrap();
        w.property_array_u64("reg", &[0x900_0000, 0x1000]).unwrap();
        w.property_array_u32("interrupts", &[0, 99, 4]).unwrap();
        w.property_array_u32("interrupts-extended", &[GIC_PHANDLE, 0, 5, 4])
            .unwrap();
        w.end_node(u).unwrap();
    });
    assert_eq!(parse_any(&blob).unwrap().uart.unwrap().intid, Some(37));
}

#[test]
fn gicv3_with_two_redistributor_regions_and_v2_frames() {
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    w.property_u32("interrupt-parent", 1).unwrap();
    memory_node(&mut w, "memory@40000000", &[0x4000_0000, GIB]);
    cpus(&mut w, &[0]);
    let g = w.begin_node("interrupt-controller@2f000000").unwrap();
    w.property_string("compatible", "arm,gic-v3").unwrap();
    w.property_u32("#interrupt-cells", 4).unwrap();
    w.property_u32("#redistributor-regions", 2).unwrap();
    #[rustfmt::skip]
    w.property_array_u64("reg", &[
        0x2f00_0000, 0x1_0000,   // GICD
        0x2f10_0000, 0x10_0000,  // GICR region 0
        0x3f10_0000, 0x10_0000,  // GICR region 1
        0x2c00_0000, 0x2000,     // GICC
        0x2c01_0000, 0x2000,     // GICH
        0x2c02_f000, 0x2000,     // GICV
    ]).unwrap();
    w.property_array_u32("interrupts", &[1, 9, 4, 0]).unwrap();
    w.property_phandle(1).unwrap();
    w.end_node(g).unwrap();
    let t = w.begin_node("timer").unwrap();
    w.property_string("compatible", "arm,armv8-timer").unwrap();
    // Named, in a non-positional order, with the optional hyp-virt.
    w.property_string_list(
        "interrupt-names",
        ["hyp-virt", "virt", "phys", "hyp-phys", "sec-phys"]
            .map(String::from)
            .to_vec(),
    )
    .unwrap();
    w.property_array_u32(
        "interrupts",
        &[
            1, 12, 4, 0, 1, 11, 4, 0, 1, 14, 4, 0, 1, 10, 4, 0, 1, 13, 4, 0,
        ],
    )
    .unwrap();
    w.property_u32("clock-frequency", 100_000_000).unwrap();
    w.end_node(t).unwrap();
    let p = w.begin_node("psci").unwrap();
    w.property_string_list(
        "compatible",
        vec!["arm,psci-1.0".into(), "arm,psci-0.2".into()],
    )
    .unwrap();
    w.property_string("method", "hvc").unwrap();
    w.end_node(p).unwrap();
    w.end_node(root).unwrap();

    let h = parse_any(&w.finish().unwrap()).unwrap();
    let gic = h.gic.unwrap();
    assert_eq!(gic.redistributor, Some(Region::new(0x2f10_0000, 0x10_0000)));
    assert_eq!(
        gic.redistributors.get(1),
        Some(Region::new(0x3f10_0000, 0x10_0000))
    );
    assert_eq!(gic.cpu_interface, Some(Region::new(0x2c00_0000, 0x2000)));
    assert_eq!(gic.hyp_interface, Some(Region::new(0x2c01_0000, 0x2000)));
    assert_eq!(gic.vcpu_interface, Some(Region::new(0x2c02_f000, 0x2000)));
    assert_eq!(gic.maintenance_intid, Some(25));
    let t = h.timer.unwrap();
    assert_eq!(
        (
            t.secure_phys_intid,
            t.phys_intid,
            t.virt_intid,
            t.hyp_intid,
            t.hyp_virt_intid
        ),
        (29, 30, 27, 26, Some(28))
    );
    assert_eq!(t.clock_frequency, Some(100_000_000));
    assert_eq!(h.psci, Some(PsciConduit::Hvc));
}

#[test]
fn virtio_mmio_in_tree_order() {
    let blob = tree(|w| {
        for (i, base) in [0xa00_0200u64, 0xa00_0000].into_iter().enumerate() {
            let n = w.begin_node(&format!("virtio_mmio@{base:x}")).unwrap();
            w.property_string("compatible", "virtio,mmio").unwrap();
            w.property_array_u64("reg", &[base, 0x200]).unwrap();
            w.property_array_u32("interrupts", &[0, 16 + i as u32, 1])
                .unwrap();
            w.end_node(n).unwrap();
        }
        let n = w.begin_node("virtio_mmio@a000400").unwrap();
        w.property_string("compatible", "virtio,mmio").unwrap();
        w.property_string("status", "disabled").unwrap();
        w.end_node(n).unwrap();
    });
    let h = parse_any(&blob).unwrap();
    let v: Vec<_> = h
        .virtio_mmio
        .iter()
        .map(|v| (v.region.base, v.intid))
        .collect();
    assert_eq!(v, [(0xa00_0200, 48), (0xa00_0000, 49)]);
}

#[test]
fn limits_are_typed_errors() {
    let many_cpus: Vec<u32> = (0..65).collect();
    let blob = tree_with(|w| {
        memory_node(w, "memory@0", &[0, GIB]);
        cpus(w, &many_cpus);
    });
    assert_eq!(parse_any(&blob), Err(DtbError::TooMany("cpus")));

    let pairs: Vec<u64> = (0..17u64).flat_map(|i| [i * GIB, 0x1000]).collect();
    let blob = tree_with(|w| {
        memory_node(w, "memory@0", &pairs);
        cpus(w, &[0]);
    });
    assert_eq!(parse_any(&blob), Err(DtbError::TooMany("memory regions")));

    let _ = gic_v3; // (used via `tree`)
}
