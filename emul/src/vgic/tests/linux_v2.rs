//! The access sequence of Linux's drivers/irqchip/irq-gic.c on a GICv2
//! model: probe, gic_dist_init(), gic_cpu_init() per CPU, an SPI retargeted
//! with gic_set_affinity(), and IPIs through GICD_SGIR.

use super::*;

const GICD_CTLR: u64 = 0x0;
const GICD_TYPER: u64 = 0x4;
const GICD_ISENABLER: u64 = 0x100;
const GICD_ICENABLER: u64 = 0x180;
const GICD_ISPENDR: u64 = 0x200;
const GICD_ICACTIVER: u64 = 0x380;
const GICD_IPRIORITYR: u64 = 0x400;
const GICD_ITARGETSR: u64 = 0x800;
const GICD_ICFGR: u64 = 0xc00;
const GICD_SGIR: u64 = 0xf00;
const GICD_SPENDSGIR: u64 = 0xf20;
const GICD_CPENDSGIR: u64 = 0xf10;

fn rd(g: &VGic, cpu: usize, off: u64) -> u32 {
    g.dist_read_v2(cpu, off, 4).unwrap() as u32
}

fn wr(g: &mut VGic, cpu: usize, off: u64, v: u32) -> Update {
    g.dist_write_v2(cpu, off, 4, u64::from(v)).unwrap()
}

/// gic_get_cpumask(): first non-zero ITARGETSR0..7 word, folded.
fn cpumask(g: &VGic, cpu: usize) -> u32 {
    for i in (0..32).step_by(4) {
        let mut mask = rd(g, cpu, GICD_ITARGETSR + i);
        mask |= mask >> 16;
        mask |= mask >> 8;
        if mask != 0 {
            return mask & 0xff;
        }
    }
    0
}

#[test]
fn probe_init_and_deliver() {
    let mut g = v2(4);
    let cpu0 = 0;

    // __gic_init_bases(): number of lines.
    let typer = rd(&g, cpu0, GICD_TYPER);
    let gic_irqs = ((typer & 0x1f) + 1) * 32;
    assert_eq!(gic_irqs, 128);
    assert_eq!((typer >> 5) & 7, 3, "CPUNumber: 4 CPUs");
    assert_eq!(typer & (1 << 10), 0, "no Security Extensions");
    assert_eq!(rd(&g, cpu0, 0xfe8) & 0xf0, 0x20, "ArchRev 2");

    // gic_dist_init().
    let _ = wr(&mut g, cpu0, GICD_CTLR, 0);
    let mut mask = cpumask(&g, cpu0);
    assert_eq!(mask, 1);
    mask |= mask << 8;
    mask |= mask << 16;
    for i in (32..gic_irqs).step_by(4) {
        let _ = wr(&mut g, cpu0, GICD_ITARGETSR + u64::from(i), mask);
    }
    for i in (32..gic_irqs).step_by(16) {
        let _ = wr(&mut g, cpu0, GICD_ICFGR + u64::from(i / 4), 0);
    }
    for i in (32..gic_irqs).step_by(4) {
        let _ = wr(&mut g, cpu0, GICD_IPRIORITYR + u64::from(i), 0xa0a0_a0a0);
    }
    for i in (32..gic_irqs).step_by(32) {
        let _ = wr(&mut g, cpu0, GICD_ICACTIVER + u64::from(i / 8), !0);
        let _ = wr(&mut g, cpu0, GICD_ICENABLER + u64::from(i / 8), !0);
    }
    let _ = wr(&mut g, cpu0, GICD_CTLR, 1);
    assert_eq!(rd(&g, cpu0, GICD_CTLR), 1);
    assert_eq!(rd(&g, cpu0, GICD_ITARGETSR + 32), 0x0101_0101);

    // gic_cpu_init() on every CPU: its own mask, then the banked words.
    for cpu in 0..4 {
        assert_eq!(cpumask(&g, cpu), 1 << cpu);
        let _ = wr(&mut g, cpu, GICD_ICACTIVER, !0);
        let _ = wr(&mut g, cpu, GICD_ICENABLER, !0);
        for i in (0..32).step_by(4) {
            let _ = wr(&mut g, cpu, GICD_IPRIORITYR + i, 0xa0a0_a0a0);
        }
        let _ = wr(&mut g, cpu, GICD_ISENABLER, 0xffff);
        assert_eq!(rd(&g, cpu, GICD_ISENABLER), 0xffff);
        // Private target bytes are read-only.
        let _ = wr(&mut g, cpu, GICD_ITARGETSR, 0xffff_ffff);
        assert_eq!(cpumask(&g, cpu), 1 << cpu);
    }
    // Banked: CPU 1 disabling its PPI does not touch CPU 0's.
    let _ = wr(&mut g, 1, GICD_ICENABLER, 1);
    assert_eq!(rd(&g, 0, GICD_ISENABLER), 0xffff);
    assert_eq!(rd(&g, 1, GICD_ISENABLER), 0xfffe);

    // UART SPI 33: gic_set_affinity() to CPU 2 (byte write), unmask.
    let _ = g
        .dist_write_v2(cpu0, GICD_ITARGETSR + 33, 1, 1 << 2)
        .unwrap();
    assert_eq!(g.dist_read_v2(3, GICD_ITARGETSR + 33, 1), Ok(1 << 2));
    let _ = wr(&mut g, cpu0, GICD_ISENABLER + 4, 1 << 1);
    assert_eq!(g.set_level(33, None, true), Ok(Some(2)));
    let inj = g.next_pending(2).unwrap();
    assert_eq!((inj.intid, inj.group1), (33, false), "group 0 in GICv2");
    let lr = lr::encode_v2(&inj);
    assert_eq!(lr::decode_v2(lr), (33, LrState::Pending));
    assert_eq!((lr >> 23) & 0x1f, 0xa0 >> 3);
    g.lr_retired(2, 33, LrState::Invalid);
    assert!(
        g.next_pending(2).is_some(),
        "line still high: pending again"
    );
    g.lr_retired(2, 33, LrState::Pending);
    let _ = g.set_level(33, None, false);

    // gic_ipi_send_mask(): SGIR = targets << 16 | SGI.
    let up = wr(&mut g, 1, GICD_SGIR, (0b1001 << 16) | 5);
    assert_eq!(up.kick, 0b1001);
    for target in [0, 3] {
        let ipi = g.next_pending(target).unwrap();
        assert_eq!((ipi.intid, ipi.source_cpu), (5, Some(1)));
        let lr = lr::encode_v2(&ipi);
        assert_eq!((lr >> 10) & 7, 1, "CPUID of the sender");
        g.lr_retired(target, 5, LrState::Invalid);
    }
    // Pending SGI state is visible per source and clearable.
    let _ = wr(&mut g, 2, GICD_SGIR, (1 << 24) | 7);
    assert_eq!(rd(&g, 0, GICD_SPENDSGIR + 4) >> 24, 1 << 2);
    assert_eq!(rd(&g, 0, GICD_ISPENDR) & (1 << 7), 1 << 7);
    // ISPENDR/ICPENDR SGI bits are ignored in GICv2.
    let _ = wr(&mut g, 0, 0x280, 1 << 7);
    assert_eq!(rd(&g, 0, GICD_ISPENDR) & (1 << 7), 1 << 7);
    let _ = g.dist_write_v2(0, GICD_CPENDSGIR + 7, 1, 1 << 2).unwrap();
    assert_eq!(rd(&g, 0, GICD_ISPENDR) & (1 << 7), 0);
    // TargetListFilter 0b01 reached CPUs 0, 1 and 3 but not the sender.
    assert!(g.has_pending(1) && g.has_pending(3) && !g.has_pending(2));
}
