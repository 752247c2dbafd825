//! elf-hypervisor: an AArch64 EL2 hypervisor and bootloader.
//!
//! This file only wires the boot stages together; each stage lives in its
//! own module. The order matters: until the MMU is on we run with caches off
//! and must not take spin locks (exclusives on Device memory), so the DTB is
//! located and parsed first, then the MMU is enabled, then the console.
#![no_std]
#![no_main]

mod banner;
mod boot_args;
mod console;
mod dtb_source;
mod entry;
mod logger;
mod memory;
mod panic;
mod power;
mod selftest;
mod trap;

use arch_hal::sysreg::{HwSysRegs, SysRegs};
use arch_hal::time::Epoch;

/// Called from `_start` on the boot CPU with the loader's argc/argv.
#[no_mangle]
extern "C" fn hyp_main(argc: u64, argv: *const *const u8) -> ! {
    let regs = HwSysRegs;
    let epoch = Epoch::now(&regs);

    // SAFETY: `_start` passes the loader's registers unchanged; U-Boot's
    // bootelf passes a valid argc/argv, and QEMU's ELF loader passes zeros.
    let arg = unsafe { boot_args::argument(argc, argv, 0) };
    // SAFETY: as above.
    let self_test = boot_args::self_test(unsafe { boot_args::argument(argc, argv, 1) });
    let located = dtb_source::locate(arg);
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
    console::init(uart.base as usize);
    logger::init(epoch);
    trap::install();

    if let Ok(found) = &located {
        dtb_source::log_source(found);
    }
    banner::print(&host, regs.current_el());
    log::info!("boot: DTB parsed, EL2 MMU on, console up");
    if let Some(test) = self_test {
        selftest::run(test, &host);
    }
    log::info!("boot: no guest loader in this build yet; powering off");
    power::off();
}
