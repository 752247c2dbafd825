//! ICC_SGI1R_EL1 / ICC_SGI0R_EL1 decoding and GICv2 SGI sources.

use super::*;

/// Enables all SGIs as group 1 on every vCPU and turns group 1 on.
fn ready(g: &mut VGic) {
    for v in 0..g.vcpu_count() {
        let _ = g.redist_write(v, SGI_BASE + 0x80, 4, 0xffff_ffff).unwrap();
        let _ = g.redist_write(v, SGI_BASE + 0x100, 4, 0xffff).unwrap();
    }
    let _ = g.dist_write(0, 4, 0x12).unwrap();
}

fn sgi1r(aff3: u64, aff2: u64, aff1: u64, rs: u64, list: u64, intid: u64) -> u64 {
    (aff3 << 48) | (rs << 44) | (aff2 << 32) | (intid << 24) | (aff1 << 16) | list
}

#[test]
fn target_list_and_irm() {
    let mut g = v3(4);
    ready(&mut g);
    assert_eq!(g.sgi1r_write(0, sgi1r(0, 0, 0, 0, 0b0110, 3)), 0b0110);
    assert!(g.has_pending(1) && g.has_pending(2) && !g.has_pending(0));
    // IRM: everyone but the sender.
    assert_eq!(g.sgi1r_write(2, (1 << 40) | (4 << 24)), 0b1011);
    // Wrong Aff1, or a TargetList bit with no vCPU: nobody.
    assert_eq!(g.sgi1r_write(0, sgi1r(0, 0, 1, 0, 0b1, 3)), 0);
    assert_eq!(g.sgi1r_write(0, sgi1r(0, 0, 0, 0, 1 << 9, 3)), 0);
    // A sender may target itself.
    assert_eq!(g.sgi1r_write(3, sgi1r(0, 0, 0, 0, 1 << 3, 0)), 1 << 3);
    // Unknown sender, or GICv2 model: ignored.
    assert_eq!(g.sgi1r_write(9, sgi1r(0, 0, 0, 0, 1, 0)), 0);
    let mut g2 = v2(2);
    assert_eq!(g2.sgi1r_write(0, sgi1r(0, 0, 0, 0, 1, 0)), 0);
}

#[test]
fn range_selector_and_high_affinity() {
    // vCPUs on different clusters with Aff0 beyond 15 and a non-zero Aff3.
    let mpidrs = [0x8000_0000, 0x8000_0111, 0x0000_0005_0002_0100];
    let mut g = VGic::new(Version::V3, 3, 32, &mpidrs).unwrap();
    ready(&mut g);
    // vCPU 1: Aff1 1, Aff0 0x11 = RS 1, bit 1.
    assert_eq!(g.sgi1r_write(0, sgi1r(0, 0, 1, 1, 1 << 1, 2)), 1 << 1);
    // vCPU 2: Aff3 5, Aff2 2, Aff1 1, Aff0 0.
    assert_eq!(g.sgi1r_write(0, sgi1r(5, 2, 1, 0, 1, 2)), 1 << 2);
    assert_eq!(g.redist_read(2, 0x8, 8).unwrap() >> 32, 0x0502_0100);
}

#[test]
fn groups_and_enables() {
    let mut g = v3(2);
    // SGIs disabled: pending but nobody to kick.
    assert_eq!(g.sgi1r_write(0, sgi1r(0, 0, 0, 0, 0b10, 1)), 0);
    assert_eq!(g.redist_read(1, SGI_BASE + 0x200, 4), Ok(1 << 1));
    ready(&mut g);
    assert!(g.has_pending(1), "enabling delivers the latched SGI");
    // SGI0R only generates group 0 SGIs; ours are group 1.
    assert_eq!(g.sgi0r_write(1, sgi1r(0, 0, 0, 0, 0b1, 2)), 0);
    assert_eq!(g.redist_read(0, SGI_BASE + 0x200, 4), Ok(0));
    // Make SGI 2 group 0 on vCPU 0 and enable group 0: now it works.
    let _ = g.redist_write(0, SGI_BASE + 0x80, 4, !(1 << 2)).unwrap();
    let _ = g.dist_write(0, 4, 0x13).unwrap();
    assert_eq!(g.sgi0r_write(1, sgi1r(0, 0, 0, 0, 0b1, 2)), 1);
    let inj = g.next_pending(0).unwrap();
    assert_eq!((inj.intid, inj.group1), (2, false));
}

#[test]
fn v2_sources_delivered_one_by_one() {
    let mut g = v2(4);
    let _ = g.dist_write_v2(0, 0x100, 4, 0xffff).unwrap();
    let _ = g.dist_write_v2(0, 0x000, 4, 1).unwrap();
    // CPUs 1 and 3 both send SGI 2 to CPU 0.
    for sender in [3, 1] {
        let up = g.dist_write_v2(sender, 0xf00, 4, (1 << 16) | 2).unwrap();
        assert_eq!(up.kick, 1);
    }
    assert_eq!(g.dist_read_v2(0, 0xf20, 1), Ok(0), "SGI 0: none");
    assert_eq!(g.dist_read_v2(0, 0xf22, 1), Ok(0b1010));
    let first = g.next_pending(0).unwrap();
    assert_eq!((first.intid, first.source_cpu), (2, Some(1)));
    assert!(first.eoi_maintenance, "another source is queued");
    assert_eq!(g.next_pending(0), None, "one LR per SGI at a time");
    // The guest acked but the glue reclaims the LR: it returns active.
    g.lr_retired(0, 2, LrState::Active);
    let back = g.next_pending(0).unwrap();
    assert_eq!((back.state, back.source_cpu), (LrState::Active, Some(1)));
    g.lr_retired(0, 2, LrState::Invalid);
    let second = g.next_pending(0).unwrap();
    assert_eq!(
        (second.source_cpu, second.eoi_maintenance),
        (Some(3), false)
    );
    // Reclaimed while still pending: the source goes back.
    g.lr_retired(0, 2, LrState::Pending);
    assert_eq!(g.dist_read_v2(0, 0xf22, 1), Ok(0b1000));
    let again = g.next_pending(0).unwrap();
    assert_eq!(again.source_cpu, Some(3));
    g.lr_retired(0, 2, LrState::Invalid);
    assert_eq!(g.next_pending(0), None);
    // Filter 0b10: to the sender only; 0b11: reserved, nothing.
    assert_eq!(g.dist_write_v2(2, 0xf00, 4, (2 << 24) | 1).unwrap().kick, 0);
    assert_eq!(g.dist_read_v2(2, 0xf20, 1), Ok(0));
    assert_eq!(g.dist_read_v2(2, 0xf21, 1), Ok(0b100));
    assert_eq!(g.dist_read_v2(2, 0xf20, 4), Ok(0x400));
    let _ = g
        .dist_write_v2(2, 0xf00, 4, (3 << 24) | (0xf << 16) | 3)
        .unwrap();
    assert_eq!(g.dist_read_v2(0, 0xf20, 4), Ok(0));
    // SPENDSGIR sets sources directly (only implemented CPUs).
    let _ = g.dist_write_v2(3, 0xf20, 4, 0xff << 8).unwrap();
    assert_eq!(g.dist_read_v2(3, 0xf21, 1), Ok(0x0f));
}
