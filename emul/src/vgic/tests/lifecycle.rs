//! Injection order, list-register round trips, routing and kicks.

use super::*;

/// Group 1 on, SPIs 32..=63 group 1, enabled, priority 0xa0, routed to
/// vCPU 0.
fn ready(vcpus: usize) -> VGic {
    let mut g = v3(vcpus);
    let _ = g.dist_write(0x0, 4, 0x12).unwrap();
    let _ = g.dist_write(0x84, 4, !0).unwrap();
    for i in (32..64).step_by(4) {
        let _ = g.dist_write(0x400 + i, 4, 0xa0a0_a0a0).unwrap();
    }
    let _ = g.dist_write(0x104, 4, !0).unwrap();
    g
}

fn prio(g: &mut VGic, intid: u64, p: u8) {
    let _ = g.dist_write(0x400 + intid, 1, u64::from(p)).unwrap();
}

#[test]
fn priority_then_lowest_intid() {
    let mut g = ready(1);
    for intid in [40, 35, 50, 36] {
        g.set_level(intid, None, true).unwrap();
    }
    prio(&mut g, 50, 0x80);
    let order: Vec<u32> = core::iter::from_fn(|| g.next_pending(0).map(|i| i.intid)).collect();
    assert_eq!(order, [50, 35, 36, 40]);
}

#[test]
fn active_goes_first_and_regardless_of_enable() {
    let mut g = ready(1);
    g.set_level(40, None, true).unwrap();
    g.set_level(41, None, true).unwrap();
    prio(&mut g, 41, 0x10);
    let first = g.next_pending(0).unwrap();
    assert_eq!(first.intid, 41);
    // Guest acks 41, the glue folds it back, then the guest disables 41.
    g.lr_retired(0, 41, LrState::Active);
    let _ = g.dist_write(0x184, 4, 1 << 9).unwrap();
    let next = g.next_pending(0).unwrap();
    assert_eq!((next.intid, next.state), (41, LrState::Active));
    assert_eq!(g.next_pending(0).unwrap().intid, 40);
}

#[test]
fn more_pending_than_list_registers() {
    let mut g = ready(1);
    for intid in 32..38 {
        g.set_level(intid, None, true).unwrap();
    }
    // Four list registers, like QEMU's GICv3.
    let lrs: Vec<Injection> = (0..4).filter_map(|_| g.next_pending(0)).collect();
    assert_eq!(lrs.len(), 4);
    assert!(g.has_pending(0), "glue sets ICH_HCR_EL2.UIE");
    // Underflow maintenance: the guest handled them all (lines dropped).
    for inj in &lrs {
        let _ = g.set_level(inj.intid, None, false);
        g.lr_retired(0, inj.intid, LrState::Invalid);
    }
    let rest: Vec<u32> = core::iter::from_fn(|| g.next_pending(0).map(|i| i.intid)).collect();
    assert_eq!(rest, [36, 37]);
    assert!(!g.has_pending(0));
}

#[test]
fn edge_coalescing_and_new_edges() {
    let mut g = ready(1);
    // SPI 40 edge-triggered.
    let _ = g.dist_write(0xc08, 4, 2 << 16).unwrap();
    assert_eq!(g.set_level(40, None, true), Ok(Some(0)));
    assert_eq!(g.set_level(40, None, true), Ok(None), "no new edge");
    let inj = g.next_pending(0).unwrap();
    assert!(inj.edge && !inj.eoi_maintenance);
    // While in the LR, a new edge arrives.
    let _ = g.set_level(40, None, false);
    let _ = g.set_level(40, None, true);
    assert_eq!(g.next_pending(0), None);
    g.lr_retired(0, 40, LrState::Invalid);
    assert_eq!(g.next_pending(0).unwrap().intid, 40);
    // Folded while still pending: just one pending, not two.
    g.lr_retired(0, 40, LrState::Pending);
    assert!(g.next_pending(0).is_some());
    g.lr_retired(0, 40, LrState::Invalid);
    assert_eq!(g.next_pending(0), None);
}

#[test]
fn software_pend_and_clear() {
    let mut g = ready(1);
    // ISPENDR on a level SPI with the line low: pending until acked.
    let up = g.dist_write(0x204, 4, 1 << 2).unwrap();
    assert_eq!(up.kick, 1);
    assert_eq!(g.dist_read(0x204, 4), Ok(1 << 2));
    let inj = g.next_pending(0).unwrap();
    assert_eq!(inj.intid, 34);
    g.lr_retired(0, 34, LrState::Active);
    assert_eq!(g.dist_read(0x204, 4), Ok(0), "ack consumed the latch");
    assert_eq!(g.dist_read(0x304, 4), Ok(1 << 2), "active");
    let _ = g.dist_write(0x384, 4, 1 << 2).unwrap();
    assert_eq!(g.dist_read(0x304, 4), Ok(0));
    // ICPENDR cannot clear an asserted level line.
    g.set_level(35, None, true).unwrap();
    let _ = g.dist_write(0x284, 4, 1 << 3).unwrap();
    assert_eq!(g.dist_read(0x204, 4), Ok(1 << 3));
}

#[test]
fn group_and_enable_gating() {
    let mut g = ready(1);
    let _ = g.dist_write(0x0, 4, 0).unwrap();
    assert_eq!(g.set_level(33, None, true), Ok(None), "group 1 disabled");
    assert!(!g.has_pending(0));
    let up = g.dist_write(0x0, 4, 0x2).unwrap();
    assert_eq!(up.kick, 1, "group enable kicks everyone");
    assert!(g.has_pending(0));
    let _ = g.dist_write(0x184, 4, 1 << 1).unwrap();
    assert!(!g.has_pending(0), "disabled");
    let up = g.dist_write(0x104, 4, 1 << 1).unwrap();
    assert_eq!(up.kick, 1);
    // Retracting: disabling an interrupt held in an LR kicks its holder.
    let _ = g.next_pending(0).unwrap();
    let up = g.dist_write(0x184, 4, 1 << 1).unwrap();
    assert_eq!(up.kick, 1);
}

#[test]
fn routing_by_affinity_and_one_of_n() {
    let mut g = ready(4);
    // SPI 40 to vCPU 2.
    let up = g.dist_write(0x6000 + 8 * 40, 8, 2).unwrap();
    assert_eq!(up.kick, 0, "nothing pending yet");
    assert_eq!(g.set_level(40, None, true), Ok(Some(2)));
    // Re-route while pending: old and new targets are kicked.
    let up = g.dist_write(0x6000 + 8 * 40, 4, 3).unwrap();
    assert_eq!(up.kick, (1 << 2) | (1 << 3));
    assert!(g.has_pending(3) && !g.has_pending(2));
    // An affinity with no vCPU: held, delivered to nobody.
    let _ = g.dist_write(0x6000 + 8 * 40, 8, 0x0100).unwrap();
    assert_eq!(g.pending_vcpus(), 0);
    // IRM = 1: the first vCPU whose redistributor is awake.
    let _ = g.dist_write(0x6000 + 8 * 40, 8, 1 << 31).unwrap();
    assert_eq!(g.pending_vcpus(), 0, "all asleep out of reset");
    let _ = g.redist_write(1, 0x14, 4, 0).unwrap();
    assert_eq!(g.pending_vcpus(), 1 << 1);
    let _ = g.redist_write(0, 0x14, 4, 0).unwrap();
    assert_eq!(g.pending_vcpus(), 1 << 0);
    // An SPI held in vCPU 0's LR and re-routed can only be retired there.
    let inj = g.next_pending(0).unwrap();
    let _ = g.dist_write(0x6000 + 8 * 40, 8, 1).unwrap();
    g.lr_retired(1, inj.intid, LrState::Invalid);
    assert!(
        !g.has_pending(1),
        "stale retire from the wrong vCPU ignored"
    );
    g.lr_retired(0, inj.intid, LrState::Invalid);
    assert!(g.has_pending(1), "line still high, now routed to vCPU 1");
}

#[test]
fn hardware_linked_timer() {
    let mut g = ready(2);
    let _ = g.redist_write(1, SGI_BASE + 0x80, 4, !0).unwrap();
    let _ = g.redist_write(1, SGI_BASE + 0x100, 4, 1 << 27).unwrap();
    g.link_hw(27, 27).unwrap();
    assert_eq!(g.set_level(27, Some(1), true), Ok(Some(1)));
    assert_eq!(g.set_level(27, Some(0), true), Ok(None), "disabled on 0");
    let t = g.next_pending(1).unwrap();
    assert_eq!(t.hw_pintid, Some(27));
    // Acked and folded on an unrelated exit: back as Active, HW = 1.
    g.lr_retired(1, 27, LrState::Active);
    let back = g.next_pending(1).unwrap();
    assert_eq!((back.state, back.hw_pintid), (LrState::Active, Some(27)));
    // The guest EOIs (the physical interrupt is deactivated with it) and
    // the timer fires again before the glue folds the list register.
    assert_eq!(g.set_level(27, Some(1), true), Ok(Some(1)));
    g.lr_retired(1, 27, LrState::Invalid);
    let again = g.next_pending(1).unwrap();
    assert_eq!(again.state, LrState::Pending);
    g.lr_retired(1, 27, LrState::Invalid);
    assert_eq!(g.next_pending(1), None, "each report injects once");
    // Lowering before injection withdraws it.
    let _ = g.set_level(27, Some(1), true);
    let _ = g.set_level(27, Some(1), false);
    assert!(!g.has_pending(1));
}

#[test]
fn set_level_and_link_errors() {
    let mut g = ready(2);
    assert_eq!(g.set_level(3, Some(0), true), Err(VgicError::BadIntid(3)));
    assert_eq!(
        g.set_level(27, None, true),
        Err(VgicError::PpiNeedsVcpu(27))
    );
    assert_eq!(
        g.set_level(27, Some(5), true),
        Err(VgicError::NoSuchVcpu(5))
    );
    assert_eq!(
        g.set_level(40, Some(0), true),
        Err(VgicError::SpiTakesNoVcpu(40))
    );
    assert_eq!(g.set_level(128, None, true), Err(VgicError::BadIntid(128)));
    assert_eq!(g.link_hw(27, 3), Err(VgicError::BadPhysicalIntid(3)));
    assert_eq!(g.link_hw(5, 27), Err(VgicError::BadIntid(5)));
    assert_eq!(g.link_hw(200, 40), Err(VgicError::BadIntid(200)));
    assert_eq!(g.link_hw(40, 40), Ok(()));
    // Retiring something never injected is ignored.
    g.lr_retired(0, 40, LrState::Invalid);
    g.lr_retired(7, 40, LrState::Invalid);
    assert_eq!(g.next_pending(7), None);
}
