//! FF-A conformance cases (`mode=ffa`), run by a VM through the
//! hypervisor's FF-A proxy to the SPMC below it (DEN0077A v1.1). Prints
//! `ffa: CASE: ... ok|FAIL` per case and `ffa: N cases, F failed`.

use crate::println;
use crate::smccc::smc8;

const FFA_ERROR: u64 = 0x8400_0060;
const FFA_SUCCESS_32: u64 = 0x8400_0061;
const FFA_VERSION: u64 = 0x8400_0063;
const FFA_FEATURES: u64 = 0x8400_0064;
const FFA_RXTX_MAP_64: u64 = 0xc400_0066;
const FFA_ID_GET: u64 = 0x8400_0069;
const FFA_MSG_SEND_DIRECT_REQ_32: u64 = 0x8400_006f;
const FFA_MEM_SHARE_32: u64 = 0x8400_0073;
const FFA_SPM_ID_GET: u64 = 0x8400_0085;

const NOT_SUPPORTED: i32 = -1;
const INVALID_PARAMETERS: i32 = -2;

/// Our endpoint ID as the hypervisor assigns it, and the SPMC's.
const OWN_ID: u64 = 1;
const SPMC_ID: u64 = 0x8000;

struct Tally {
    cases: u32,
    failed: u32,
}

impl Tally {
    fn check(&mut self, case: &str, ok: bool, r: &[u64; 8]) {
        self.cases += 1;
        self.failed += u32::from(!ok);
        println!(
            "ffa: {case}: x0 {:#x} x2 {:#x} x3 {:#x} {}",
            r[0],
            r[2],
            r[3],
            if ok { "ok" } else { "FAIL" }
        );
    }
}

fn call(x0: u64, x1: u64, x2: u64, x3: u64) -> [u64; 8] {
    smc8([x0, x1, x2, x3, 0, 0, 0, 0])
}

fn is_error(r: &[u64; 8], code: i32) -> bool {
    r[0] == FFA_ERROR && r[2] as u32 as i32 == code
}

fn is_success(r: &[u64; 8]) -> bool {
    r[0] == FFA_SUCCESS_32
}

pub fn run() {
    let mut t = Tally {
        cases: 0,
        failed: 0,
    };
    let r = call(FFA_VERSION, 0x1_0001, 0, 0);
    t.check("version-1.1", r[0] == 0x1_0001, &r);
    let r = call(FFA_VERSION, 0x2_0000, 0, 0);
    t.check(
        "version-2.0-refused",
        r[0] as u32 as i32 == NOT_SUPPORTED,
        &r,
    );
    let r = call(FFA_ID_GET, 0, 0, 0);
    t.check("id-get", is_success(&r) && r[2] == OWN_ID, &r);
    let r = call(FFA_SPM_ID_GET, 0, 0, 0);
    t.check("spm-id-get", is_success(&r) && r[2] == SPMC_ID, &r);
    let r = call(FFA_FEATURES, FFA_MSG_SEND_DIRECT_REQ_32, 0, 0);
    t.check("features-direct-req", is_success(&r), &r);
    let r = call(FFA_FEATURES, FFA_MEM_SHARE_32, 0, 0);
    t.check("features-unimplemented", is_error(&r, NOT_SUPPORTED), &r);
    // Direct requests: through the proxy to the SPMC, which has no
    // partition 0x8001 and takes no non-framework messages itself.
    let r = call(FFA_MSG_SEND_DIRECT_REQ_32, (OWN_ID << 16) | 0x8001, 0, 7);
    t.check(
        "direct-req-no-such-sp",
        is_error(&r, INVALID_PARAMETERS),
        &r,
    );
    let r = call(FFA_MSG_SEND_DIRECT_REQ_32, (OWN_ID << 16) | SPMC_ID, 0, 7);
    t.check("direct-req-to-spmc", is_error(&r, NOT_SUPPORTED), &r);
    // Refused by the hypervisor before reaching the secure world.
    let r = call(FFA_MSG_SEND_DIRECT_REQ_32, SPMC_ID, 0, 7);
    t.check(
        "direct-req-spoofed-sender",
        is_error(&r, INVALID_PARAMETERS),
        &r,
    );
    let r = call(
        FFA_MSG_SEND_DIRECT_REQ_32,
        (OWN_ID << 16) | SPMC_ID,
        1 << 31,
        0x8400_0002,
    );
    t.check(
        "direct-req-framework-bit",
        is_error(&r, INVALID_PARAMETERS),
        &r,
    );
    let r = call(FFA_RXTX_MAP_64, 0x4080_0000, 0x4080_1000, 1);
    t.check("unproxied-abi", is_error(&r, NOT_SUPPORTED), &r);
    println!("ffa: {} cases, {} failed", t.cases, t.failed);
    println!("test-guest: ffa done");
}
