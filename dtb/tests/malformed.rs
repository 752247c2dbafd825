//! Malformed input must come back as a typed error, never a panic.

mod common;

use common::{cpus, fixture, memory_node, name_words, pl011, raw_blob, tree, tree_with, VIRT_V3};
use dtb::{parse_any, DtbError, HeaderError};
use vm_fdt::FdtWriter;

const GIB: u64 = 1 << 30;

fn reg_error(r: Result<dtb::HostInfo, DtbError>) -> (String, &'static str) {
    match r {
        Err(DtbError::MalformedReg { node, reason }) => (node.to_string(), reason),
        other => panic!("expected MalformedReg, got {other:?}"),
    }
}

fn irq_error(r: Result<dtb::HostInfo, DtbError>) -> (String, &'static str) {
    match r {
        Err(DtbError::MalformedInterrupts { node, reason }) => (node.to_string(), reason),
        other => panic!("expected MalformedInterrupts, got {other:?}"),
    }
}

fn bad_structure(r: Result<dtb::HostInfo, DtbError>) -> &'static str {
    match r {
        Err(DtbError::BadStructure { reason, .. }) => reason,
        other => panic!("expected BadStructure, got {other:?}"),
    }
}

#[test]
fn missing_memory_node() {
    let blob = tree_with(|w| cpus(w, &[0]));
    assert_eq!(parse_any(&blob), Err(DtbError::NoMemory));
    let blob = tree_with(|w| {
        cpus(w, &[0]);
        memory_node(w, "memory@0", &[0, 0]); // only a zero-sized range
    });
    assert_eq!(parse_any(&blob), Err(DtbError::NoMemory));
}

#[test]
fn missing_cpus() {
    let blob = tree_with(|w| memory_node(w, "memory@0", &[0, GIB]));
    assert_eq!(parse_any(&blob), Err(DtbError::NoCpus));
    let blob = tree_with(|w| {
        memory_node(w, "memory@0", &[0, GIB]);
        cpus(w, &[]);
    });
    assert_eq!(parse_any(&blob), Err(DtbError::NoCpus));
    let blob = tree_with(|w| {
        memory_node(w, "memory@0", &[0, GIB]);
        let c = w.begin_node("cpus").unwrap();
        let n = w.begin_node("cpu@0").unwrap();
        w.property_string("device_type", "cpu").unwrap();
        w.end_node(n).unwrap();
        w.end_node(c).unwrap();
    });
    assert_eq!(
        reg_error(parse_any(&blob)),
        ("cpu@0".into(), "cpu node has no reg")
    );
}

#[test]
fn malformed_reg_lengths() {
    let blob = tree_with(|w| {
        cpus(w, &[0]);
        let m = w.begin_node("memory@40000000").unwrap();
        w.property_string("device_type", "memory").unwrap();
        w.property_array_u32("reg", &[0, 0x4000_0000, 0]).unwrap(); // 3 cells, need 4
        w.end_node(m).unwrap();
    });
    assert_eq!(reg_error(parse_any(&blob)).0, "memory@40000000");

    let blob = tree(|w| {
        let n = w.begin_node("pl011@9000000").unwrap();
        w.property_string("compatible", "arm,pl011").unwrap();
        w.property("reg", &[0, 0, 0, 0, 9, 0, 0]).unwrap(); // not even whole cells
        w.end_node(n).unwrap();
    });
    assert_eq!(reg_error(parse_any(&blob)).0, "pl011@9000000");

    let blob = tree(|w| {
        let n = w.begin_node("pl011@9000000").unwrap();
        w.property_string("compatible", "arm,pl011").unwrap();
        w.end_node(n).unwrap();
    });
    assert_eq!(reg_error(parse_any(&blob)).1, "pl011 has no reg");

    let blob = tree_with(|w| {
        cpus(w, &[0]);
        memory_node(
            w,
            "memory@ffffffffffff0000",
            &[0xffff_ffff_ffff_0000, 0x2_0000],
        );
    });
    assert_eq!(reg_error(parse_any(&blob)).1, "region wraps past 2^64");
}

#[test]
fn untranslatable_addresses() {
    for ranges in [None, Some(vec![0x1000_0000u32, 0, 0x1000_0000, 0x1000])] {
        let blob = tree(|w| {
            let bus = w.begin_node("bus").unwrap();
            w.property_u32("#address-cells", 1).unwrap();
            w.property_u32("#size-cells", 1).unwrap();
            if let Some(r) = &ranges {
                w.property_array_u32("ranges", r).unwrap();
            }
            let n = w.begin_node("serial@7e201000").unwrap();
            w.property_string("compatible", "arm,pl011").unwrap();
            w.property_array_u32("reg", &[0x7e20_1000, 0x200]).unwrap();
            w.end_node(n).unwrap();
            w.end_node(bus).unwrap();
        });
        let (node, reason) = reg_error(parse_any(&blob));
        assert_eq!(node, "serial@7e201000");
        assert!(reason.contains("ranges"), "{reason}");
    }
}

#[test]
fn malformed_interrupts() {
    // Length not a multiple of the GIC's 3 cells.
    let blob = tree(|w| {
        let n = w.begin_node("pl011@9000000").unwrap();
        w.property_string("compatible", "arm,pl011").unwrap();
        w.property_array_u64("reg", &[0x900_0000, 0x1000]).unwrap();
        w.property_array_u32("interrupts", &[0, 1]).unwrap();
        w.end_node(n).unwrap();
    });
    assert_eq!(irq_error(parse_any(&blob)).0, "pl011@9000000");

    // Unknown specifier type.
    let blob = tree(|w| {
        let n = w.begin_node("pl011@9000000").unwrap();
        w.property_string("compatible", "arm,pl011").unwrap();
        w.property_array_u64("reg", &[0x900_0000, 0x1000]).unwrap();
        w.property_array_u32("interrupts", &[7, 1, 4]).unwrap();
        w.end_node(n).unwrap();
    });
    assert!(irq_error(parse_any(&blob)).1.contains("type"));

    // SPI number out of range.
    let blob = tree(|w| pl011(w, "pl011@9000000", 0x900_0000, 988, None));
    assert!(irq_error(parse_any(&blob)).1.contains("out of range"));

    // Timer with only three interrupts.
    let blob = tree(|w| {
        let n = w.begin_node("timer").unwrap();
        w.property_string("compatible", "arm,armv8-timer").unwrap();
        w.property_array_u32("interrupts", &[1, 13, 4, 1, 14, 4, 1, 11, 4])
            .unwrap();
        w.end_node(n).unwrap();
    });
    assert_eq!(irq_error(parse_any(&blob)).0, "timer");
}

#[test]
fn broken_interrupt_parents() {
    // No interrupt-parent anywhere and no controller above the node.
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    memory_node(&mut w, "memory@0", &[0, GIB]);
    cpus(&mut w, &[0]);
    pl011(&mut w, "pl011@9000000", 0x900_0000, 1, None);
    w.end_node(root).unwrap();
    assert!(irq_error(parse_any(&w.finish().unwrap()))
        .1
        .contains("no interrupt parent"));

    // Dangling phandle.
    let blob = tree(|w| {
        let n = w.begin_node("pl011@9000000").unwrap();
        w.property_string("compatible", "arm,pl011").unwrap();
        w.property_array_u64("reg", &[0x900_0000, 0x1000]).unwrap();
        w.property_u32("interrupt-parent", 0x1234).unwrap();
        w.property_array_u32("interrupts", &[0, 1, 4]).unwrap();
        w.end_node(n).unwrap();
    });
    assert!(irq_error(parse_any(&blob)).1.contains("matches no node"));

    // A cycle of interrupt-parent links between non-controllers.
    let blob = tree(|w| {
        let n = w.begin_node("pl011@9000000").unwrap();
        w.property_string("compatible", "arm,pl011").unwrap();
        w.property_array_u64("reg", &[0x900_0000, 0x1000]).unwrap();
        w.property_u32("interrupt-parent", 0x10).unwrap();
        w.property_array_u32("interrupts", &[0, 1, 4]).unwrap();
        w.property_phandle(0x11).unwrap();
        w.end_node(n).unwrap();
        let n = w.begin_node("relay").unwrap();
        w.property_u32("interrupt-parent", 0x11).unwrap();
        w.property_phandle(0x10).unwrap();
        w.end_node(n).unwrap();
    });
    assert!(irq_error(parse_any(&blob)).1.contains("cyclic"));
}

#[test]
fn bad_psci_method() {
    let blob = tree(|w| {
        let n = w.begin_node("psci").unwrap();
        w.property_string("compatible", "arm,psci-0.2").unwrap();
        w.property_string("method", "smcc").unwrap();
        w.end_node(n).unwrap();
    });
    assert!(matches!(
        parse_any(&blob),
        Err(DtbError::MalformedProperty {
            property: "method",
            ..
        })
    ));
}

#[test]
fn bad_header() {
    let good = fixture(VIRT_V3);

    let mut bad = good.clone();
    bad[0] = 0xde;
    assert_eq!(
        parse_any(&bad),
        Err(DtbError::BadHeader(HeaderError::BadMagic(0xde0d_feed)))
    );

    let half = &good[..good.len() / 2];
    assert!(matches!(
        parse_any(half),
        Err(DtbError::BadHeader(HeaderError::Truncated { .. }))
    ));
    assert_eq!(
        parse_any(&good[..39]),
        Err(DtbError::BadHeader(HeaderError::TooShort(39)))
    );
    assert_eq!(
        parse_any(&[]),
        Err(DtbError::BadHeader(HeaderError::TooShort(0)))
    );

    let patched = |word: usize, value: u32| {
        let mut b = good.clone();
        b[word * 4..word * 4 + 4].copy_from_slice(&value.to_be_bytes());
        parse_any(&b)
    };
    assert!(matches!(
        patched(5, 16),
        Err(DtbError::BadHeader(HeaderError::UnsupportedVersion { .. }))
    ));
    assert!(matches!(
        patched(6, 18),
        Err(DtbError::BadHeader(HeaderError::UnsupportedVersion { .. }))
    ));
    assert!(matches!(
        patched(1, 8),
        Err(DtbError::BadHeader(HeaderError::BadTotalSize(8)))
    ));
    assert!(matches!(
        patched(2, 0xffff_fff0),
        Err(DtbError::BadHeader(HeaderError::BlockOutOfBounds(_)))
    ));
    assert!(matches!(
        patched(9, 0x10_0000),
        Err(DtbError::BadHeader(HeaderError::BlockOutOfBounds(_)))
    ));
    assert!(matches!(
        patched(3, good.len() as u32),
        Err(DtbError::BadHeader(HeaderError::BlockOutOfBounds(_)))
    ));
    assert!(matches!(
        patched(4, 44),
        Err(DtbError::BadHeader(HeaderError::Misaligned(_)))
    ));
    assert!(matches!(
        patched(2, 58),
        Err(DtbError::BadHeader(HeaderError::Misaligned(_)))
    ));
}

#[test]
fn unterminated_reservation_block() {
    let mut blob = raw_blob(&[1, 0, 2, 9], b"");
    // Fill the reservation slot (the only one before the structure block)
    // and point the block at the structure block, which never has 16 zero
    // bytes in a row.
    blob[40..56].copy_from_slice(&[0xff; 16]);
    blob[16..20].copy_from_slice(&40u32.to_be_bytes());
    assert_eq!(
        parse_any(&blob),
        Err(DtbError::BadHeader(HeaderError::UnterminatedReservations))
    );
}

const BEGIN: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

fn with_name(mut words: Vec<u32>, name: &str, rest: &[u32]) -> Vec<u32> {
    words.extend(name_words(name));
    words.extend_from_slice(rest);
    words
}

#[test]
fn structure_block_errors() {
    let strings = b"compatible\0#address-cells\0";
    // Sanity: the hand assembler itself produces a valid (if useless) tree.
    let minimal = raw_blob(&with_name(vec![BEGIN], "", &[END_NODE, END]), strings);
    assert!(dtb::open(&minimal).is_ok());
    assert_eq!(parse_any(&minimal), Err(DtbError::NoMemory));

    let cases: Vec<(Vec<u32>, &str)> = vec![
        (with_name(vec![BEGIN], "", &[NOP, END_NODE, END]), "FDT_NOP"),
        (
            with_name(vec![BEGIN], "", &[END_NODE, BEGIN, 0, END_NODE, END]),
            "more than one root",
        ),
        (
            with_name(vec![BEGIN], "root", &[END_NODE, END]),
            "root node name",
        ),
        (with_name(vec![BEGIN], "", &[END_NODE]), "truncated"),
        (with_name(vec![BEGIN], "", &[END]), "FDT_END inside"),
        (vec![END], "no root"),
        (
            with_name(vec![BEGIN], "", &[END_NODE, END_NODE, END]),
            "without a matching",
        ),
        (
            with_name(vec![BEGIN], "", &[7, END_NODE, END]),
            "unknown token",
        ),
        (
            with_name(vec![BEGIN], "", &[PROP, 0, 999, END_NODE, END]),
            "name offset",
        ),
        (
            with_name(vec![BEGIN], "", &[PROP, 400, 0, END_NODE, END]),
            "past the structure block",
        ),
        (
            with_name(vec![BEGIN], "", &[PROP, 3, 11, 0, END_NODE, END]),
            "#address-cells",
        ),
        (vec![PROP, 0, 0, END], "outside any node"),
        (
            with_name(
                with_name(vec![BEGIN], "", &[BEGIN]),
                "child",
                &[END_NODE, PROP, 0, 0, END_NODE, END],
            ),
            "after a subnode",
        ),
        (
            with_name(
                with_name(vec![BEGIN], "", &[BEGIN]),
                "",
                &[END_NODE, END_NODE, END],
            ),
            "empty name",
        ),
        (vec![BEGIN, 0x6162_6364], "NUL-terminated"),
    ];
    for (words, expected) in cases {
        let reason = bad_structure(parse_any(&raw_blob(&words, strings)));
        assert!(reason.contains(expected), "{expected:?} not in {reason:?}");
    }

    // Non-UTF-8 node name.
    let words = [BEGIN, 0, BEGIN, 0xff00_0000, END_NODE, END_NODE, END];
    assert!(bad_structure(parse_any(&raw_blob(&words, strings))).contains("UTF-8"));
}

#[test]
fn nesting_depth_is_bounded() {
    let mut w = FdtWriter::new().unwrap();
    let mut open = vec![w.begin_node("").unwrap()];
    for i in 0..dtb::MAX_DEPTH {
        open.push(w.begin_node(&format!("n{i}")).unwrap());
    }
    while let Some(n) = open.pop() {
        w.end_node(n).unwrap();
    }
    assert!(bad_structure(parse_any(&w.finish().unwrap())).contains("deeply"));
}

#[test]
fn errors_display_on_one_line() {
    let blob = tree_with(|w| cpus(w, &[0]));
    let e = parse_any(&blob).unwrap_err().to_string();
    assert_eq!(e, "device tree: no usable memory node");
    let e = parse_any(&fixture(VIRT_V3)[..100]).unwrap_err().to_string();
    assert!(
        e.starts_with("device tree: bad header: totalsize is"),
        "{e}"
    );
}
