//! FF-A v1.1 function IDs, status codes and register conventions
//! (DEN0077A §7 "ABI summary", §8.x per interface). Calls use SMC32 IDs
//! unless the interface takes 64-bit addresses or payloads.

pub const FFA_ERROR: u32 = 0x8400_0060;
pub const FFA_SUCCESS_32: u32 = 0x8400_0061;
pub const FFA_SUCCESS_64: u32 = 0xc400_0061;
pub const FFA_INTERRUPT: u32 = 0x8400_0062;
pub const FFA_VERSION: u32 = 0x8400_0063;
pub const FFA_FEATURES: u32 = 0x8400_0064;
pub const FFA_RX_RELEASE: u32 = 0x8400_0065;
pub const FFA_RXTX_MAP_64: u32 = 0xc400_0066;
pub const FFA_RXTX_UNMAP: u32 = 0x8400_0067;
pub const FFA_PARTITION_INFO_GET: u32 = 0x8400_0068;
pub const FFA_ID_GET: u32 = 0x8400_0069;
pub const FFA_MSG_WAIT: u32 = 0x8400_006b;
pub const FFA_RUN: u32 = 0x8400_006d;
pub const FFA_MSG_SEND_DIRECT_REQ_32: u32 = 0x8400_006f;
pub const FFA_MSG_SEND_DIRECT_REQ_64: u32 = 0xc400_006f;
pub const FFA_MSG_SEND_DIRECT_RESP_32: u32 = 0x8400_0070;
pub const FFA_MSG_SEND_DIRECT_RESP_64: u32 = 0xc400_0070;
pub const FFA_SPM_ID_GET: u32 = 0x8400_0085;
pub const FFA_SECONDARY_EP_REGISTER_64: u32 = 0xc400_0087;

/// FF-A status codes (§7.2, Table 7.3), returned in w2 of FFA_ERROR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FfaError {
    NotSupported,
    InvalidParameters,
    NoMemory,
    Busy,
    Interrupted,
    Denied,
    Retry,
    Aborted,
    NoData,
}

impl FfaError {
    pub const fn code(self) -> i32 {
        match self {
            Self::NotSupported => -1,
            Self::InvalidParameters => -2,
            Self::NoMemory => -3,
            Self::Busy => -4,
            Self::Interrupted => -5,
            Self::Denied => -6,
            Self::Retry => -7,
            Self::Aborted => -8,
            Self::NoData => -9,
        }
    }
}

/// Version 1.1: major in bits [30:16], minor in [15:0] (§8.1).
pub const VERSION_1_1: u32 = (1 << 16) | 1;
/// Our endpoint ID as the SPMC (the manifest's `spmc_id`, scripts/tfa/).
pub const SPMC_ID: u16 = 0x8000;

/// w2 of a direct message: bit 31 marks a framework message, bits [7:0]
/// its type (§18.3 "Framework messages"; TF-A's SPMD uses type 0 for a
/// PSCI request and 2 for the power-management response).
pub const FWK_MSG_BIT: u32 = 1 << 31;
pub const FWK_MSG_TYPE_MASK: u32 = 0xff;
pub const FWK_MSG_PSCI: u32 = 0;
pub const FWK_MSG_PM_RESP: u32 = 2;
/// The SPMD asks the SPMC's FF-A version on behalf of a normal-world
/// FFA_VERSION call (TF-A 2.12 `SPMD_FWK_MSG_FFA_VERSION_REQ/RESP`; the
/// caller's version in w3, ours back in w3).
pub const FWK_MSG_VERSION_REQ: u32 = 8;
pub const FWK_MSG_VERSION_RESP: u32 = 9;

/// PSCI CPU_OFF, as the SPMD forwards it in a framework message.
pub const PSCI_CPU_OFF: u32 = 0x8400_0002;

/// Eight argument/result registers, x0..x7 (§7.1: FF-A ABIs use x0-x7).
pub type Regs = [u64; 8];

/// The sender and receiver endpoint IDs in w1 of a direct message
/// (sender in [31:16], receiver in [15:0]).
pub const fn endpoints(w1: u64) -> (u16, u16) {
    ((w1 >> 16) as u16, w1 as u16)
}

pub const fn endpoints_word(sender: u16, receiver: u16) -> u64 {
    ((sender as u64) << 16) | receiver as u64
}

/// FFA_ERROR with `e` (w2 holds the code as a signed 32-bit value).
pub const fn error(e: FfaError) -> Regs {
    [FFA_ERROR as u64, 0, e.code() as u32 as u64, 0, 0, 0, 0, 0]
}

/// FFA_SUCCESS (32-bit form) with `w2` as its result.
pub const fn success(w2: u64) -> Regs {
    [FFA_SUCCESS_32 as u64, 0, w2, 0, 0, 0, 0, 0]
}
