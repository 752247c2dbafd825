//! The `dtb` target's input format and seeds.
//!
//! Input: a mode byte, then
//! - mode bit 0 clear: a host device tree blob (parsed as the hypervisor
//!   parses U-Boot's, then turned into a guest tree the way the hypervisor
//!   does);
//! - mode bit 0 set: a guest-tree description ([`GuestInput`]) handed to
//!   `dtb::guest::build`.
//!
//! Host seeds: the QEMU `virt` and Raspberry Pi 5 trees the dtb crate's
//! tests already use (`dtb/tests/fixtures`), plus trees written here with
//! `vm-fdt` and by the guest-tree builder itself.

use dtb::guest::{GuestGic, GuestSpec, MmioDevice};
use dtb::{GicVersion, PsciConduit, Region, TimerInfo};

use crate::input::{Input, Writer};

pub const MODE_HOST: u8 = 0;
pub const MODE_GUEST: u8 = 1;

/// Longest `bootargs` the target builds (Linux's COMMAND_LINE_SIZE on
/// arm64 is 2048; a few hundred bytes exercise the writer as well).
const MAX_BOOTARGS: usize = 512;

/// A guest-tree description decoded from fuzzer bytes, owning what a
/// [`GuestSpec`] borrows.
#[derive(Clone, Debug)]
pub struct GuestInput {
    pub v3: bool,
    pub vcpus: usize,
    pub mpidrs: Vec<u64>,
    pub ram: Region,
    pub initrd: Option<Region>,
    pub distributor: Region,
    pub cpu: Region,
    pub maintenance: Option<u32>,
    pub uart: Option<MmioDevice>,
    pub virtio: Vec<MmioDevice>,
    pub timer: TimerInfo,
    pub smc: bool,
    pub bootargs: String,
}

fn region(i: &mut Input) -> Region {
    Region::new(i.u64(), i.u64())
}

fn device(i: &mut Input) -> MmioDevice {
    MmioDevice {
        region: region(i),
        intid: i.u32(),
    }
}

impl GuestInput {
    /// Decodes the layout documented on [`GuestInput::encode`].
    pub fn decode(i: &mut Input) -> Self {
        let flags = i.u8();
        let bit = |n: u8| flags & (1 << n) != 0;
        // Up to 15: covers "no vCPU" and GICv2's limit of 8.
        let vcpus = usize::from(i.u8() % 16);
        let n = usize::from(i.u8() % 17);
        let mpidrs = (0..n).map(|_| i.u64()).collect();
        let ram = region(i);
        let initrd = region(i);
        let distributor = region(i);
        let cpu = region(i);
        let maintenance = i.u32();
        let uart = device(i);
        let virtio = (0..i.u8() % 5).map(|_| device(i)).collect();
        let timer = TimerInfo {
            secure_phys_intid: u32::from(i.u8()),
            phys_intid: u32::from(i.u8()),
            virt_intid: u32::from(i.u8()),
            hyp_intid: u32::from(i.u8()),
            hyp_virt_intid: None,
            clock_frequency: Some(i.u32()).filter(|_| bit(5)),
        };
        let bootargs = String::from_utf8_lossy(i.bytes(MAX_BOOTARGS)).into_owned();
        Self {
            v3: bit(0),
            vcpus,
            mpidrs,
            ram,
            initrd: bit(1).then_some(initrd),
            distributor,
            cpu,
            maintenance: bit(3).then_some(maintenance),
            uart: bit(2).then_some(uart),
            virtio,
            timer,
            smc: bit(4),
            bootargs,
        }
    }

    /// flags (bit 0 GICv3, 1 initrd, 2 UART, 3 maintenance IRQ, 4 SMC,
    /// 5 timer clock-frequency), vcpus, MPIDR count and MPIDRs, RAM, initrd,
    /// GICD, GICC/GICR, maintenance INTID, UART, virtio count and devices,
    /// four timer PPIs and the clock, then bootargs.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        let flags = u8::from(self.v3)
            | u8::from(self.initrd.is_some()) << 1
            | u8::from(self.uart.is_some()) << 2
            | u8::from(self.maintenance.is_some()) << 3
            | u8::from(self.smc) << 4
            | u8::from(self.timer.clock_frequency.is_some()) << 5;
        w.u8(flags).u8(self.vcpus as u8).u8(self.mpidrs.len() as u8);
        for &m in &self.mpidrs {
            w.u64(m);
        }
        let reg = |w: &mut Writer, r: Region| {
            w.u64(r.base).u64(r.size);
        };
        reg(&mut w, self.ram);
        reg(&mut w, self.initrd.unwrap_or_default());
        reg(&mut w, self.distributor);
        reg(&mut w, self.cpu);
        w.u32(self.maintenance.unwrap_or(0));
        let dev = |w: &mut Writer, d: MmioDevice| {
            reg(w, d.region);
            w.u32(d.intid);
        };
        dev(
            &mut w,
            self.uart.unwrap_or(MmioDevice {
                region: Region::new(0, 0),
                intid: 0,
            }),
        );
        w.u8(self.virtio.len() as u8);
        for d in &self.virtio {
            dev(&mut w, *d);
        }
        let t = &self.timer;
        for intid in [t.secure_phys_intid, t.phys_intid, t.virt_intid, t.hyp_intid] {
            w.u8(intid as u8);
        }
        w.u32(t.clock_frequency.unwrap_or(0));
        w.raw(self.bootargs.as_bytes());
        w.finish()
    }

    pub fn spec(&self) -> GuestSpec<'_> {
        GuestSpec {
            ram: self.ram,
            vcpus: self.vcpus,
            mpidrs: &self.mpidrs,
            bootargs: &self.bootargs,
            initrd: self.initrd,
            gic: GuestGic {
                version: if self.v3 {
                    GicVersion::V3
                } else {
                    GicVersion::V2
                },
                distributor: self.distributor,
                cpu: self.cpu,
                maintenance_intid: self.maintenance,
            },
            uart: self.uart,
            virtio_mmio: &self.virtio,
            timer: self.timer,
            psci: if self.smc {
                PsciConduit::Smc
            } else {
                PsciConduit::Hvc
            },
        }
    }
}

/// The guest the hypervisor builds on QEMU `virt` (bootloader/src/vm/
/// layout.rs): RAM at 1 GiB, QEMU's GIC, UART and first virtio-mmio slot.
pub fn hypervisor_guest(v3: bool, vcpus: usize) -> GuestInput {
    GuestInput {
        v3,
        vcpus,
        mpidrs: (0..vcpus as u64).map(|i| 0x8000_0000 | i).collect(),
        ram: Region::new(0x4000_0000, 0x2000_0000),
        initrd: Some(Region::new(0x4800_0000, 0x0123_4000)),
        distributor: Region::new(0x0800_0000, 0x1_0000),
        cpu: if v3 {
            Region::new(0x080a_0000, 0x2_0000 * vcpus as u64)
        } else {
            Region::new(0x0801_0000, 0x2000)
        },
        maintenance: None,
        uart: Some(MmioDevice {
            region: Region::new(0x0900_0000, 0x1000),
            intid: 33,
        }),
        virtio: vec![MmioDevice {
            region: Region::new(0x0a00_0000, 0x200),
            intid: 48,
        }],
        timer: TimerInfo {
            secure_phys_intid: 29,
            phys_intid: 30,
            virt_intid: 27,
            hyp_intid: 26,
            hyp_virt_intid: None,
            clock_frequency: None,
        },
        smc: false,
        bootargs: "console=ttyAMA0 earlycon rdinit=/init root=/dev/vda2".into(),
    }
}

/// A host tree with what the QEMU fixtures lack: `/memreserve/` entries,
/// `/reserved-memory`, two memory nodes, a GICv2 with GICH/GICV frames and
/// its maintenance interrupt, an `interrupt-names` timer and a PL011 chosen
/// through an alias.
fn synthetic_host() -> Vec<u8> {
    let reserve = [vm_fdt::FdtReserveEntry::new(0x4000_0000, 0x1_0000).unwrap()];
    let mut w = vm_fdt::FdtWriter::new_with_mem_reserv(&reserve).unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    w.property_u32("interrupt-parent", 1).unwrap();
    for (name, base, size) in [
        ("memory@40000000", 0x4000_0000u64, 0x2000_0000u64),
        ("memory@80000000", 0x8000_0000, 0x1000_0000),
    ] {
        let m = w.begin_node(name).unwrap();
        w.property_string("device_type", "memory").unwrap();
        w.property_array_u64("reg", &[base, size]).unwrap();
        w.end_node(m).unwrap();
    }
    let rm = w.begin_node("reserved-memory").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    w.property_null("ranges").unwrap();
    let fw = w.begin_node("firmware@4ff00000").unwrap();
    w.property_array_u64("reg", &[0x4ff0_0000, 0x10_0000])
        .unwrap();
    w.property_null("no-map").unwrap();
    w.end_node(fw).unwrap();
    w.end_node(rm).unwrap();
    let cpus = w.begin_node("cpus").unwrap();
    w.property_u32("#address-cells", 1).unwrap();
    w.property_u32("#size-cells", 0).unwrap();
    for i in 0..2u32 {
        let c = w.begin_node(&format!("cpu@{}", i * 0x100)).unwrap();
        w.property_string("device_type", "cpu").unwrap();
        w.property_u32("reg", i * 0x100).unwrap();
        w.property_string("enable-method", "psci").unwrap();
        w.end_node(c).unwrap();
    }
    w.end_node(cpus).unwrap();
    let psci = w.begin_node("psci").unwrap();
    w.property_string("compatible", "arm,psci-1.0").unwrap();
    w.property_string("method", "smc").unwrap();
    w.end_node(psci).unwrap();
    let gic = w.begin_node("intc@8000000").unwrap();
    w.property_string("compatible", "arm,gic-400").unwrap();
    w.property_u32("#interrupt-cells", 3).unwrap();
    w.property_null("interrupt-controller").unwrap();
    w.property_array_u64(
        "reg",
        &[
            0x800_0000, 0x1000, 0x801_0000, 0x2000, 0x803_0000, 0x2000, 0x804_0000, 0x2000,
        ],
    )
    .unwrap();
    w.property_array_u32("interrupts", &[1, 9, 0xf04]).unwrap();
    w.property_phandle(1).unwrap();
    w.end_node(gic).unwrap();
    let timer = w.begin_node("timer").unwrap();
    w.property_string("compatible", "arm,armv8-timer").unwrap();
    w.property_array_u32(
        "interrupts",
        &[1, 14, 0xf08, 1, 13, 0xf08, 1, 11, 0xf08, 1, 10, 0xf08],
    )
    .unwrap();
    w.property_string_list(
        "interrupt-names",
        ["phys", "sec-phys", "virt", "hyp-phys"]
            .map(String::from)
            .to_vec(),
    )
    .unwrap();
    w.end_node(timer).unwrap();
    let uart = w.begin_node("serial@9000000").unwrap();
    w.property_string_list(
        "compatible",
        ["arm,pl011", "arm,primecell"].map(String::from).to_vec(),
    )
    .unwrap();
    w.property_array_u64("reg", &[0x900_0000, 0x1000]).unwrap();
    w.property_array_u32("interrupts", &[0, 1, 4]).unwrap();
    w.end_node(uart).unwrap();
    let vio = w.begin_node("virtio_mmio@a000000").unwrap();
    w.property_string("compatible", "virtio,mmio").unwrap();
    w.property_array_u64("reg", &[0xa00_0000, 0x200]).unwrap();
    w.property_array_u32("interrupts", &[0, 16, 1]).unwrap();
    w.end_node(vio).unwrap();
    let aliases = w.begin_node("aliases").unwrap();
    w.property_string("serial0", "/serial@9000000").unwrap();
    w.end_node(aliases).unwrap();
    let chosen = w.begin_node("chosen").unwrap();
    w.property_string("stdout-path", "serial0:115200n8")
        .unwrap();
    w.end_node(chosen).unwrap();
    w.end_node(root).unwrap();
    w.finish().unwrap()
}

const FIXTURES: [&[u8]; 4] = [
    include_bytes!("../../dtb/tests/fixtures/virt-gicv3-smp4-1g.dtb"),
    include_bytes!("../../dtb/tests/fixtures/virt-gicv2-smp2-768m.dtb"),
    include_bytes!("../../dtb/tests/fixtures/virt-secure-gicv3-smp2-512m.dtb"),
    include_bytes!("../../dtb/tests/fixtures/bcm2712-rpi-5-b.dtb"),
];

fn with_mode(mode: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(body);
    v
}

/// Every host seed parses and every guest seed builds: checked here, so a
/// broken generator stops the run at start-up instead of fuzzing from
/// rejected inputs.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut hosts: Vec<Vec<u8>> = FIXTURES.iter().map(|f| f.to_vec()).collect();
    hosts.push(synthetic_host());
    for (v3, vcpus) in [(true, 4), (false, 2)] {
        let g = hypervisor_guest(v3, vcpus);
        let blob = dtb::guest::build(&g.spec()).expect("seed guest tree builds");
        hosts.push(blob);
        out.push(with_mode(MODE_GUEST, &g.encode()));
    }
    for h in &hosts {
        if let Err(e) = dtb::parse_any(h) {
            panic!("dtb seed does not parse: {e}");
        }
        out.push(with_mode(MODE_HOST, h));
    }
    out
}
