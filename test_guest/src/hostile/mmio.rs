//! Device accesses of odd sizes, alignments and instruction forms, and
//! accesses to holes in the device map. Refused where the device's spec
//! forbids them (virtio-mmio v1.2 §4.2.2: 32-bit aligned register access;
//! PL011 and GIC registers are 32-bit), tolerated either way where it
//! leaves them open; the hypervisor must survive all of them.

use super::access::{self, normal_alias};
use super::{Expect, Tally};
use crate::platform::Platform;
use crate::traps::probe;

pub fn run(plat: &Platform, t: &mut Tally) {
    let u = plat.uart;
    let d = plat.gicd;
    if let Some(v) = plat.virtio {
        t.access(
            "mmio",
            "virtio-8bit-read",
            Expect::Refused,
            probe(|| access::read8(v)),
        );
        t.access(
            "mmio",
            "virtio-16bit-read",
            Expect::Refused,
            probe(|| access::read16(v)),
        );
        t.access(
            "mmio",
            "virtio-64bit-read",
            Expect::Refused,
            probe(|| access::read64(v)),
        );
        t.access(
            "mmio",
            "virtio-unaligned-read",
            Expect::Refused,
            probe(|| access::read32(normal_alias(v + 2))),
        );
        t.access(
            "mmio",
            "virtio-write-read-only",
            Expect::Refused,
            probe(|| access::write32(v, 0)).map(|_| 0),
        );
        t.access(
            "mmio",
            "virtio-hole",
            Expect::Refused,
            probe(|| access::read32(v + 0x0f8)),
        );
        t.access(
            "mmio",
            "virtio-past-window",
            Expect::Refused,
            probe(|| access::read32(v + 0x200)),
        );
    }
    t.access(
        "mmio",
        "uart-unaligned-read",
        Expect::Refused,
        probe(|| access::read32(normal_alias(u + 1))),
    );
    t.access(
        "mmio",
        "uart-atomic-add",
        Expect::Refused,
        probe(|| access::atomic_add(normal_alias(u))),
    );
    // An STXR may fail without accessing memory (no exclusive monitor
    // armed: QEMU checks that first), which is a correct refusal too.
    t.access(
        "mmio",
        "uart-store-exclusive",
        Expect::Either,
        probe(|| access::store_exclusive(normal_alias(u))),
    );
    t.access(
        "mmio",
        "uart-dc-zva",
        Expect::Refused,
        probe(|| access::zero_block(normal_alias(u))),
    );
    t.access(
        "mmio",
        "uart-64bit-read",
        Expect::Either,
        probe(|| access::read64(u + 0x18)),
    );
    t.access(
        "mmio",
        "uart-8bit-write-cr",
        Expect::Either,
        probe(|| access::write8(u + 0x30 + 1, 0x3)).map(|_| 0),
    );
    t.access(
        "mmio",
        "uart-load-pair",
        Expect::Either,
        probe(|| access::read_pair(u + 0x18)),
    );
    t.access(
        "mmio",
        "uart-post-index",
        Expect::Either,
        probe(|| access::read_post_index(u + 0x18)),
    );
    t.access(
        "mmio",
        "uart-hole",
        Expect::Refused,
        probe(|| access::read32(u + 0x1000)),
    );
    t.access(
        "mmio",
        "gicd-64bit-read",
        Expect::Either,
        probe(|| access::read64(d)),
    );
    t.access(
        "mmio",
        "gicd-8bit-write",
        Expect::Either,
        probe(|| access::write8(d + 1, 0xff)).map(|_| 0),
    );
    t.access(
        "mmio",
        "gic-its",
        Expect::Refused,
        probe(|| access::read32(d + 0x8_0000)),
    );
    let beyond = plat.gicr_of(plat.cpus.max(crate::cpu::MAX_CPUS));
    t.access(
        "mmio",
        "gicr-missing-cpu",
        Expect::Refused,
        probe(|| access::read32(beyond)),
    );
    // The devices still work after all of that.
    let ctlr = access::read32(d);
    t.check(
        "mmio",
        "gicd-still-sane",
        ctlr & 0x12 == 0x12,
        format_args!("GICD_CTLR {ctlr:#x} (EnableGrp1 and ARE still set)"),
    );
}
