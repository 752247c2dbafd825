//! SMC calls that pass and return eight registers (x0-x7), as FF-A does
//! (DEN0077A §7.1, on SMCCC DEN0028 §2.6). x8-x17 may be clobbered by
//! SMCCC v1.0 firmware, so they are declared so.

/// Makes `SMC #0` with x0..x7 = `args`; returns x0..x7 as the firmware (or,
/// for an SPMC, the next message from the SPMD) left them.
#[cfg(target_arch = "aarch64")]
pub fn smc8(args: [u64; 8]) -> [u64; 8] {
    let mut r = args;
    // SAFETY: an SMC changes only the registers declared here; FF-A and
    // SMCCC calls never touch our memory except through buffers the caller
    // shared on purpose (none in this call's arguments by itself).
    unsafe {
        core::arch::asm!(
            "smc #0",
            inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
            inout("x4") r[4], inout("x5") r[5], inout("x6") r[6], inout("x7") r[7],
            out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
            out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            options(nostack)
        )
    };
    r
}
