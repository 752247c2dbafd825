//! The normal-world hypervisor as its guests' FF-A implementation (DEN0077A
//! §4.3: a hypervisor "proxies" its VMs' FF-A calls to the SPMC). A guest's
//! FF-A call is either answered here or forwarded to the SPMC after the
//! hypervisor has checked and rewritten it: a guest can only speak as its
//! own endpoint ID, only to secure endpoints, never with framework bits,
//! and only through the interfaces listed here. Everything else is
//! NOT_SUPPORTED, so nothing unchecked reaches the secure world.

use super::abi::*;
use super::discovery::Ffa;

/// What to do with a guest's FF-A call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Return these registers to the guest.
    Reply(Regs),
    /// Make this SMC to the SPMD and return its result to the guest.
    Forward(Regs),
}

/// First ID of secure endpoints (§5.1: bit 15 set = secure world).
const SECURE_ENDPOINT: u16 = 0x8000;

/// The interfaces a guest can use through us (FFA_FEATURES answers these).
const PROXIED: &[u32] = &[
    FFA_VERSION,
    FFA_FEATURES,
    FFA_ID_GET,
    FFA_SPM_ID_GET,
    FFA_MSG_SEND_DIRECT_REQ_32,
    FFA_MSG_SEND_DIRECT_REQ_64,
];

/// True for function IDs in the FF-A range (SMC32 and SMC64 forms,
/// 0x60..=0xff in the standard secure service space, §7.1).
pub const fn is_ffa(fid: u64) -> bool {
    let f = fid as u32;
    (f & 0xbfff_ff00) == 0x8400_0000 && (f & 0xff) >= 0x60 && fid >> 32 == 0
}

/// Decides what to do with the guest call `regs` from the VM with
/// endpoint ID `vm_id`; `spmc` is what discovery found (None: no FF-A).
pub fn guest_call(regs: &Regs, vm_id: u16, spmc: Option<&Ffa>) -> Action {
    let Some(spmc) = spmc else {
        // No FF-A below us: to the guest these are unknown SMCCC functions
        // (DEN0028 §7.2: x0 = NOT_SUPPORTED, -1).
        return Action::Reply([u64::MAX, 0, 0, 0, 0, 0, 0, 0]);
    };
    let fid = regs[0] as u32;
    match fid {
        FFA_VERSION => {
            let caller = regs[1] as u32;
            let v = if caller & (1 << 31) != 0 || caller >> 16 != 1 {
                FfaError::NotSupported.code() as u32
            } else {
                VERSION_1_1.min(spmc.version)
            };
            Action::Reply([v as u64, 0, 0, 0, 0, 0, 0, 0])
        }
        FFA_ID_GET => Action::Reply(success(vm_id as u64)),
        FFA_SPM_ID_GET => match spmc.spmc_id {
            Some(id) => Action::Reply(success(id as u64)),
            None => Action::Reply(error(FfaError::NotSupported)),
        },
        FFA_FEATURES => {
            let queried = regs[1] as u32;
            let direct = matches!(
                queried,
                FFA_MSG_SEND_DIRECT_REQ_32 | FFA_MSG_SEND_DIRECT_REQ_64
            );
            if PROXIED.contains(&queried) && (!direct || spmc.direct_messaging) {
                Action::Reply(success(0))
            } else {
                Action::Reply(error(FfaError::NotSupported))
            }
        }
        FFA_MSG_SEND_DIRECT_REQ_32 | FFA_MSG_SEND_DIRECT_REQ_64 => direct_request(regs, vm_id),
        _ => Action::Reply(error(FfaError::NotSupported)),
    }
}

fn direct_request(regs: &Regs, vm_id: u16) -> Action {
    let (sender, receiver) = endpoints(regs[1]);
    let flags = regs[2] as u32;
    // §15.3: the sender must be the caller; a guest cannot send framework
    // messages; we carry only VM-to-secure-partition messages.
    if sender != vm_id || flags & FWK_MSG_BIT != 0 || receiver < SECURE_ENDPOINT {
        return Action::Reply(error(FfaError::InvalidParameters));
    }
    let mut out = *regs;
    out[1] = endpoints_word(vm_id, receiver);
    Action::Forward(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPMC: Ffa = Ffa {
        version: VERSION_1_1,
        own_id: Some(0),
        spmc_id: Some(0x8000),
        direct_messaging: true,
    };

    fn call(x: [u64; 4]) -> Action {
        guest_call(&[x[0], x[1], x[2], x[3], 0, 0, 0, 0], 1, Some(&SPMC))
    }

    #[test]
    fn ffa_range() {
        assert!(is_ffa(0x8400_0063));
        assert!(is_ffa(0xc400_006f));
        assert!(!is_ffa(0x8400_0000)); // PSCI_VERSION
        assert!(!is_ffa(0xc400_0003)); // CPU_ON
        assert!(!is_ffa(0x8600_0063)); // another service
        assert!(!is_ffa(0x1_8400_0063));
    }

    #[test]
    fn answered_locally() {
        assert_eq!(
            call([FFA_VERSION as u64, 0x1_0000, 0, 0]),
            Action::Reply([0x1_0001, 0, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(
            call([FFA_ID_GET as u64, 0, 0, 0]),
            Action::Reply(success(1))
        );
        assert_eq!(
            call([FFA_SPM_ID_GET as u64, 0, 0, 0]),
            Action::Reply(success(0x8000))
        );
        assert_eq!(
            call([FFA_FEATURES as u64, FFA_MSG_SEND_DIRECT_REQ_32 as u64, 0, 0]),
            Action::Reply(success(0))
        );
        assert_eq!(
            call([FFA_FEATURES as u64, 0x8400_0073, 0, 0]),
            Action::Reply(error(FfaError::NotSupported))
        );
        // Without an SPMC every FF-A call is an unknown SMCCC function.
        assert_eq!(
            guest_call(&[FFA_VERSION as u64, 0x1_0001, 0, 0, 0, 0, 0, 0], 1, None),
            Action::Reply([u64::MAX, 0, 0, 0, 0, 0, 0, 0])
        );
    }

    #[test]
    fn direct_requests_are_checked_and_forwarded() {
        let req = |w1, w2| call([FFA_MSG_SEND_DIRECT_REQ_32 as u64, w1, w2, 42]);
        assert_eq!(
            req(endpoints_word(1, 0x8001), 0),
            Action::Forward([
                FFA_MSG_SEND_DIRECT_REQ_32 as u64,
                0x1_8001,
                0,
                42,
                0,
                0,
                0,
                0
            ])
        );
        let bad = Action::Reply(error(FfaError::InvalidParameters));
        assert_eq!(req(endpoints_word(0, 0x8001), 0), bad, "spoofed sender");
        assert_eq!(req(endpoints_word(1, 2), 0), bad, "VM to VM");
        assert_eq!(
            req(endpoints_word(1, 0x8000), FWK_MSG_BIT as u64),
            bad,
            "framework"
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for fid in [0x8400_0073u64, 0xc400_0066, 0x8400_006b, 0x8400_00ff] {
            assert_eq!(
                call([fid, 0, 0, 0]),
                Action::Reply(error(FfaError::NotSupported))
            );
        }
    }
}
