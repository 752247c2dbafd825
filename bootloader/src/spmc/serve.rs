//! The per-core message loop: each SMC returns the answer to the previous
//! message and brings the next one (FF-A §10.2: the SPMC runs only when the
//! SPMD hands it a message).

use super::console;
use arch_hal::smccc::smc8;
use hyp_core::ffa::abi::{self, FfaError, FFA_MSG_WAIT};
use hyp_core::ffa::spmc::{handle, Event};

pub fn serve(core: u64) -> ! {
    // The first FFA_MSG_WAIT tells the SPMD this core finished its set-up.
    let mut next = [FFA_MSG_WAIT as u64, 0, 0, 0, 0, 0, 0, 0];
    loop {
        let msg = smc8(next);
        let (reply, event) = handle(&msg);
        match event {
            Event::None => {}
            Event::CpuOff => {
                console::line(format_args!("core {core}: powering off (PSCI CPU_OFF)"))
            }
            Event::Unsupported(fid) => {
                console::line(format_args!("core {core}: {fid:#x} not supported"))
            }
        }
        next = reply;
    }
}

/// Initialisation failed: tell the SPMD (FFA_ERROR instead of
/// FFA_MSG_WAIT), which then boots the normal world without an SPMC.
pub fn fail_init() -> ! {
    smc8(abi::error(FfaError::Aborted));
    arch_hal::psci::park()
}
