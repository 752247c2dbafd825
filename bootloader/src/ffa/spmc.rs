//! What the SPMC answers to each message the SPMD hands it: the registers
//! of the SMC it makes next (that SMC both returns the answer and waits for
//! the next message, §10.2 "SPMC-SPMD" run model). No secure partitions
//! are hosted yet, so partition-directed calls are refused.

use super::abi::*;

/// What the caller should also do besides replying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    None,
    /// The SPMD says this core is about to be powered off (PSCI CPU_OFF).
    CpuOff,
    /// A call we do not implement, for the log.
    Unsupported(u32),
}

/// The interfaces the SPMC implements (answered by FFA_FEATURES).
const SUPPORTED: &[u32] = &[
    FFA_ERROR,
    FFA_SUCCESS_32,
    FFA_SUCCESS_64,
    FFA_VERSION,
    FFA_FEATURES,
    FFA_ID_GET,
    FFA_SPM_ID_GET,
    FFA_MSG_SEND_DIRECT_REQ_32,
    FFA_MSG_SEND_DIRECT_REQ_64,
    FFA_MSG_SEND_DIRECT_RESP_32,
    FFA_MSG_SEND_DIRECT_RESP_64,
    FFA_MSG_WAIT,
];

/// Answers one message (x0..x7 as the SMC returned them).
pub fn handle(msg: &Regs) -> (Regs, Event) {
    let fid = msg[0] as u32;
    match fid {
        FFA_VERSION => {
            // §8.1: the caller passes its version (bit 31 must be zero);
            // any 1.x caller is compatible with us.
            let caller = msg[1] as u32;
            if caller & (1 << 31) != 0 || caller >> 16 != 1 {
                (
                    [
                        FfaError::NotSupported.code() as u32 as u64,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                    ],
                    Event::None,
                )
            } else {
                ([VERSION_1_1 as u64, 0, 0, 0, 0, 0, 0, 0], Event::None)
            }
        }
        FFA_FEATURES => {
            let queried = msg[1] as u32;
            if SUPPORTED.contains(&queried) {
                (success(0), Event::None)
            } else {
                (error(FfaError::NotSupported), Event::None)
            }
        }
        FFA_ID_GET | FFA_SPM_ID_GET => (success(SPMC_ID as u64), Event::None),
        FFA_MSG_SEND_DIRECT_REQ_32 | FFA_MSG_SEND_DIRECT_REQ_64 => direct_request(msg),
        other => (error(FfaError::NotSupported), Event::Unsupported(other)),
    }
}

fn direct_request(msg: &Regs) -> (Regs, Event) {
    let (sender, receiver) = endpoints(msg[1]);
    let flags = msg[2] as u32;
    if receiver != SPMC_ID {
        // No partitions yet: nobody else to deliver to (§15.2: an invalid
        // receiver is INVALID_PARAMETERS).
        return (error(FfaError::InvalidParameters), Event::None);
    }
    if flags & FWK_MSG_BIT == 0 {
        return (error(FfaError::NotSupported), Event::None);
    }
    let respond = |kind: u32, w3: u64| {
        [
            FFA_MSG_SEND_DIRECT_RESP_32 as u64,
            endpoints_word(receiver, sender),
            (FWK_MSG_BIT | kind) as u64,
            w3,
            0,
            0,
            0,
            0,
        ]
    };
    match flags & FWK_MSG_TYPE_MASK {
        FWK_MSG_PSCI => {}
        FWK_MSG_VERSION_REQ => {
            let (v, _) = handle(&[FFA_VERSION as u64, msg[3], 0, 0, 0, 0, 0, 0]);
            return (respond(FWK_MSG_VERSION_RESP, v[0]), Event::None);
        }
        _ => return (error(FfaError::NotSupported), Event::None),
    }
    if msg[3] as u32 != PSCI_CPU_OFF {
        // Other PSCI requests (e.g. CPU_SUSPEND) need nothing from us yet,
        // but only CPU_OFF is defined to reach the SPMC.
        return (error(FfaError::NotSupported), Event::None);
    }
    // PSCI_E_SUCCESS in w3.
    (respond(FWK_MSG_PM_RESP, 0), Event::CpuOff)
}
