//! PSCI (Arm DEN0022, "Power State Coordination Interface") as a caller.
//!
//! The hypervisor calls the firmware's PSCI to power off and, later, to start
//! secondary CPUs. Function IDs are from DEN0022E §5.1 (SMC64 where the call
//! takes addresses).

/// How PSCI calls reach the firmware (the DTB's `psci` node, `method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduit {
    Smc,
    Hvc,
}

pub const PSCI_VERSION: u32 = 0x8400_0000;
pub const CPU_OFF: u32 = 0x8400_0002;
pub const CPU_ON_64: u32 = 0xC400_0003;
pub const AFFINITY_INFO_64: u32 = 0xC400_0004;
pub const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
pub const SYSTEM_OFF: u32 = 0x8400_0008;
pub const SYSTEM_RESET: u32 = 0x8400_0009;
pub const PSCI_FEATURES: u32 = 0x8400_000A;

/// PSCI return codes (DEN0022E §5.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciError {
    NotSupported,
    InvalidParameters,
    Denied,
    AlreadyOn,
    OnPending,
    InternalFailure,
    NotPresent,
    Disabled,
    InvalidAddress,
    Unknown(i64),
}

impl PsciError {
    pub const fn code(self) -> i64 {
        match self {
            Self::NotSupported => -1,
            Self::InvalidParameters => -2,
            Self::Denied => -3,
            Self::AlreadyOn => -4,
            Self::OnPending => -5,
            Self::InternalFailure => -6,
            Self::NotPresent => -7,
            Self::Disabled => -8,
            Self::InvalidAddress => -9,
            Self::Unknown(c) => c,
        }
    }

    /// Interprets a returned x0: non-negative values are success.
    pub fn check(ret: u64) -> Result<u64, PsciError> {
        Err(match ret as i64 {
            c if c >= 0 => return Ok(ret),
            -1 => Self::NotSupported,
            -2 => Self::InvalidParameters,
            -3 => Self::Denied,
            -4 => Self::AlreadyOn,
            -5 => Self::OnPending,
            -6 => Self::InternalFailure,
            -7 => Self::NotPresent,
            -8 => Self::Disabled,
            -9 => Self::InvalidAddress,
            c => Self::Unknown(c),
        })
    }
}

/// Issues an SMCCC call with up to three arguments and returns x0.
///
/// # Safety
/// The caller must know that `function` with these arguments is safe to run
/// in the current state: CPU_ON, for example, starts code at an address.
#[cfg(target_arch = "aarch64")]
pub unsafe fn call(conduit: Conduit, function: u32, a1: u64, a2: u64, a3: u64) -> u64 {
    let mut x0 = function as u64;
    // SAFETY: SMCCC v1.1+ (DEN0028 §2.6) preserves x4-x17 and the stack; we
    // still declare x1-x17 clobbered so that older firmware is safe too.
    unsafe {
        match conduit {
            Conduit::Smc => core::arch::asm!(
                "smc #0",
                inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
                out("x15") _, out("x16") _, out("x17") _,
                options(nostack)
            ),
            Conduit::Hvc => core::arch::asm!(
                "hvc #0",
                inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
                out("x15") _, out("x16") _, out("x17") _,
                options(nostack)
            ),
        }
    }
    x0
}

/// Powers the system off. If the firmware refuses or returns (it must not),
/// the CPU parks in a low-power loop with interrupts masked: there is nothing
/// left to run.
#[cfg(target_arch = "aarch64")]
pub fn system_off(conduit: Conduit) -> ! {
    // SAFETY: SYSTEM_OFF takes no arguments and does not return on success.
    unsafe {
        call(conduit, SYSTEM_OFF, 0, 0, 0);
    }
    park()
}

/// Stops this CPU for good with interrupts masked.
#[cfg(target_arch = "aarch64")]
pub fn park() -> ! {
    loop {
        // SAFETY: masking interrupts and waiting has no memory effects.
        unsafe { core::arch::asm!("msr daifset, #0xf", "wfi", options(nomem, nostack)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_return_codes() {
        assert_eq!(PsciError::check(0), Ok(0));
        assert_eq!(PsciError::check(0x1_0001), Ok(0x1_0001));
        assert_eq!(PsciError::check(-1i64 as u64), Err(PsciError::NotSupported));
        assert_eq!(
            PsciError::check(-9i64 as u64),
            Err(PsciError::InvalidAddress)
        );
        assert_eq!(
            PsciError::check(-42i64 as u64),
            Err(PsciError::Unknown(-42))
        );
        for e in [PsciError::Denied, PsciError::AlreadyOn, PsciError::Disabled] {
            assert_eq!(PsciError::check(e.code() as u64), Err(e));
        }
    }
}
