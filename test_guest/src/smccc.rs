//! SMC Calling Convention (Arm DEN0028) calls through HVC and SMC, and the
//! PSCI functions the test guest uses (Arm DEN0022).

pub const PSCI_VERSION: u64 = 0x8400_0000;
pub const PSCI_CPU_ON: u64 = 0xc400_0003;
pub const PSCI_AFFINITY_INFO: u64 = 0xc400_0004;
pub const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
pub const PSCI_FEATURES: u64 = 0x8400_000a;

pub const NOT_SUPPORTED: u64 = -1i64 as u64;
pub const INVALID_PARAMETERS: u64 = -2i64 as u64;
pub const INVALID_ADDRESS: u64 = -9i64 as u64;

/// An SMCCC call through `$insn`; x4..x17 may be clobbered (SMCCC v1.0).
macro_rules! smccc_call {
    ($insn:literal, $fid:expr, $a1:expr, $a2:expr, $a3:expr) => {{
        let r: u64;
        // SAFETY: the call only changes registers (declared here) or powers
        // the machine off; the hypervisor traps both HVC and SMC.
        unsafe {
            core::arch::asm!(
                $insn,
                inout("x0") $fid => r,
                inout("x1") $a1 => _,
                inout("x2") $a2 => _,
                inout("x3") $a3 => _,
                lateout("x4") _, lateout("x5") _, lateout("x6") _, lateout("x7") _,
                lateout("x8") _, lateout("x9") _, lateout("x10") _, lateout("x11") _,
                lateout("x12") _, lateout("x13") _, lateout("x14") _, lateout("x15") _,
                lateout("x16") _, lateout("x17") _,
                options(nostack)
            )
        };
        r
    }};
}

/// A call through `HVC #0` (SMCCC §2.5).
pub fn hvc(fid: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    smccc_call!("hvc #0", fid, a1, a2, a3)
}

/// A call through `SMC #0`; the hypervisor traps it (HCR_EL2.TSC).
pub fn smc(fid: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    smccc_call!("smc #0", fid, a1, a2, a3)
}

pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> u64 {
    hvc(PSCI_CPU_ON, mpidr, entry, context)
}

pub fn system_off() -> ! {
    hvc(PSCI_SYSTEM_OFF, 0, 0, 0);
    // SYSTEM_OFF does not return; if it did, stop here visibly.
    crate::println!("test-guest: PSCI SYSTEM_OFF returned");
    loop {
        core::hint::spin_loop();
    }
}

/// An FF-A call through `SMC #0` with eight argument and result registers
/// (DEN0077A §7.1), the same wrapper the hypervisor uses.
pub use arch_hal::smccc::smc8;
