//! Builds guest trees for GICv2 and GICv3, reads them back with this
//! crate's own host parser and the `fdt` crate, and (when installed) runs
//! `dtc` over them.

use std::string::String;
use std::vec::Vec;

use super::*;
use crate::host::{HostInfo, PsciConduit};

const RAM: Region = Region::new(0x4000_0000, 0x2000_0000);
const INITRD: Region = Region::new(0x4800_0000, 0x0123_4000);
/// Raw MPIDR_EL1 values (bit 31 is RES1): only the affinity reaches `reg`.
const MPIDRS: [u64; 4] = [0x8000_0000, 0x8000_0001, 0x8000_0002, 0x8000_0003];
const AFFINITIES: [u64; 4] = [0, 1, 2, 3];
const UART: MmioDevice = MmioDevice {
    region: Region::new(0x0900_0000, 0x1000),
    intid: 33,
};
const VIRTIO: [MmioDevice; 2] = [
    MmioDevice {
        region: Region::new(0x0a00_0000, 0x200),
        intid: 48,
    },
    MmioDevice {
        region: Region::new(0x0a00_0200, 0x200),
        intid: 49,
    },
];
const TIMER: TimerInfo = TimerInfo {
    secure_phys_intid: 29,
    phys_intid: 30,
    virt_intid: 27,
    hyp_intid: 26,
    hyp_virt_intid: None,
    clock_frequency: None,
};
const BOOTARGS: &str = "console=ttyAMA0 earlycon rdinit=/init";

fn gic(version: GicVersion) -> GuestGic {
    GuestGic {
        version,
        distributor: Region::new(0x0800_0000, 0x1_0000),
        cpu: match version {
            GicVersion::V3 => Region::new(0x080a_0000, 4 * 0x2_0000),
            GicVersion::V2 => Region::new(0x0801_0000, 0x1_0000),
        },
        maintenance_intid: None,
    }
}

fn spec(version: GicVersion) -> GuestSpec<'static> {
    GuestSpec {
        ram: RAM,
        vcpus: 4,
        mpidrs: &MPIDRS,
        bootargs: BOOTARGS,
        initrd: Some(INITRD),
        gic: gic(version),
        uart: Some(UART),
        virtio_mmio: &VIRTIO,
        timer: TIMER,
        psci: PsciConduit::Hvc,
    }
}

fn chosen_u64(fdt: &fdt::Fdt<'_>, name: &str) -> Option<u64> {
    let raw = fdt.find_node("/chosen")?.property(name)?.value;
    Some(u64::from_be_bytes(raw.try_into().ok()?))
}

fn raw_u32s(fdt: &fdt::Fdt<'_>, path: &str, prop: &str) -> Vec<u32> {
    let value = fdt
        .find_node(path)
        .and_then(|n| n.property(prop))
        .map(|p| p.value)
        .unwrap_or(&[]);
    value
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Everything common to both GIC versions.
fn check_common(blob: &[u8], version: GicVersion) -> HostInfo {
    let fdt = crate::open(blob).unwrap();
    let host = HostInfo::parse(&fdt).unwrap();

    assert_eq!(host.memory.iter().collect::<Vec<_>>(), [RAM]);
    assert_eq!(host.cpus(), &AFFINITIES[..]);
    assert_eq!(host.psci, Some(PsciConduit::Hvc));
    assert_eq!(
        host.uart,
        Some(crate::UartInfo {
            base: 0x0900_0000,
            size: 0x1000,
            intid: Some(33),
        })
    );
    let virtio: Vec<_> = host.virtio_mmio.iter().collect();
    assert_eq!(virtio.len(), 2);
    for (got, want) in virtio.iter().zip(VIRTIO) {
        assert_eq!(got.region, want.region);
        assert_eq!(got.intid, want.intid);
    }
    assert_eq!(host.timer, Some(TIMER));
    let g = host.gic.unwrap();
    assert_eq!(g.version, version);
    assert_eq!(g.distributor, gic(version).distributor);

    let chosen = fdt.chosen();
    assert_eq!(chosen.bootargs(), Some(BOOTARGS));
    assert_eq!(chosen.stdout().map(|n| n.name), Some("pl011@9000000"));
    assert_eq!(chosen_u64(&fdt, "linux,initrd-start"), Some(INITRD.base));
    assert_eq!(chosen_u64(&fdt, "linux,initrd-end"), Some(INITRD.end()));

    let root = fdt.find_node("/").unwrap();
    assert_eq!(
        root.compatible().map(|c| c.first()),
        Some("linux,dummy-virt")
    );
    // Nothing the guest must not see.
    for absent in ["/flash", "/fw-cfg", "/pcie", "/pl031", "/secure-chosen"] {
        assert!(fdt.find_node(absent).is_none(), "{absent}");
    }
    // virtio: edge-rising, dma-coherent. UART: level-high with clocks.
    assert_eq!(
        raw_u32s(&fdt, "/virtio_mmio@a000200", "interrupts"),
        [0, 17, 1]
    );
    assert!(fdt
        .find_node("/virtio_mmio@a000000")
        .and_then(|n| n.property("dma-coherent"))
        .is_some());
    assert_eq!(raw_u32s(&fdt, "/pl011@9000000", "interrupts"), [0, 1, 4]);
    assert_eq!(
        raw_u32s(&fdt, "/pl011@9000000", "clocks"),
        [CLOCK_PHANDLE, CLOCK_PHANDLE]
    );
    assert_eq!(
        raw_u32s(&fdt, "/apb-pclk", "clock-frequency"),
        [APB_PCLK_HZ]
    );
    for n in 0..4 {
        let cpu = fdt.find_node(&std::format!("/cpus/cpu@{n}")).unwrap();
        assert_eq!(
            cpu.property("enable-method").and_then(|p| p.as_str()),
            Some("psci")
        );
    }
    dtc_accepts(blob);
    host
}

#[test]
fn gic_v3_tree() {
    let blob = build(&spec(GicVersion::V3)).unwrap();
    let host = check_common(&blob, GicVersion::V3);
    let g = host.gic.unwrap();
    assert_eq!(g.redistributor, Some(gic(GicVersion::V3).cpu));
    assert_eq!(g.cpu_interface, None);
    let fdt = crate::open(&blob).unwrap();
    assert_eq!(
        raw_u32s(&fdt, "/timer", "interrupts"),
        [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]
    );
    assert_eq!(
        raw_u32s(&fdt, "/intc@8000000", "#redistributor-regions"),
        [1]
    );
}

#[test]
fn gic_v2_tree() {
    let blob = build(&spec(GicVersion::V2)).unwrap();
    let host = check_common(&blob, GicVersion::V2);
    let g = host.gic.unwrap();
    assert_eq!(g.cpu_interface, Some(gic(GicVersion::V2).cpu));
    assert_eq!(g.redistributor, None);
    let fdt = crate::open(&blob).unwrap();
    // QEMU: level-high with CPU mask (1 << 4) - 1 in bits 15:8.
    assert_eq!(
        raw_u32s(&fdt, "/timer", "interrupts"),
        [1, 13, 0xf04, 1, 14, 0xf04, 1, 11, 0xf04, 1, 10, 0xf04]
    );
}

#[test]
fn minimal_and_wide_mpidrs() {
    // No UART, no initrd, no virtio; one vCPU with a non-zero Aff3.
    let mpidrs = [0x01_0000_0100u64];
    let s = GuestSpec {
        vcpus: 1,
        mpidrs: &mpidrs,
        initrd: None,
        uart: None,
        virtio_mmio: &[],
        ..spec(GicVersion::V3)
    };
    let blob = build(&s).unwrap();
    let fdt = crate::open(&blob).unwrap();
    let host = HostInfo::parse(&fdt).unwrap();
    assert_eq!(host.cpus(), &[0x01_0000_0100]);
    assert_eq!(host.uart, None);
    assert!(host.virtio_mmio.is_empty());
    assert!(fdt.chosen().stdout().is_none());
    assert_eq!(chosen_u64(&fdt, "linux,initrd-start"), None);
    assert_eq!(raw_u32s(&fdt, "/cpus", "#address-cells"), [2]);
    dtc_accepts(&blob);
}

#[test]
fn uses_only_the_first_vcpus_mpidrs() {
    let s = GuestSpec {
        vcpus: 2,
        ..spec(GicVersion::V3)
    };
    let blob = build(&s).unwrap();
    let host = crate::parse_any(&blob).unwrap();
    assert_eq!(host.cpus(), &AFFINITIES[..2]);
}

#[test]
fn rejects_bad_specs() {
    let base = spec(GicVersion::V3);
    let cases: [(GuestSpec<'_>, GuestDtbError); 10] = [
        (GuestSpec { vcpus: 0, ..base }, GuestDtbError::NoVcpus),
        (
            GuestSpec { vcpus: 5, ..base },
            GuestDtbError::TooFewMpidrs {
                vcpus: 5,
                mpidrs: 4,
            },
        ),
        (
            GuestSpec {
                vcpus: 9,
                mpidrs: &[0; 9],
                gic: gic(GicVersion::V2),
                ..base
            },
            GuestDtbError::TooManyVcpusForGicV2(9),
        ),
        (
            GuestSpec {
                ram: Region::new(0x4000_0000, 0),
                ..base
            },
            GuestDtbError::BadRam,
        ),
        (
            GuestSpec {
                initrd: Some(Region::new(0x5fff_f000, 0x2000)),
                ..base
            },
            GuestDtbError::InitrdOutsideRam,
        ),
        (
            GuestSpec {
                uart: Some(MmioDevice {
                    region: Region::new(0x4000_0000, 0x1000),
                    intid: 33,
                }),
                ..base
            },
            GuestDtbError::BadDeviceRegion("UART"),
        ),
        (
            GuestSpec {
                uart: Some(MmioDevice { intid: 27, ..UART }),
                ..base
            },
            GuestDtbError::NotSpi {
                what: "UART",
                intid: 27,
            },
        ),
        (
            GuestSpec {
                virtio_mmio: &[MmioDevice {
                    region: Region::new(0x0a00_0000, 0x200),
                    intid: 1020,
                }],
                ..base
            },
            GuestDtbError::NotSpi {
                what: "virtio-mmio",
                intid: 1020,
            },
        ),
        (
            GuestSpec {
                timer: TimerInfo {
                    virt_intid: 33,
                    ..TIMER
                },
                ..base
            },
            GuestDtbError::NotPpi {
                what: "timer virt",
                intid: 33,
            },
        ),
        (
            GuestSpec {
                bootargs: "a\0b",
                ..base
            },
            GuestDtbError::Writer(vm_fdt::Error::InvalidString),
        ),
    ];
    for (s, want) in cases {
        let got = build(&s).unwrap_err();
        assert!(!std::string::ToString::to_string(&got).contains('\n'));
        assert_eq!(got, want);
    }
}

#[test]
fn identity_gic_from_host_fixtures() {
    for (name, version) in [
        ("virt-gicv3-smp4-1g.dtb", GicVersion::V3),
        ("virt-gicv2-smp2-768m.dtb", GicVersion::V2),
    ] {
        let path = std::format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        let host = crate::parse_any(&bytes).unwrap();
        let g = GuestGic::identity(&host.gic.unwrap()).unwrap();
        assert_eq!(g.version, version);
        let s = GuestSpec {
            ram: Region::new(0x4000_0000, 0x1000_0000),
            vcpus: host.cpu_count,
            mpidrs: host.cpus(),
            bootargs: "",
            initrd: None,
            gic: g,
            uart: host.uart.map(|u| MmioDevice {
                region: Region::new(u.base, u.size),
                intid: u.intid.unwrap_or(33),
            }),
            virtio_mmio: &[],
            timer: host.timer.unwrap(),
            psci: PsciConduit::Hvc,
        };
        let blob = build(&s).unwrap();
        let guest = crate::parse_any(&blob).unwrap();
        assert_eq!(guest.cpus(), host.cpus());
        assert_eq!(guest.timer, host.timer);
        assert_eq!(
            guest.gic.unwrap().distributor,
            host.gic.unwrap().distributor
        );
        dtc_accepts(&blob);
    }
}

/// `dtc -I dtb -O dts` must decompile the blob without errors or warnings.
fn dtc_accepts(blob: &[u8]) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("dtc")
        .args(["-I", "dtb", "-O", "dts", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        std::eprintln!("skipped: dtc not installed");
        return;
    };
    child.stdin.take().unwrap().write_all(blob).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dtc failed: {stderr}");
    assert!(stderr.trim().is_empty(), "dtc warnings: {stderr}");
    let dts = String::from_utf8_lossy(&out.stdout);
    assert!(dts.contains("linux,dummy-virt"), "{dts}");
}
