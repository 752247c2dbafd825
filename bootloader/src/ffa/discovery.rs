//! How the normal-world hypervisor finds out whether an FF-A SPMC sits
//! below it, without ever making a call the firmware might not survive:
//! PSCI_FEATURES(SMCCC_VERSION) first (every PSCI 1.0 firmware answers it,
//! DEN0022E §5.1.14), then SMCCC_VERSION, which promises that unknown
//! function IDs return NOT_SUPPORTED (DEN0028 §7.2) and so makes
//! FFA_VERSION safe to try. QEMU's built-in PSCI (no EL3) stops at step 1.

use super::abi::{
    Regs, FFA_FEATURES, FFA_ID_GET, FFA_MSG_SEND_DIRECT_REQ_32, FFA_SPM_ID_GET, FFA_SUCCESS_32,
    FFA_SUCCESS_64, FFA_VERSION, VERSION_1_1,
};

pub const PSCI_FEATURES: u64 = 0x8400_000a;
pub const SMCCC_VERSION: u64 = 0x8000_0000;

/// What the normal world learnt about FF-A.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discovery {
    /// The firmware does not implement SMCCC v1.1+ discovery.
    NoSmccc,
    /// SMCCC is there but FFA_VERSION is not.
    NoFfa {
        smccc: u32,
    },
    Present(Ffa),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ffa {
    pub version: u32,
    pub own_id: Option<u16>,
    pub spmc_id: Option<u16>,
    pub direct_messaging: bool,
}

fn ok(r: &Regs) -> Option<u64> {
    matches!(r[0] as u32, FFA_SUCCESS_32 | FFA_SUCCESS_64).then_some(r[2])
}

/// Runs the discovery with `call` making one SMC.
pub fn discover(mut call: impl FnMut(Regs) -> Regs) -> Discovery {
    let mut one = |x0: u64, x1: u64| call([x0, x1, 0, 0, 0, 0, 0, 0]);
    if one(PSCI_FEATURES, SMCCC_VERSION)[0] as i32 != 0 {
        return Discovery::NoSmccc;
    }
    let smccc = one(SMCCC_VERSION, 0)[0] as u32;
    if (smccc as i32) < 0x1_0001 {
        return Discovery::NoSmccc;
    }
    let version = one(FFA_VERSION as u64, VERSION_1_1 as u64)[0] as u32;
    if version as i32 <= 0 || version >> 16 != 1 {
        return Discovery::NoFfa { smccc };
    }
    Discovery::Present(Ffa {
        version,
        own_id: ok(&one(FFA_ID_GET as u64, 0)).map(|v| v as u16),
        spmc_id: ok(&one(FFA_SPM_ID_GET as u64, 0)).map(|v| v as u16),
        direct_messaging: ok(&one(FFA_FEATURES as u64, FFA_MSG_SEND_DIRECT_REQ_32 as u64))
            .is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_psci_without_el3_stops_at_psci_features() {
        let mut calls = Vec::new();
        let d = discover(|r| {
            calls.push(r[0]);
            [u64::MAX, 0, 0, 0, 0, 0, 0, 0] // NOT_SUPPORTED
        });
        assert_eq!(d, Discovery::NoSmccc);
        assert_eq!(calls, vec![PSCI_FEATURES]);
    }

    #[test]
    fn tf_a_without_spmd() {
        let d = discover(|r| match r[0] {
            PSCI_FEATURES => [0; 8],
            SMCCC_VERSION => [0x1_0002, 0, 0, 0, 0, 0, 0, 0],
            _ => [u64::MAX, 0, 0, 0, 0, 0, 0, 0],
        });
        assert_eq!(d, Discovery::NoFfa { smccc: 0x1_0002 });
    }

    #[test]
    fn spmc_present() {
        let d = discover(|r| match r[0] as u32 {
            0x8400_000a => [0; 8],
            0x8000_0000 => [0x1_0002, 0, 0, 0, 0, 0, 0, 0],
            FFA_VERSION => [0x1_0001, 0, 0, 0, 0, 0, 0, 0],
            FFA_ID_GET => [FFA_SUCCESS_32 as u64, 0, 0, 0, 0, 0, 0, 0],
            FFA_SPM_ID_GET => [FFA_SUCCESS_32 as u64, 0, 0x8000, 0, 0, 0, 0, 0],
            FFA_FEATURES => [FFA_SUCCESS_32 as u64, 0, 0, 0, 0, 0, 0, 0],
            _ => [u64::MAX, 0, 0, 0, 0, 0, 0, 0],
        });
        assert_eq!(
            d,
            Discovery::Present(Ffa {
                version: 0x1_0001,
                own_id: Some(0),
                spmc_id: Some(0x8000),
                direct_messaging: true
            })
        );
    }
}
