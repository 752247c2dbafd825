//! Device trees: the host parser (`dtb::open` + `HostInfo::parse`) on
//! arbitrary blobs, and the guest-tree writer (`dtb::guest::build`) on
//! arbitrary specs and on specs derived from parsed hosts.
//!
//! Invariants: parsing never panics and its errors are one line; what it
//! accepts is internally consistent (counts, non-wrapping regions); every
//! guest tree the writer produces parses back with the host parser to
//! exactly the spec it was built from (RAM, CPUs, GIC, timer, UART,
//! virtio, PSCI, bootargs, initrd).
#![no_main]

use dtb::guest::{GuestGic, GuestSpec, MmioDevice};
use dtb::{GicVersion, HostInfo, PsciConduit, Region, UartInfo};
use fuzz_support::dtb_seeds::{self, GuestInput, MODE_GUEST};
use fuzz_support::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: fuzz_support::seed_corpus("dtb", dtb_seeds::seeds),
    |data: &[u8]| {
        let mut input = Input::new(data);
        if input.u8() & 1 == MODE_GUEST {
            let g = GuestInput::decode(&mut input);
            build_and_check(&g.spec());
        } else {
            host(input.rest());
        }
    }
);

fn host(blob: &[u8]) {
    let host = match dtb::parse_any(blob) {
        Ok(h) => h,
        Err(e) => {
            assert!(!e.to_string().contains('\n'), "{e}");
            return;
        }
    };
    // What the hypervisor relies on after a successful parse.
    assert!(host.cpu_count >= 1 && host.cpu_count <= dtb::MAX_CPUS);
    assert_eq!(host.cpus().len(), host.cpu_count);
    assert!(host.memory.iter().next().is_some());
    for r in host.memory.iter().chain(host.reserved.iter()) {
        assert!(r.checked_end().is_some(), "{r:?} wraps");
    }
    if let Some(g) = &host.gic {
        assert!(g.distributor.checked_end().is_some());
        assert_eq!(g.redistributor, g.redistributors.iter().next());
    }

    // The hypervisor's own derivation (bootloader/src/vm/build.rs): at most
    // 8 vCPUs with the host's MPIDRs, its fixed device layout, the host's
    // GIC version and timer PPIs.
    let (Some(gic), Some(timer)) = (host.gic, host.timer) else {
        return;
    };
    let vcpus = host.cpu_count.min(8);
    let v3 = gic.version == GicVersion::V3;
    let spec = GuestSpec {
        ram: Region::new(0x4000_0000, 0x2000_0000),
        vcpus,
        mpidrs: &host.cpus()[..vcpus],
        bootargs: "console=ttyAMA0 earlycon",
        initrd: Some(Region::new(0x4800_0000, 0x10_0000)),
        gic: GuestGic {
            version: gic.version,
            distributor: Region::new(0x0800_0000, 0x1_0000),
            cpu: if v3 {
                Region::new(0x080a_0000, 0x2_0000 * vcpus as u64)
            } else {
                Region::new(0x0801_0000, 0x2000)
            },
            maintenance_intid: None,
        },
        uart: Some(MmioDevice {
            region: Region::new(0x0900_0000, 0x1000),
            intid: 33,
        }),
        virtio_mmio: &[MmioDevice {
            region: Region::new(0x0a00_0000, 0x200),
            intid: 48,
        }],
        timer,
        psci: PsciConduit::Hvc,
    };
    build_and_check(&spec);
}

/// Builds the guest tree; if the writer accepts the spec, the tree must
/// read back as that spec.
fn build_and_check(spec: &GuestSpec<'_>) {
    let blob = match dtb::guest::build(spec) {
        Ok(b) => b,
        Err(e) => {
            assert!(!e.to_string().contains('\n'), "{e}");
            return;
        }
    };
    let fdt = dtb::open(&blob).unwrap_or_else(|e| panic!("guest tree does not open: {e}"));
    let back: HostInfo =
        HostInfo::parse(&fdt).unwrap_or_else(|e| panic!("guest tree does not parse: {e}"));

    assert_eq!(back.memory.iter().collect::<Vec<_>>(), [spec.ram]);
    let affinities: Vec<u64> = spec.mpidrs[..spec.vcpus]
        .iter()
        .map(|m| m & dtb::guest::MPIDR_AFFINITY_MASK)
        .collect();
    assert_eq!(back.cpus(), &affinities[..]);
    assert_eq!(back.psci, Some(spec.psci));
    let uart = spec.uart.map(|u| UartInfo {
        base: u.region.base,
        size: u.region.size,
        intid: Some(u.intid),
    });
    assert_eq!(back.uart, uart);
    let virtio: Vec<(Region, u32)> = back
        .virtio_mmio
        .iter()
        .map(|v| (v.region, v.intid))
        .collect();
    let want: Vec<(Region, u32)> = spec
        .virtio_mmio
        .iter()
        .map(|v| (v.region, v.intid))
        .collect();
    assert_eq!(virtio, want);
    // The guest timer node lists the four classic PPIs only.
    let mut timer = spec.timer;
    timer.hyp_virt_intid = None;
    assert_eq!(back.timer, Some(timer));

    let gic = back.gic.expect("guest tree has a GIC");
    assert_eq!(gic.version, spec.gic.version);
    assert_eq!(gic.distributor, spec.gic.distributor);
    match spec.gic.version {
        GicVersion::V3 => assert_eq!(gic.redistributor, Some(spec.gic.cpu)),
        GicVersion::V2 => assert_eq!(gic.cpu_interface, Some(spec.gic.cpu)),
    }
    assert_eq!(gic.maintenance_intid, spec.gic.maintenance_intid);

    let chosen = fdt.chosen();
    assert_eq!(chosen.bootargs(), Some(spec.bootargs));
    let initrd = |name: &str| {
        let raw = fdt.find_node("/chosen")?.property(name)?.value;
        Some(u64::from_be_bytes(raw.try_into().ok()?))
    };
    assert_eq!(initrd("linux,initrd-start"), spec.initrd.map(|r| r.base));
    assert_eq!(initrd("linux,initrd-end"), spec.initrd.map(|r| r.end()));
}
