//! The start-up banner. Its lines are exact markers for the boot tests, so
//! they carry no timestamps.

use crate::println;

pub fn print(host: &dtb::HostInfo, current_el: u8) {
    println!();
    println!(
        "elf-hypervisor {} (git {})",
        env!("CARGO_PKG_VERSION"),
        env!("HYP_GIT_REV")
    );
    println!("CurrentEL: EL{current_el}");
    println!("CPUs: {}", host.cpu_count);
    println!("memory: {} MiB", host.total_memory() >> 20);
    for region in host.memory.iter() {
        println!("  RAM {:#x}..{:#x}", region.base, region.end());
    }
    if let Some(uart) = host.uart.as_ref() {
        println!("console: PL011 at {:#x}", uart.base);
    }
    if let Some(gic) = host.gic.as_ref() {
        let version = match gic.version {
            dtb::GicVersion::V2 => 2,
            dtb::GicVersion::V3 => 3,
        };
        println!(
            "GIC: v{version}, distributor at {:#x}",
            gic.distributor.base
        );
    }
    if crate::power::dtb_said_hvc() {
        println!("note: DTB names PSCI method hvc; EL2 calls firmware with smc");
    }
}
