//! Deliberate failures, so the tests can prove that the failure paths print
//! a clear reason and power off instead of hanging.

use crate::boot_args::SelfTest;

/// `abort` loads from just past the end of RAM: mapped Device by our
/// identity map, answered by nothing on QEMU `virt`, so the access raises a
/// synchronous external abort.
pub fn run(test: SelfTest, host: &dtb::HostInfo) {
    let unbacked = host.memory.iter().map(|r| r.end()).max().unwrap_or(0) as usize;
    log::info!("selftest: {test:?}");
    match test {
        SelfTest::Panic => panic!("deliberate panic (selftest=panic)"),
        SelfTest::Abort => {
            // SAFETY: not safe in general: this load is meant to fault. The
            // exception vectors report it and power off; it never returns.
            let value = unsafe { core::ptr::read_volatile(unbacked as *const u32) };
            log::error!(
                "selftest: load from {unbacked:#x} returned {value:#x} instead of aborting"
            );
        }
    }
}
