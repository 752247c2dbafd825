//! Shared helpers for the integration tests: fixture loading and a small
//! vm-fdt based builder for synthetic trees.
#![allow(dead_code)] // each test binary uses a different subset

use vm_fdt::FdtWriter;

/// Reads `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub const VIRT_V3: &str = "virt-gicv3-smp4-1g.dtb";
pub const VIRT_V2: &str = "virt-gicv2-smp2-768m.dtb";
pub const VIRT_SECURE: &str = "virt-secure-gicv3-smp2-512m.dtb";

pub const GIC_PHANDLE: u32 = 1;

/// `/` with `#address-cells = <2>`, `#size-cells = <2>`, a GICv3 and its
/// `interrupt-parent`, one cpu and one memory node; `body` adds the rest
/// inside the root node.
pub fn tree(body: impl FnOnce(&mut FdtWriter)) -> Vec<u8> {
    tree_with(|w| {
        memory_node(w, "memory@40000000", &[0x4000_0000, 0x1000_0000]);
        cpus(w, &[0]);
        gic_v3(w);
        body(w);
    })
}

/// Just the root with 2/2 cells and `interrupt-parent = <GIC_PHANDLE>`.
pub fn tree_with(body: impl FnOnce(&mut FdtWriter)) -> Vec<u8> {
    tree_reserving(&[], body)
}

/// Like [`tree_with`], with `/memreserve/` entries in the header.
pub fn tree_reserving(reservations: &[(u64, u64)], body: impl FnOnce(&mut FdtWriter)) -> Vec<u8> {
    let entries: Vec<_> = reservations
        .iter()
        .map(|&(a, s)| vm_fdt::FdtReserveEntry::new(a, s).unwrap())
        .collect();
    let mut w = FdtWriter::new_with_mem_reserv(&entries).unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    w.property_u32("interrupt-parent", GIC_PHANDLE).unwrap();
    body(&mut w);
    w.end_node(root).unwrap();
    w.finish().unwrap()
}

/// Assembles a blob by hand from structure-block words and a strings block,
/// for token streams vm-fdt refuses to write.
pub fn raw_blob(structure: &[u32], strings: &[u8]) -> Vec<u8> {
    let off_rsv = 40u32;
    let off_struct = off_rsv + 16;
    let size_struct = (structure.len() * 4) as u32;
    let off_strings = off_struct + size_struct;
    let total = off_strings + strings.len() as u32;
    let header = [
        0xd00d_feed,
        total,
        off_struct,
        off_strings,
        off_rsv,
        17,
        16,
        0,
        strings.len() as u32,
        size_struct,
    ];
    let mut out: Vec<u8> = header.iter().flat_map(|w: &u32| w.to_be_bytes()).collect();
    out.extend([0u8; 16]);
    out.extend(structure.iter().flat_map(|w| w.to_be_bytes()));
    out.extend(strings);
    out
}

/// Structure-block words for a node name (NUL-terminated, padded to 4).
pub fn name_words(name: &str) -> Vec<u32> {
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(0);
    while !bytes.len().is_multiple_of(4) {
        bytes.push(0);
    }
    bytes
        .chunks(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A memory node with 2/2-cell `(base, size)` pairs.
pub fn memory_node(w: &mut FdtWriter, name: &str, pairs: &[u64]) {
    let n = w.begin_node(name).unwrap();
    w.property_string("device_type", "memory").unwrap();
    w.property_array_u64("reg", pairs).unwrap();
    w.end_node(n).unwrap();
}

pub fn cpus(w: &mut FdtWriter, mpidrs: &[u32]) {
    let c = w.begin_node("cpus").unwrap();
    w.property_u32("#address-cells", 1).unwrap();
    w.property_u32("#size-cells", 0).unwrap();
    for m in mpidrs {
        let n = w.begin_node(&format!("cpu@{m:x}")).unwrap();
        w.property_string("device_type", "cpu").unwrap();
        w.property_u32("reg", *m).unwrap();
        w.end_node(n).unwrap();
    }
    w.end_node(c).unwrap();
}

pub fn gic_v3(w: &mut FdtWriter) {
    let n = w.begin_node("intc@8000000").unwrap();
    w.property_string("compatible", "arm,gic-v3").unwrap();
    w.property_null("interrupt-controller").unwrap();
    w.property_u32("#interrupt-cells", 3).unwrap();
    w.property_array_u64("reg", &[0x800_0000, 0x1_0000, 0x80a_0000, 0xf6_0000])
        .unwrap();
    w.property_array_u32("interrupts", &[1, 9, 4]).unwrap();
    w.property_phandle(GIC_PHANDLE).unwrap();
    w.end_node(n).unwrap();
}

/// A PL011 with 2/2-cell reg and SPI `spi`.
pub fn pl011(w: &mut FdtWriter, name: &str, base: u64, spi: u32, status: Option<&str>) {
    let n = w.begin_node(name).unwrap();
    w.property_string_list(
        "compatible",
        vec!["arm,pl011".into(), "arm,primecell".into()],
    )
    .unwrap();
    w.property_array_u64("reg", &[base, 0x1000]).unwrap();
    w.property_array_u32("interrupts", &[0, spi, 4]).unwrap();
    if let Some(s) = status {
        w.property_string("status", s).unwrap();
    }
    w.end_node(n).unwrap();
}
