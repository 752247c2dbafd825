//! The access sequence of Linux's drivers/irqchip/irq-gic-v3.c, replayed
//! against a 4-vCPU model: probe, distributor and redistributor set-up,
//! then an SPI, the timer PPI and an IPI reaching list registers.

use super::*;

const GICD_CTLR: u64 = 0x0;
const GICD_TYPER: u64 = 0x4;
const GICD_IIDR: u64 = 0x8;
const GICD_TYPER2: u64 = 0xc;
const GICD_IGROUPR: u64 = 0x80;
const GICD_ISENABLER: u64 = 0x100;
const GICD_ICENABLER: u64 = 0x180;
const GICD_ICACTIVER: u64 = 0x380;
const GICD_IPRIORITYR: u64 = 0x400;
const GICD_ICFGR: u64 = 0xc00;
const GICD_IROUTER: u64 = 0x6000;
const PIDR2: u64 = 0xffe8;
const GICR_CTLR: u64 = 0x0;
const GICR_TYPER: u64 = 0x8;
const GICR_WAKER: u64 = 0x14;
const RWP: u32 = 1 << 31;

struct Guest {
    gic: VGic,
}

impl Guest {
    fn dr(&self, off: u64) -> u32 {
        self.gic.dist_read(off, 4).unwrap() as u32
    }

    /// Returns the kick mask.
    fn dw(&mut self, off: u64, v: u32) -> u32 {
        self.gic.dist_write(off, 4, u64::from(v)).unwrap().kick
    }

    /// A redistributor access addressed from the GICR base, as the glue
    /// sees the trapped IPA.
    fn rr(&self, gicr_off: u64, size: u8) -> u64 {
        let (vcpu, off) = self.gic.redist_frame(gicr_off).unwrap();
        self.gic.redist_read(vcpu, off, size).unwrap()
    }

    /// Returns the kick mask.
    fn rw(&mut self, gicr_off: u64, v: u32) -> u32 {
        let (vcpu, off) = self.gic.redist_frame(gicr_off).unwrap();
        self.gic
            .redist_write(vcpu, off, 4, u64::from(v))
            .unwrap()
            .kick
    }

    /// gic_populate_rdist(): walk frames until Last, matching affinity.
    fn find_rdist(&self, mpidr: u64) -> u64 {
        let aff = affinity::pack_mpidr(mpidr);
        let mut base = 0;
        loop {
            assert_eq!(self.rr(base + PIDR2, 4) & 0xf0, 0x30);
            let typer = self.rr(base + GICR_TYPER, 8);
            if (typer >> 32) as u32 == aff {
                return base;
            }
            assert_eq!(typer & (1 << 4), 0, "ran off the last frame");
            base += REDIST_FRAME_SIZE;
        }
    }
}

#[test]
fn probe_init_and_deliver() {
    let mut g = Guest { gic: v3(4) };

    // gic_validate_dist_version(): ArchRev 3.
    assert_eq!(g.dr(PIDR2) & 0xf0, 0x30);

    // gic_iterate_rdists() from gic_init_bases(): PIDR2 of the region,
    // then GICR_TYPER (readq) per frame until Last.
    let mut affinities = Vec::new();
    let mut base = 0;
    assert_eq!(g.rr(PIDR2, 4) & 0xf0, 0x30);
    loop {
        let typer = g.rr(base + GICR_TYPER, 8);
        assert_eq!(typer & 0b11, 0, "no PLPIS/VLPIS");
        assert_eq!((typer >> 27) & 0x1f, 0, "PPInum 0: 16 PPIs");
        affinities.push(typer >> 32);
        assert_eq!((typer >> 8) & 0xffff, base / REDIST_FRAME_SIZE);
        if typer & (1 << 4) != 0 {
            break;
        }
        base += REDIST_FRAME_SIZE;
    }
    assert_eq!(affinities, [0, 1, 2, 3]);
    assert_eq!(g.gic.redist_frame(base + REDIST_FRAME_SIZE), None);
    assert_eq!(g.gic.redist_region_size(), 4 * REDIST_FRAME_SIZE);

    // gic_init_bases(): TYPER, IIDR (quirks), TYPER2.
    let typer = g.dr(GICD_TYPER);
    let gic_irqs = ((typer & 0x1f) + 1) * 32;
    assert_eq!(gic_irqs, 128);
    assert_eq!(((typer >> 19) & 0x1f) + 1, 10, "IDbits");
    assert_eq!(typer & (1 << 17), 0, "no LPIs");
    assert_eq!(typer & (1 << 8), 0, "no ESPI");
    assert_eq!(typer & (1 << 25), 0, "1 of N supported");
    assert_ne!(typer & (1 << 26), 0, "RSS");
    assert_eq!(g.dr(GICD_IIDR) & 0xfff, 0x43b);
    assert_eq!(g.dr(GICD_TYPER2), 0);

    // gic_dist_init(): disable, wait for RWP, groups, config, enable.
    g.dw(GICD_CTLR, 0);
    assert_eq!(g.dr(GICD_CTLR) & RWP, 0);
    for i in (32..gic_irqs).step_by(32) {
        g.dw(GICD_IGROUPR + u64::from(i / 8), !0);
    }
    for i in (32..gic_irqs).step_by(16) {
        g.dw(GICD_ICFGR + u64::from(i / 4), 0);
    }
    for i in (32..gic_irqs).step_by(4) {
        g.dw(GICD_IPRIORITYR + u64::from(i), 0xa0a0_a0a0);
    }
    for i in (32..gic_irqs).step_by(32) {
        g.dw(GICD_ICACTIVER + u64::from(i / 8), !0);
        g.dw(GICD_ICENABLER + u64::from(i / 8), !0);
    }
    assert_eq!(g.dr(GICD_CTLR) & RWP, 0);
    // ARE_NS | ENABLE_G1A | ENABLE_G1.
    g.dw(GICD_CTLR, 0x13);
    let ctlr = g.dr(GICD_CTLR);
    assert_eq!(ctlr & 0x13, 0x13);
    assert_ne!(ctlr & (1 << 6), 0, "DS: gic_dist_security_disabled()");
    for i in 32..gic_irqs {
        let off = GICD_IROUTER + 8 * u64::from(i);
        let _ = g.gic.dist_write(off, 8, 0).unwrap();
    }
    assert_eq!(g.dr(GICD_IGROUPR + 4), !0);
    assert_eq!(g.dr(GICD_IGROUPR), 0, "private words RAZ with ARE");
    assert_eq!(g.dr(GICD_IPRIORITYR + 32), 0xa0a0_a0a0);

    // gic_cpu_init() on each CPU (secondaries via gic_starting_cpu()).
    for (cpu, &mpidr) in MPIDRS4.iter().enumerate() {
        let rd = g.find_rdist(mpidr);
        assert_eq!(rd, cpu as u64 * REDIST_FRAME_SIZE);
        // gic_enable_redist(true).
        let waker = g.rr(rd + GICR_WAKER, 4) as u32;
        assert_eq!(waker & 0b110, 0b110, "asleep out of reset");
        g.rw(rd + GICR_WAKER, waker & !0b10);
        let mut polls = 0;
        while g.rr(rd + GICR_WAKER, 4) & 0b100 != 0 {
            polls += 1;
            assert!(polls < 10, "ChildrenAsleep never cleared");
        }
        let sgi = rd + SGI_BASE;
        g.rw(sgi + GICD_IGROUPR, !0);
        // gic_cpu_config(): deactivate, disable, priorities, enable SGIs.
        g.rw(sgi + GICD_ICACTIVER, !0);
        g.rw(sgi + GICD_ICENABLER, !0);
        for i in (0..32).step_by(4) {
            g.rw(sgi + GICD_IPRIORITYR + i, 0xa0a0_a0a0);
        }
        g.rw(sgi + GICD_ISENABLER, 0xffff);
        assert_eq!(g.rr(rd + GICR_CTLR, 4) & (1 << 3), 0, "GICR_CTLR.RWP");
        assert_eq!(g.rr(sgi + GICD_ISENABLER, 4), 0xffff);
        assert_eq!(g.rr(sgi + GICD_ICFGR, 4), 0xaaaa_aaaa, "SGIs edge");
        assert_eq!(g.rr(sgi + GICD_ICFGR + 4, 4), 0, "PPIs level");
    }

    // The UART SPI 33: gic_set_type(level) as a read-modify-write that
    // Linux verifies by reading back, affinity to CPU 1, unmask.
    // INTID 33 is field 1 of GICD_ICFGR2.
    let cfg_off = GICD_ICFGR + 33 / 16 * 4;
    let edge_bit = 2 << 2;
    let cfg = g.dr(cfg_off);
    g.dw(cfg_off, cfg & !edge_bit);
    assert_eq!(g.dr(cfg_off), cfg & !edge_bit);
    let _ = g
        .gic
        .dist_write(GICD_IROUTER + 8 * 33, 8, MPIDRS4[1] & 0xff_00ff_ffff)
        .unwrap();
    assert_eq!(g.gic.dist_read(GICD_IROUTER + 8 * 33, 8).unwrap(), 1);
    g.dw(GICD_ISENABLER + 4, 1 << 1);
    assert_eq!(g.dr(GICD_ISENABLER + 4), 1 << 1);

    // The virtual timer PPI 27 on CPU 2: enabled through its SGI_base.
    g.rw(2 * REDIST_FRAME_SIZE + SGI_BASE + GICD_ISENABLER, 1 << 27);
    g.gic.link_hw(27, 27).unwrap();

    // Nothing pending yet.
    assert_eq!(g.gic.pending_vcpus(), 0);

    // The emulated UART raises its line: vCPU 1 gets it.
    assert_eq!(g.gic.set_level(33, None, true), Ok(Some(1)));
    let inj = g.gic.next_pending(1).unwrap();
    assert_eq!(
        (inj.intid, inj.priority, inj.group1, inj.state),
        (33, 0xa0, true, LrState::Pending)
    );
    assert!(inj.eoi_maintenance, "level: resample on EOI");
    let lr = lr::encode_v3(&inj);
    assert_eq!(lr::decode_v3(lr), (33, LrState::Pending));
    assert_eq!(g.gic.next_pending(1), None, "already in an LR");

    // Guest acks, reads the UART (line drops), EOIs: the LR is invalid.
    g.gic.lr_retired(1, 33, LrState::Active);
    assert_eq!(g.gic.set_level(33, None, false), Ok(None));
    let again = g.gic.next_pending(1).unwrap();
    assert_eq!(again.state, LrState::Active, "active goes back to an LR");
    g.gic.lr_retired(1, 33, LrState::Invalid);
    assert_eq!(g.gic.next_pending(1), None);

    // Timer fires on pCPU 2: injected with HW = 1.
    assert_eq!(g.gic.set_level(27, Some(2), true), Ok(Some(2)));
    let t = g.gic.next_pending(2).unwrap();
    assert_eq!((t.intid, t.hw_pintid), (27, Some(27)));
    assert!(!t.eoi_maintenance);
    assert_ne!(lr::encode_v3(&t) & (1 << 61), 0);
    g.gic.lr_retired(2, 27, LrState::Invalid);
    assert_eq!(g.gic.next_pending(2), None, "deactivation consumed it");

    // IPI from CPU 0 to CPU 3: SGI 1, Aff1 0, TargetList bit 3.
    let kick = g.gic.sgi1r_write(0, (1 << 24) | (1 << 3));
    assert_eq!(kick, 1 << 3);
    let ipi = g.gic.next_pending(3).unwrap();
    assert_eq!((ipi.intid, ipi.edge, ipi.eoi_maintenance), (1, true, false));
    g.gic.lr_retired(3, 1, LrState::Invalid);
    assert_eq!(g.gic.pending_vcpus(), 0);
}
