use super::abi::*;
use super::spmc::{handle, Event};

fn req(x: [u64; 4]) -> Regs {
    [x[0], x[1], x[2], x[3], 0, 0, 0, 0]
}

#[test]
fn version_negotiation() {
    let (r, _) = handle(&req([FFA_VERSION as u64, 0x1_0001, 0, 0]));
    assert_eq!(r[0], 0x1_0001);
    let (r, _) = handle(&req([FFA_VERSION as u64, 0x1_0000, 0, 0]));
    assert_eq!(r[0], 0x1_0001);
    // Major 2, or bit 31 set: NOT_SUPPORTED in w0 (§8.1).
    let (r, _) = handle(&req([FFA_VERSION as u64, 0x2_0000, 0, 0]));
    assert_eq!(r[0] as u32 as i32, -1);
    let (r, _) = handle(&req([FFA_VERSION as u64, 0x8001_0001, 0, 0]));
    assert_eq!(r[0] as u32 as i32, -1);
}

#[test]
fn features_and_ids() {
    let (r, _) = handle(&req([FFA_FEATURES as u64, FFA_VERSION as u64, 0, 0]));
    assert_eq!(r[0] as u32, FFA_SUCCESS_32);
    let (r, _) = handle(&req([FFA_FEATURES as u64, 0x8400_00ff, 0, 0]));
    assert_eq!(r, error(FfaError::NotSupported));
    let (r, _) = handle(&req([FFA_SPM_ID_GET as u64, 0, 0, 0]));
    assert_eq!((r[0] as u32, r[2]), (FFA_SUCCESS_32, 0x8000));
}

#[test]
fn cpu_off_framework_message() {
    let w1 = endpoints_word(0xffff, SPMC_ID);
    let (r, e) = handle(&req([
        FFA_MSG_SEND_DIRECT_REQ_32 as u64,
        w1,
        FWK_MSG_BIT as u64,
        PSCI_CPU_OFF as u64,
    ]));
    assert_eq!(e, Event::CpuOff);
    assert_eq!(r[0] as u32, FFA_MSG_SEND_DIRECT_RESP_32);
    assert_eq!(endpoints(r[1]), (SPMC_ID, 0xffff));
    assert_eq!(r[2] as u32, FWK_MSG_BIT | FWK_MSG_PM_RESP);
    assert_eq!(r[3], 0);
}

#[test]
fn refusals() {
    // A non-framework message to the SPMC, one to a partition that does
    // not exist, and an unknown ABI.
    let w1 = endpoints_word(0, SPMC_ID);
    let (r, _) = handle(&req([FFA_MSG_SEND_DIRECT_REQ_32 as u64, w1, 0, 7]));
    assert_eq!(r, error(FfaError::NotSupported));
    let w1 = endpoints_word(0, 0x8001);
    let (r, _) = handle(&req([FFA_MSG_SEND_DIRECT_REQ_64 as u64, w1, 0, 7]));
    assert_eq!(r, error(FfaError::InvalidParameters));
    let (r, e) = handle(&req([0x8400_0099, 0, 0, 0]));
    assert_eq!(r, error(FfaError::NotSupported));
    assert_eq!(e, Event::Unsupported(0x8400_0099));
    assert_eq!(error(FfaError::Denied)[2], 0xffff_fffa);
}

#[test]
fn version_framework_message() {
    // TF-A's SPMD forwards a normal-world FFA_VERSION this way.
    let w1 = endpoints_word(0xffff, SPMC_ID);
    let ask = |v: u64| {
        handle(&req([
            FFA_MSG_SEND_DIRECT_REQ_32 as u64,
            w1,
            (FWK_MSG_BIT | FWK_MSG_VERSION_REQ) as u64,
            v,
        ]))
        .0
    };
    let r = ask(0x1_0001);
    assert_eq!(r[0] as u32, FFA_MSG_SEND_DIRECT_RESP_32);
    assert_eq!(endpoints(r[1]), (SPMC_ID, 0xffff));
    assert_eq!(r[2] as u32, FWK_MSG_BIT | FWK_MSG_VERSION_RESP);
    assert_eq!(r[3], 0x1_0001);
    assert_eq!(ask(0x2_0000)[3] as u32 as i32, -1);
}
