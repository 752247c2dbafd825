//! Real trees dumped by QEMU 7.2 `virt` (see tests/fixtures/README.md).

mod common;

use common::{fixture, VIRT_SECURE, VIRT_V2, VIRT_V3};
use dtb::{GicVersion, HostInfo, PsciConduit, Region, TimerInfo, UartInfo};

const MIB: u64 = 1024 * 1024;

fn parse(name: &str) -> HostInfo {
    let bytes = fixture(name);
    assert!(bytes.len() < 20 * 1024, "{name} should stay small");
    let fdt = dtb::open(&bytes).unwrap();
    HostInfo::parse(&fdt).unwrap()
}

/// Common to every `virt` machine.
fn assert_virt_basics(h: &HostInfo) {
    assert_eq!(
        h.uart,
        Some(UartInfo {
            base: 0x0900_0000,
            size: 0x1000,
            intid: Some(33)
        })
    );
    // arch timer PPIs 13, 14, 11, 10.
    assert_eq!(
        h.timer,
        Some(TimerInfo {
            secure_phys_intid: 29,
            phys_intid: 30,
            virt_intid: 27,
            hyp_intid: 26,
            hyp_virt_intid: None,
            clock_frequency: None,
        })
    );
    // 32 transports, 0x200 apart from 0x0a000000, SPIs 16..47 (INTIDs 48..79).
    assert_eq!(h.virtio_mmio.len(), 32);
    for (i, v) in h.virtio_mmio.iter().enumerate() {
        let i = i as u64;
        assert_eq!(v.region, Region::new(0x0a00_0000 + i * 0x200, 0x200));
        assert_eq!(v.intid, 48 + i as u32);
    }
    assert!(h.reserved.is_empty(), "{:?}", h.reserved);
    assert_eq!(h.memory.get(0).map(|r| r.base), Some(0x4000_0000));
}

#[test]
fn gicv3_smp4_1g() {
    let h = parse(VIRT_V3);
    assert_virt_basics(&h);
    assert_eq!(h.total_memory(), 1024 * MIB);
    assert_eq!(h.memory.len(), 1);
    assert_eq!(h.cpu_count, 4);
    assert_eq!(h.cpus(), [0, 1, 2, 3]);
    assert_eq!(h.psci, Some(PsciConduit::Smc));

    let gic = h.gic.unwrap();
    assert_eq!(gic.version, GicVersion::V3);
    assert_eq!(gic.distributor, Region::new(0x0800_0000, 0x1_0000));
    assert_eq!(gic.redistributor, Some(Region::new(0x080a_0000, 0xf6_0000)));
    assert_eq!(gic.redistributors.len(), 1);
    // QEMU's GICv3 has no GICv2-compat frames, so no GICC/GICH/GICV.
    assert_eq!(
        (gic.cpu_interface, gic.hyp_interface, gic.vcpu_interface),
        (None, None, None)
    );
    assert_eq!(gic.maintenance_intid, Some(25));
    assert_eq!(gic.its, Some(Region::new(0x0808_0000, 0x2_0000)));
}

#[test]
fn gicv2_smp2_768m() {
    let h = parse(VIRT_V2);
    assert_virt_basics(&h);
    assert_eq!(h.total_memory(), 768 * MIB);
    assert_eq!(h.cpus(), [0, 1]);
    assert_eq!(h.psci, Some(PsciConduit::Smc));

    let gic = h.gic.unwrap();
    assert_eq!(gic.version, GicVersion::V2);
    assert_eq!(gic.distributor, Region::new(0x0800_0000, 0x1_0000));
    assert_eq!(gic.cpu_interface, Some(Region::new(0x0801_0000, 0x1_0000)));
    assert_eq!(gic.hyp_interface, Some(Region::new(0x0803_0000, 0x1_0000)));
    assert_eq!(gic.vcpu_interface, Some(Region::new(0x0804_0000, 0x1_0000)));
    assert_eq!(gic.redistributor, None);
    assert!(gic.redistributors.is_empty());
    assert_eq!(gic.its, None);
    // <1 9 0x304>: the GICv2 CPU-mask bits in the flags cell are ignored.
    assert_eq!(gic.maintenance_intid, Some(25));
}

#[test]
fn secure_world_nodes_are_skipped() {
    let h = parse(VIRT_SECURE);
    assert_virt_basics(&h);
    // `secram@e000000` has device_type "memory" but status "disabled".
    assert_eq!(h.total_memory(), 512 * MIB);
    assert_eq!(h.memory.len(), 1);
    assert_eq!(h.cpus(), [0, 1]);
    // With secure=on QEMU leaves PSCI to EL3 firmware: no psci node.
    assert_eq!(h.psci, None);
    // The disabled secure UART pl011@9040000 comes first in the tree and is
    // `/secure-chosen`'s console; `/chosen` picks 0x09000000.
    assert_eq!(h.uart.unwrap().base, 0x0900_0000);
    assert_eq!(h.gic.unwrap().version, GicVersion::V3);
}

#[test]
fn parse_any_and_padding() {
    let mut bytes = fixture(VIRT_V3);
    let expected = dtb::parse_any(&bytes).unwrap();
    // Bytes past `totalsize` (like QEMU's 1 MiB padding) are ignored.
    bytes.resize(bytes.len() + 4096, 0xa5);
    assert_eq!(dtb::parse_any(&bytes).unwrap(), expected);
    assert_eq!(dtb::blob_size(&bytes).unwrap(), fixture(VIRT_V3).len());
}

#[test]
fn open_at_raw_address() {
    let bytes = fixture(VIRT_V2);
    // SAFETY: `bytes` is alive and unchanged for the whole call, and the
    // returned tree is dropped before it.
    let fdt = unsafe { dtb::open_at(bytes.as_ptr() as u64) }.unwrap();
    assert_eq!(HostInfo::parse(&fdt).unwrap().cpu_count, 2);
}

#[test]
fn debug_output_lists_only_valid_cpus() {
    let s = format!("{:?}", parse(VIRT_V2));
    assert!(s.contains("cpu_mpidrs: [0, 1]"), "{s}");
}
