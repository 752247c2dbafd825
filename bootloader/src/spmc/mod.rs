//! The SPMC's boot and message loop (see `entry.rs` for how TF-A enters).

pub mod console;
mod entry;
mod heap;
mod mmu;
mod serve;

use arch_hal::exception::{TrapFrame, TrapKind};
use arch_hal::smccc::smc8;
use arch_hal::sysreg::{HwSysRegs, SysRegs};
use hyp_core::ffa::abi::{self, FFA_SECONDARY_EP_REGISTER_64, FFA_SUCCESS_32, FFA_SUCCESS_64};

/// QEMU virt's first PL011: TF-A's boot console, also reachable from the
/// secure world. Used when neither DTB argument names a UART.
const DEFAULT_UART: usize = 0x0900_0000;

/// Cold boot on the primary core: x0/x1 as the SPMD passed them (a DTB
/// among them on QEMU), `core` its linear core number.
#[no_mangle]
extern "C" fn spmc_main(x0: u64, x1: u64, core: u64) -> ! {
    let uart = console::find_uart(&[x0, x1]).unwrap_or(DEFAULT_UART);
    console::init(uart);
    arch_hal::exception::set_handler(unexpected_exception);
    console::line(format_args!(
        "elf-spmc {} at S-EL{}, core {core}: FF-A v{}.{}, SPMC id {:#x}",
        env!("CARGO_PKG_VERSION"),
        HwSysRegs.current_el(),
        abi::VERSION_1_1 >> 16,
        abi::VERSION_1_1 & 0xffff,
        abi::SPMC_ID
    ));
    if let Err(e) = mmu::enable_primary() {
        console::line(format_args!("error: S-EL2 MMU: {e}; refusing to start"));
        serve::fail_init()
    }
    let reply = smc8([
        FFA_SECONDARY_EP_REGISTER_64 as u64,
        entry::secondary_entry(),
        0,
        0,
        0,
        0,
        0,
        0,
    ]);
    match reply[0] as u32 {
        FFA_SUCCESS_32 | FFA_SUCCESS_64 => {}
        _ => console::line(format_args!(
            "warning: FFA_SECONDARY_EP_REGISTER answered {:#x} {:#x}: secondaries enter at the cold entry",
            reply[0], reply[2]
        )),
    }
    console::line(format_args!("core {core}: init done, waiting for messages"));
    serve::serve(core)
}

/// A secondary core the normal world powered on (PSCI CPU_ON), entered at
/// the address we registered.
#[no_mangle]
extern "C" fn spmc_secondary_main(core: u64) -> ! {
    mmu::enable_secondary();
    console::line(format_args!("core {core}: up"));
    serve::serve(core)
}

/// The SPMC takes no exceptions yet (no partitions, interrupts masked):
/// any one is a bug. Say where, then stop this core.
fn unexpected_exception(frame: &mut TrapFrame, kind: TrapKind) {
    console::line(format_args!(
        "!!! PANIC: unexpected {kind:?} exception: ESR {:#x}, ELR {:#x}, FAR {:#x}",
        frame.esr, frame.elr, frame.far
    ));
    arch_hal::psci::park()
}
