//! Floods of SGIs: to the other vCPU, broadcast, and to CPUs that do not
//! exist. The hypervisor may coalesce them (a pending SGI is pending once,
//! GIC IHI 0069H §4.1) but must neither lose the vCPU nor stall: a single
//! SGI sent afterwards still arrives.

use super::Tally;
use crate::bench::wait;
use crate::gic::{self, SGI_FLOOD, SGI_PING};
use crate::platform::Platform;
use crate::secondary;

const TARGETED: u32 = 20_000;
const BROADCAST: u32 = 2_000;
const NOWHERE: u32 = 2_000;

pub fn run(plat: &Platform, t: &mut Tally) {
    if let Err(e) = secondary::start(plat, 1) {
        t.check("sgi", "flood", false, format_args!("needs two vCPUs: {e}"));
        return;
    }
    let before = gic::count(1, SGI_FLOOD);
    for _ in 0..TARGETED {
        gic::send_sgi(SGI_FLOOD, 1 << 1, false);
    }
    for _ in 0..BROADCAST {
        gic::send_sgi(SGI_FLOOD, 0, true);
    }
    // Aff0 2..15: no such vCPUs.
    for _ in 0..NOWHERE {
        gic::send_sgi(SGI_FLOOD, 0xfffc, false);
    }
    let arrived = wait(|| gic::count(1, SGI_FLOOD) > before);
    let got = gic::count(1, SGI_FLOOD) - before;
    let sent = u64::from(TARGETED + BROADCAST);
    t.check(
        "sgi",
        "flood",
        arrived && got <= sent,
        format_args!("{sent} sent to vCPU 1 (+{NOWHERE} to absent vCPUs), {got} taken"),
    );
    let ping = gic::count(1, SGI_PING);
    gic::send_sgi(SGI_PING, 1 << 1, false);
    let ok = wait(|| gic::count(1, SGI_PING) > ping);
    t.check(
        "sgi",
        "after-flood",
        ok,
        format_args!(
            "a single SGI {}",
            if ok { "still arrives" } else { "was lost" }
        ),
    );
    secondary::stop();
}
