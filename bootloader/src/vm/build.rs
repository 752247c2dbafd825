//! Building the VM on the boot CPU: guest RAM, files, Stage-2, guest DTB,
//! virtual devices. Each step logs one line with its time since entry.

use super::{layout, Vm};
use crate::guest_ram::GuestRam;
use crate::loader::{self, Files, LoaderError};
use crate::root_disk::RootDisk;
use crate::storage::HostDisk;
use alloc::boxed::Box;
use alloc::vec;
use arch_hal::el2::GuestControls;
use arch_hal::mmu::Table;
use arch_hal::stage2::{self, S2Attr, Stage2};
use core::fmt;
use dtb::guest::{GuestGic, GuestSpec, MmioDevice};
use dtb::{GicVersion, HostInfo, PsciConduit, Region};
use hyp_core::plan::FreeMemory;

/// Stage-2 tables: root (2 concatenated) + level-2/3 tables for guest RAM.
const STAGE2_TABLES: usize = 32;
/// Read-ahead windows for the FAT loader: two 512 KiB windows, so a 34 MiB
/// kernel takes ~70 virtio requests (measured: 283 MiB/s vs 237 MiB/s with
/// two 64 KiB windows).
const FAT_WINDOW: usize = 1 << 20;
/// Bounce buffer for the emulated virtio-blk device.
const BLK_SCRATCH: usize = 64 << 10;
/// The VMID of our one guest.
const VMID: u16 = 1;

#[derive(Debug)]
pub enum BuildError {
    Loader(LoaderError),
    NoGuestRam { size: u64, largest: u64 },
    NoRootPartition,
    NoGic,
    NoTimer,
    Stage2(stage2::Stage2Error),
    Dtb(dtb::guest::GuestDtbError),
    Vgic(emul::VgicError),
    Blk(virtio::ConfigError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Loader(e) => write!(f, "{e}"),
            Self::NoGuestRam { size, largest } => write!(
                f,
                "guest wants {} MiB of RAM but the largest free block is {} MiB",
                size >> 20,
                largest >> 20
            ),
            Self::NoRootPartition => write!(f, "the disk has no partition 2 for the guest's root"),
            Self::NoGic => write!(
                f,
                "the host DTB has no usable GIC (GICv2 needs its GICV frame)"
            ),
            Self::NoTimer => write!(f, "the host DTB has no arm,armv8-timer node"),
            Self::Stage2(e) => write!(f, "Stage-2: {e}"),
            Self::Dtb(e) => write!(f, "guest DTB: {e}"),
            Self::Vgic(e) => write!(f, "virtual GIC: {e}"),
            Self::Blk(e) => write!(f, "virtual disk: {e}"),
        }
    }
}

impl From<LoaderError> for BuildError {
    fn from(e: LoaderError) -> Self {
        Self::Loader(e)
    }
}

/// What the boot CPU hands to `enter` once the VM is built.
pub struct Entry {
    pub kernel: u64,
    pub dtb: u64,
}

/// Where the guest's files are.
pub enum GuestSource {
    /// Partition 1 of the host disk (which also gives the root disk).
    Disk(HostDisk),
    /// A newc archive the firmware loaded at `region`; a host disk, if any,
    /// still provides the root disk.
    Archive {
        region: Region,
        disk: Option<HostDisk>,
    },
}

pub fn build(
    host: &HostInfo,
    source: GuestSource,
    free: &mut FreeMemory,
    ms: impl Fn() -> u64,
) -> Result<(&'static Vm, Entry), BuildError> {
    let gic = host.gic.as_ref().ok_or(BuildError::NoGic)?;
    let v2 = gic.version == GicVersion::V2;
    let timer = host.timer.ok_or(BuildError::NoTimer)?;

    let (mut fat, spare_disk) = match source {
        GuestSource::Disk(disk) => {
            let window = Box::leak(vec![0u8; FAT_WINDOW].into_boxed_slice());
            (Files::open_fat(disk, window)?, None)
        }
        GuestSource::Archive { region, disk } => {
            log::info!(
                "files: guest archive from the firmware at {:#x}, {} KiB",
                region.base,
                region.size >> 10
            );
            // SAFETY: the firmware loaded the archive there and named it in
            // /chosen; the memory plan keeps the range out of every
            // allocation, and nothing writes it.
            let data = unsafe {
                core::slice::from_raw_parts(region.base as usize as *const u8, region.size as usize)
            };
            (Files::Archive(file::cpio::CpioSource::new(data)), disk)
        }
    };
    let cfg = fat.config(host.cpu_count.min(super::MAX_VCPUS))?;
    log::info!(
        "config: {} kernel={} initrd={} memory={} MiB vcpus={} bootargs=\"{}\"",
        loader::CONFIG_FILE,
        cfg.kernel,
        cfg.initrd.as_deref().unwrap_or("-"),
        cfg.memory >> 20,
        cfg.vcpus,
        cfg.bootargs
    );

    let size = (cfg.memory + (2 << 20) - 1) & !((2 << 20) - 1);
    let pa = free.take(size, 0).ok_or(BuildError::NoGuestRam {
        size,
        largest: free.largest(),
    })?;
    let mut ram = GuestRam {
        ipa: layout::RAM_IPA,
        pa: pa.base,
        size,
    };
    log::info!(
        "memory: guest RAM {} MiB at PA {:#x}, IPA {:#x}",
        size >> 20,
        pa.base,
        ram.ipa
    );

    // The kernel goes first at the RAM base; its header then says where it
    // really belongs (text_offset is 0 for every kernel since 5.8).
    let t_load = ms();
    let ram_ipa = ram.ipa;
    let kernel_size = fat.load(&cfg.kernel, &mut ram, ram_ipa, "kernel")?;
    let head = ram
        .slice_mut(ram.ipa, 64)
        .map(|s| elf::parse_image(s))
        .unwrap_or(Err(elf::ImageError::TooShort { len: 0 }));
    let hdr = head.map_err(|e| BuildError::Loader(LoaderError::Image(e)))?;
    if hdr.text_offset != 0 {
        let s = ram
            .slice_mut(ram.ipa, (hdr.text_offset + kernel_size) as usize)
            .ok_or(BuildError::Loader(LoaderError::NoRoom {
                what: "kernel",
                need: hdr.text_offset + kernel_size,
                have: size,
            }))?;
        s.copy_within(0..kernel_size as usize, hdr.text_offset as usize);
    }
    let lay = loader::layout(ram.ipa, hdr.text_offset, elf::footprint(&hdr, kernel_size));
    let initrd = match &cfg.initrd {
        Some(name) => Some(Region::new(
            lay.initrd,
            fat.load(name, &mut ram, lay.initrd, "initrd")?,
        )),
        None => None,
    };
    let loaded = kernel_size + initrd.map_or(0, |r| r.size);
    let dt = (ms() - t_load).max(1);
    let requests = fat.disk_requests();
    log::info!(
        "files: kernel {} KiB, initrd {} KiB loaded in {} ms ({} MiB/s, {} disk requests)",
        kernel_size >> 10,
        initrd.map_or(0, |r| r.size >> 10),
        dt,
        (loaded * 1000 / dt) >> 20,
        requests
    );

    // The root disk: partition 2 only (none without a host disk).
    let blk = match fat.into_disk().or(spare_disk) {
        Some(mut disk) => {
            let mut mbr = [0u8; 512];
            disk.read_blocks(0, &mut mbr)
                .map_err(|_| BuildError::NoRootPartition)?;
            let p2 = hyp_core::mbr::partitions(&mbr)[1].ok_or(BuildError::NoRootPartition)?;
            let scratch = Box::leak(vec![0u8; BLK_SCRATCH].into_boxed_slice());
            Some(
                virtio::VirtioBlkMmio::new(
                    RootDisk::new(disk, p2.first_lba, p2.blocks),
                    scratch,
                    virtio::DeviceConfig::new(),
                )
                .map_err(BuildError::Blk)?,
            )
        }
        None => {
            log::warn!("disk: no host disk: the guest gets no root disk");
            None
        }
    };

    // Stage-2: guest RAM only. Devices are left unmapped so that every
    // access traps to the emulation; hypervisor memory is never mapped.
    let regs = arch_hal::sysreg::HwSysRegs;
    let vtcr = stage2::vtcr_el2(arch_hal::sysreg::SysRegs::id_aa64mmfr0(&regs));
    let pool: &'static mut [Table] =
        Box::leak((0..STAGE2_TABLES).map(|_| Table::empty()).collect());
    let mut s2 =
        Stage2::new(pool, |t| t as *const Table as u64, &vtcr).map_err(BuildError::Stage2)?;
    s2.map(ram.ipa, ram.pa, ram.size, S2Attr::NormalRwx)
        .map_err(BuildError::Stage2)?;
    if v2 {
        // GICv2: the guest's CPU interface is the hardware's virtual one
        // (GICV), mapped where the guest expects GICC (IHI 0048B §5.5).
        let gicv = gic.vcpu_interface.ok_or(BuildError::NoGic)?;
        s2.map(
            layout::GICC_V2.base,
            gicv.base,
            layout::GICC_V2.size,
            S2Attr::DeviceRw,
        )
        .map_err(BuildError::Stage2)?;
    }
    let root = s2.root_pa();
    log::info!(
        "stage2: {}-bit IPA, {} tables, guest RAM mapped, VMID {VMID}",
        vtcr.ipa_bits,
        s2.tables_used()
    );

    // Guest DTB.
    let vcpus = cfg.vcpus;
    let mpidrs = &host.cpus()[..vcpus];
    let gicr = layout::gicr(vcpus);
    let spec = GuestSpec {
        ram: Region::new(ram.ipa, ram.size),
        vcpus,
        mpidrs,
        bootargs: &cfg.bootargs,
        initrd,
        gic: GuestGic {
            version: gic.version,
            distributor: layout::GICD,
            cpu: if v2 { layout::GICC_V2 } else { gicr },
            maintenance_intid: None,
        },
        uart: Some(MmioDevice {
            region: layout::UART,
            intid: layout::UART_INTID,
        }),
        virtio_mmio: if blk.is_some() {
            &[MmioDevice {
                region: layout::VIRTIO_BLK,
                intid: layout::VIRTIO_BLK_INTID,
            }]
        } else {
            &[]
        },
        timer,
        psci: PsciConduit::Hvc,
    };
    let blob = dtb::guest::build(&spec).map_err(BuildError::Dtb)?;
    let dest = ram
        .slice_mut(lay.dtb, blob.len())
        .ok_or(BuildError::Loader(LoaderError::NoRoom {
            what: "guest DTB",
            need: blob.len() as u64,
            have: 0,
        }))?;
    dest.copy_from_slice(&blob);
    log::info!("dtb: guest DTB {} bytes at IPA {:#x}", blob.len(), lay.dtb);

    // Linux expects its image cleaned to the point of coherency and no
    // stale instructions (booting.rst): our copies went through the caches.
    arch_hal::cache::clean_invalidate_dcache_range(ram.pa as usize, ram.size as usize);
    arch_hal::cache::invalidate_icache_all();

    let version = if v2 {
        emul::Version::V2
    } else {
        emul::Version::V3
    };
    let mut vgic =
        emul::VGic::new(version, vcpus, layout::NUM_SPIS, mpidrs).map_err(BuildError::Vgic)?;
    vgic.link_hw(layout::VTIMER_INTID, timer.virt_intid)
        .map_err(BuildError::Vgic)?;
    log::info!(
        "vgic: GICv{}, {vcpus} vCPUs, {} SPIs, timer PPI {} forwarded",
        if v2 { 2 } else { 3 },
        layout::NUM_SPIS,
        timer.virt_intid
    );

    let controls = GuestControls {
        vttbr: stage2::vttbr_el2(root, VMID),
        vtcr: vtcr.value,
        vmpidr: 0,
        has_sme: arch_hal::el2::has_sme(),
    };
    let maintenance = gic.maintenance_intid.unwrap_or(25);
    let vm = super::install(Vm::new(ram, mpidrs, controls, maintenance, vgic, blk));
    Ok((
        vm,
        Entry {
            kernel: lay.kernel,
            dtb: lay.dtb,
        },
    ))
}
