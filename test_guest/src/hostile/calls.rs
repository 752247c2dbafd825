//! Calls the hypervisor does not implement, and PSCI calls with bad
//! arguments: each must get the SMCCC/PSCI error code, nothing else
//! (DEN0028 §5.2: unknown function IDs return NOT_SUPPORTED; DEN0022
//! §5.6: CPU_ON's argument errors).

use super::Tally;
use crate::platform::Platform;
use crate::smccc::{self, INVALID_ADDRESS, INVALID_PARAMETERS, NOT_SUPPORTED};

pub fn run(plat: &Platform, t: &mut Tally) {
    // The last three are FF-A (VERSION, MEM_SHARE, RXTX_MAP): with no SPMC
    // below the hypervisor they are unknown functions too.
    for fid in [
        0x1234,
        0xc600_0000,
        0x8600_ff01,
        0xffff_ffff,
        0xc200_0001,
        0xbf00_0000,
        0x8400_0063,
        0xc400_0073,
        0xc400_0066,
    ] {
        let r = smccc::hvc(fid, 1, 2, 3);
        t.check(
            "calls",
            "hvc-unknown",
            r == NOT_SUPPORTED,
            format_args!("fid {fid:#x} -> {r:#x}"),
        );
        let r = smccc::smc(fid, 1, 2, 3);
        t.check(
            "calls",
            "smc-unknown",
            r == NOT_SUPPORTED,
            format_args!("fid {fid:#x} -> {r:#x}"),
        );
    }
    let r = smccc::smc(smccc::PSCI_VERSION, 0, 0, 0);
    t.check(
        "calls",
        "smc-psci-version",
        r == 0x1_0001,
        format_args!("-> {r:#x}"),
    );
    let r = smccc::hvc(smccc::PSCI_FEATURES, 0x1234, 0, 0);
    t.check(
        "calls",
        "psci-features-unknown",
        r == NOT_SUPPORTED,
        format_args!("-> {r:#x}"),
    );
    let r = smccc::cpu_on(0xff00, crate::start::secondary_entry(), 0);
    t.check(
        "calls",
        "cpu-on-bad-mpidr",
        r == INVALID_PARAMETERS,
        format_args!("-> {r:#x}"),
    );
    if plat.cpus > 1 {
        for entry in [0x1000, plat.ram_end()] {
            let r = smccc::cpu_on(plat.mpidrs[1], entry, 0);
            t.check(
                "calls",
                "cpu-on-entry-outside-ram",
                r == INVALID_ADDRESS,
                format_args!("entry {entry:#x} -> {r:#x}"),
            );
        }
    }
    let r = smccc::hvc(smccc::PSCI_AFFINITY_INFO, 0xff00, 0, 0);
    t.check(
        "calls",
        "affinity-info-bad-mpidr",
        r == INVALID_PARAMETERS,
        format_args!("-> {r:#x}"),
    );
}
