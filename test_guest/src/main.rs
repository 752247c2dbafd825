//! A bare-metal guest for the hypervisor's own tests, loaded like a Linux
//! Image. `bootargs` chooses what it does:
//! - `mode=bench`: exit-cost micro-benchmarks timed with CNTVCT (`cargo
//!   xtask bench` parses its `bench-exit:` lines);
//! - `mode=hostile`: attacks on the hypervisor that must each be refused or
//!   contained (`cargo xtest` checks its `hostile:` lines and the
//!   hypervisor's log);
//! - `mode=ffa`: FF-A conformance cases through the hypervisor's FF-A proxy
//!   to the SPMC (the secure variant's test).
//!
//! Either way it ends with PSCI SYSTEM_OFF; a failure prints
//! `test-guest: FAIL:` first.
#![no_std]
#![no_main]

mod bench;
mod cpu;
mod ffa;
mod gic;
mod hostile;
mod mmio;
mod platform;
mod secondary;
mod smccc;
mod start;
mod traps;
mod uart;

use platform::{Mode, Platform};

#[no_mangle]
extern "C" fn guest_main(dtb: usize) -> ! {
    let plat = match Platform::from_dtb(dtb) {
        Ok(p) => p,
        Err(e) => {
            // The UART's usual address: the best we can do without a DTB.
            println!("test-guest: FAIL: {e}");
            smccc::system_off()
        }
    };
    uart::init(plat.uart);
    println!(
        "test-guest: {:?} mode, {} CPUs, RAM {:#x}..{:#x}, counter {} Hz",
        plat.mode,
        plat.cpus,
        plat.ram_base,
        plat.ram_end(),
        cpu::counter_hz()
    );
    gic::init_distributor(plat.gicd);
    if let Err(e) = gic::init_cpu(plat.gicr_of(0)) {
        println!("test-guest: FAIL: CPU 0: {e}");
        smccc::system_off();
    }
    match plat.mode {
        Mode::Bench => bench::run(&plat),
        Mode::Hostile => hostile::run(&plat),
        Mode::Ffa => ffa::run(),
    }
    smccc::system_off()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("test-guest: FAIL: panic: {info}");
    smccc::system_off()
}
