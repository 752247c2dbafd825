//! Powering the machine off through the firmware's PSCI.

use arch_hal::psci::{self, Conduit};
use core::sync::atomic::{AtomicBool, Ordering};

/// True when the DTB asked for HVC. At EL2 an HVC would trap to ourselves, so
/// the hypervisor always calls the firmware with SMC; this only records it.
static DTB_SAID_HVC: AtomicBool = AtomicBool::new(false);

pub fn set_conduit(conduit: Option<dtb::PsciConduit>) {
    DTB_SAID_HVC.store(
        matches!(conduit, Some(dtb::PsciConduit::Hvc)),
        Ordering::Relaxed,
    );
}

/// The conduit for the hypervisor's own PSCI calls.
pub fn conduit() -> Conduit {
    Conduit::Smc
}

pub fn dtb_said_hvc() -> bool {
    DTB_SAID_HVC.load(Ordering::Relaxed)
}

/// Flushes the console and powers off.
pub fn off() -> ! {
    crate::console::flush();
    psci::system_off(conduit())
}

/// Powers off when no console could be found to say why.
pub fn off_without_console() -> ! {
    psci::system_off(conduit())
}
