//! FF-A in the normal-world hypervisor: what discovery found at boot, and
//! the guests' FF-A calls carried out per `hyp_core::ffa::proxy`'s verdict.

use hyp_core::ffa::discovery::{Discovery, Ffa};
use hyp_core::ffa::proxy::{self, Action};
use spin::Once;

/// The endpoint ID our (single) VM has towards the SPMC; 0 is ours.
pub const VM_ID: u16 = 1;

static SPMC: Once<Option<Ffa>> = Once::new();

/// Probes the firmware (once, at boot) and logs what it found.
pub fn init() {
    let d = hyp_core::ffa::discovery::discover(arch_hal::smccc::smc8);
    match d {
        Discovery::NoSmccc => log::info!("ffa: firmware has no SMCCC 1.1 discovery; no FF-A"),
        Discovery::NoFfa { smccc } => {
            log::info!("ffa: SMCCC v{}.{}, no FF-A", smccc >> 16, smccc & 0xffff)
        }
        Discovery::Present(f) => log::info!(
            "ffa: FF-A v{}.{}: our id {:?}, SPMC id {:?}, direct messaging {}",
            f.version >> 16,
            f.version & 0xffff,
            f.own_id,
            f.spmc_id,
            if f.direct_messaging {
                "supported"
            } else {
                "not supported"
            }
        ),
    }
    SPMC.call_once(|| match d {
        Discovery::Present(f) => Some(f),
        _ => None,
    });
}

pub fn is_ffa(fid: u64) -> bool {
    proxy::is_ffa(fid)
}

/// A guest FF-A call (x0..x7); returns the guest's x0..x7.
pub fn guest_call(regs: [u64; 8]) -> [u64; 8] {
    let spmc = SPMC.get().and_then(Option::as_ref);
    match proxy::guest_call(&regs, VM_ID, spmc) {
        Action::Reply(r) => r,
        Action::Forward(r) => arch_hal::smccc::smc8(r),
    }
}
