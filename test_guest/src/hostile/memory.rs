//! Reads, writes and instruction fetches at IPAs outside guest RAM: host
//! RAM past the guest's block (where the hypervisor, its heap and other
//! guests' memory live on a real board), below it, and far above. With a
//! 16 MiB guest the first IPA past RAM is 0x4100_0000, the hypervisor's own
//! physical load address, so an identity Stage-2 bug would show here.
//!
//! Every probe of a kind runs at the same pc, more than the hypervisor's
//! fault-loop limit (16) times: a guest that handles each abort and moves
//! on must not be mistaken for one stuck in a fault loop.

use super::access;
use super::{Expect, Tally};
use crate::platform::Platform;
use crate::traps::probe;

/// IPAs outside guest RAM, in the order probed.
fn outside_ram(plat: &Platform) -> impl Iterator<Item = usize> {
    let end = plat.ram_end() as usize;
    // The rest of the 1 GiB window RAM starts in, every 32 MiB.
    let window = ((end + 0x1ff_ffff) & !0x1ff_ffff..0x8000_0000).step_by(0x200_0000);
    [end, end + 0x1000].into_iter().chain(window).chain([
        plat.ram_base as usize - 8,
        0,
        0x4_0000_0000,
        0x7f_ffff_f000,
    ])
}

pub fn run(plat: &Platform, t: &mut Tally) {
    let end = plat.ram_end() as usize;
    let total = outside_ram(plat).count();
    let mut refused = 0;
    for a in outside_ram(plat) {
        let r = probe(|| access::read64(a));
        refused += usize::from(r.is_err());
        if a == end || a == 0 || a >= 0x4_0000_0000 {
            t.access("memory", "read", Expect::Refused, r);
        }
    }
    t.check(
        "memory",
        "read-sweep",
        refused == total,
        format_args!("{refused} of {total} reads outside RAM refused"),
    );
    let refused = outside_ram(plat)
        .filter(|&a| probe(|| access::write64(a, 0xdead_beef_dead_beef)).is_err())
        .count();
    t.check(
        "memory",
        "write-sweep",
        refused == total,
        format_args!("{refused} of {total} writes outside RAM refused"),
    );
    t.access(
        "memory",
        "exec-past-ram",
        Expect::Refused,
        probe(|| access::exec(end)),
    );
    // Stage 1 maps this block executable: only Stage-2 can refuse it.
    t.access(
        "memory",
        "exec-high",
        Expect::Refused,
        probe(|| access::exec(0x7f00_0000)),
    );
}
