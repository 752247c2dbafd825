//! elf-hypervisor: an AArch64 EL2 hypervisor and bootloader.
//!
//! This file only wires the boot stages together; each stage lives in its
//! own module. The order matters: until the MMU is on we run with caches off
//! and must not take spin locks (exclusives on Device memory), so the DTB is
//! located and parsed first, then the MMU is enabled, then the console.
#![no_std]
#![no_main]

extern crate alloc;

mod banner;
mod boot_args;
mod console;
mod cpus;
mod debug;
mod dtb_source;
mod entry;
mod ffa_proxy;
mod gic;
mod guest_ram;
mod heap;
mod loader;
mod logger;
mod memory;
mod panic;
mod power;
mod root_disk;
mod selftest;
mod storage;
mod trap;
mod virtio_hal;
mod vm;

use arch_hal::sysreg::{HwSysRegs, SysRegs};
use arch_hal::time::Epoch;

/// Called from `_start` on the boot CPU with the loader's argc/argv.
#[no_mangle]
extern "C" fn hyp_main(argc: u64, argv: *const *const u8) -> ! {
    let regs = HwSysRegs;
    let epoch = Epoch::now(&regs);

    // U-Boot's bootelf passes argc/argv, the Pi firmware the Linux protocol
    // (x0 = DTB, x1 = 0), QEMU's ELF loader zeros.
    let (hint, self_test) = match rpi_boot::entry::classify(argc, argv as u64) {
        rpi_boot::entry::EntryArgs::Dtb(addr) => (dtb_source::Hint::Register(addr), None),
        // SAFETY: `_start` passes the loader's registers unchanged, and
        // classify() saw a plausible argc with a non-null argv.
        _ => unsafe {
            (
                dtb_source::Hint::Argument(boot_args::argument(argc, argv, 0)),
                boot_args::self_test(boot_args::argument(argc, argv, 1)),
            )
        },
    };
    let located = dtb_source::locate(hint);
    let host = match &located {
        Ok(found) => dtb::HostInfo::parse(&found.fdt).map_err(|e| (found, e)),
        // No DTB at all: no console can be found either.
        Err(_) => power::off_without_console(),
    };
    let host = match host {
        Ok(host) => host,
        Err((found, err)) => dtb_source::report_unusable(found, &err),
    };
    power::set_conduit(host.psci);

    if let Err(err) = memory::enable_mmu(&host, regs.id_aa64mmfr0()) {
        console::emergency_line(&host, format_args!("error: EL2 MMU set-up: {err}"));
        power::off();
    }
    let Some(uart) = host.uart.as_ref() else {
        // Nothing to print on; a board without a PL011 is not supported yet.
        power::off();
    };
    arch_hal::el2::set_cpu_index(0);
    console::init(uart.base as usize);
    logger::init(epoch);
    trap::install();

    if let Ok(found) = &located {
        dtb_source::log_source(found);
    }
    banner::print(&host, regs.current_el());
    log::info!("boot: DTB parsed, EL2 MMU on, console up");
    ffa_proxy::init();
    if let Some(test) = self_test {
        selftest::run(test, &host);
    }

    let dtb_region = located
        .as_ref()
        .map(|l| dtb::Region::new(l.addr, l.fdt.total_size() as u64))
        .ok();
    // A guest archive the firmware loaded (Raspberry Pi: `initramfs
    // guest.cpio followkernel`), named in the host DTB's /chosen.
    let archive = located
        .as_ref()
        .ok()
        .and_then(|l| rpi_boot::initrd::find(&l.fdt).ok().flatten());
    let mut free =
        memory::free_memory(&host, dtb_region, archive).unwrap_or_else(|e| fatal("memory", e));
    let heap = free
        .take(HEAP_SIZE, memory::image_range().1)
        .unwrap_or_else(|| {
            fatal(
                "memory",
                format_args!("no room for a {} MiB heap", HEAP_SIZE >> 20),
            )
        });
    heap::init(heap);
    log::info!("memory: heap {} MiB at {:#x}", heap.size >> 20, heap.base);

    let disk = storage::HostDisk::probe(&host);
    if let Ok(disk) = &disk {
        log::info!(
            "disk: virtio-blk ({}) at {:#x}, {} MiB",
            if disk.legacy { "legacy" } else { "modern" },
            disk.base,
            disk.capacity_blocks() >> 11
        );
    }
    let source = match (archive, disk) {
        (Some(region), disk) => vm::build::GuestSource::Archive {
            region,
            disk: disk.ok(),
        },
        (None, Ok(disk)) => vm::build::GuestSource::Disk(disk),
        (None, Err(e)) => fatal("disk", e),
    };

    let gic = gic::init(&host).unwrap_or_else(|e| fatal("GIC", e));
    let (vm, entry) = vm::build::build(&host, source, &mut free, || epoch.elapsed_ms(&regs))
        .unwrap_or_else(|e| fatal("guest", e));
    // The GDB stub, resident on the console UART from here on.
    debug::init(vm);
    if let Some(intid) = host.uart.as_ref().and_then(|u| u.intid) {
        // The CPU interface number (GICv2) is learnt here, before routing.
        gic.init_cpu(0, arch_hal::el2::mpidr(), &[])
            .unwrap_or_else(|e| fatal("GIC", e));
        gic.enable_spi(intid, 0, arch_hal::el2::mpidr());
        console::enable_rx_interrupt(intid);
    }
    log::info!(
        "boot: entering the guest at IPA {:#x} (DTB {:#x}), {} vCPUs, heap {} KiB used",
        entry.kernel,
        entry.dtb,
        vm.vcpus,
        heap::used() >> 10
    );
    let frame = arch_hal::exception::TrapFrame::guest_entry(
        entry.kernel,
        entry.dtb,
        arch_hal::el2::GUEST_ENTRY_SPSR,
    );
    vm::cpu::enter(vm, &gic, 0, frame)
}

/// A secondary CPU started for the guest's PSCI CPU_ON (see cpus.rs).
#[no_mangle]
extern "C" fn hyp_secondary_main(index: usize) -> ! {
    let (ttbr, tcr) = cpus::mmu_params();
    // SAFETY: the boot CPU's identity map, complete and written back before
    // this CPU was started; this CPU's MMU is off.
    unsafe { arch_hal::mmu::enable_el2_at(ttbr, tcr) };
    arch_hal::el2::set_cpu_index(index);
    let Some(vm) = vm::get() else {
        panic!("CPU {index} started before the VM exists");
    };
    let gic = gic::get().unwrap_or_else(|| panic!("CPU {index}: GIC not initialised"));
    vm::cpu::enter(vm, &gic, index, cpus::guest_entry(index))
}

/// The hypervisor's own heap: DTB copies, virtio queues, the guest DTB.
const HEAP_SIZE: u64 = 16 << 20;

/// A boot stage failed: one line saying which and why, then power off.
fn fatal(stage: &str, err: impl core::fmt::Display) -> ! {
    log::error!("{stage}: {err}");
    log::info!("boot: cannot continue; powering off");
    power::off()
}
