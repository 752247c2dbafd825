//! Builder tests over heap pools; table PAs are the host addresses (or a
//! transform of them), so the walk really follows descriptors.

use super::desc::{self, Kind};
use super::*;
use crate::mmu::Table;

const KIB4: u64 = 4 << 10;
const MIB2: u64 = 2 << 20;
const GIB: u64 = 1 << 30;

fn host_pa(t: &Table) -> u64 {
    t as *const Table as u64
}

/// Shifted by one page: flips the 8 KiB alignment of every table.
fn shifted_pa(t: &Table) -> u64 {
    host_pa(t) + KIB4
}

/// Injective but not contiguous, to exercise the slow lookup path.
fn scrambled_pa(t: &Table) -> u64 {
    host_pa(t) ^ 0x7000
}

fn pool(n: usize) -> Vec<Table> {
    vec![Table::empty(); n]
}

fn vtcr40() -> Vtcr {
    vtcr_el2(0x5)
}

/// Leaf descriptors per level reachable from the root.
fn leaf_counts(s2: &Stage2) -> [usize; 4] {
    let mut counts = [0; 4];
    fn visit(s2: &Stage2, table: usize, level: u8, entries: usize, counts: &mut [usize; 4]) {
        for i in 0..entries {
            let (t, e) = if level == s2.start_level {
                (s2.root + i / 512, i % 512)
            } else {
                (table, i)
            };
            let d = s2.pool[t].0[e];
            match desc::kind(d, level) {
                Kind::Invalid => {}
                Kind::Leaf => counts[level as usize] += 1,
                Kind::Table => {
                    let child = s2.child(d).expect("own table");
                    visit(s2, child, level + 1, 512, counts);
                }
            }
        }
    }
    let root_entries = 1usize << (s2.ipa_bits - desc::shift(s2.start_level));
    visit(
        s2,
        s2.root,
        s2.start_level,
        root_entries.max(1),
        &mut counts,
    );
    counts
}

#[test]
fn ram_not_gib_coaligned_uses_2mib_blocks() {
    let mut p = pool(8);
    let mut s2 = Stage2::new(&mut p, host_pa, &vtcr40()).expect("pool ok");
    assert_eq!(
        s2.root_pa() % (2 * KIB4),
        0,
        "concatenated root 8 KiB aligned"
    );
    s2.map(0x4000_0000, 0x4800_0000, 512 << 20, S2Attr::NormalRwx)
        .expect("map RAM");
    assert_eq!(leaf_counts(&s2), [0, 0, 256, 0]);
    assert_eq!(s2.tables_used(), 3, "2 root + 1 level-2");
    assert_eq!(s2.used_tables().count(), 3);
    assert_eq!(
        s2.translate(0x4000_0000),
        Some((0x4800_0000, S2Attr::NormalRwx))
    );
    assert_eq!(
        s2.translate(0x5fff_fff8),
        Some((0x67ff_fff8, S2Attr::NormalRwx))
    );
    assert_eq!(s2.translate(0x6000_0000), None);
    assert_eq!(s2.translate(0x3fff_ffff), None);
}

#[test]
fn gib_coaligned_uses_1gib_blocks_across_both_root_tables() {
    let mut p = pool(4);
    let mut s2 = Stage2::new(&mut p, host_pa, &vtcr40()).expect("pool ok");
    // Straddles the two concatenated root tables (entry 511 and 512).
    s2.map(511 * GIB, 3 * GIB, 2 * GIB, S2Attr::NormalRw)
        .expect("map");
    assert_eq!(leaf_counts(&s2), [0, 2, 0, 0]);
    assert_eq!(s2.tables_used(), 2);
    assert_eq!(
        s2.translate(512 * GIB + 0x123),
        Some((4 * GIB + 0x123, S2Attr::NormalRw))
    );
}

#[test]
fn mixed_sizes_at_odd_offsets() {
    let mut p = pool(8);
    let mut s2 = Stage2::new(&mut p, host_pa, &vtcr40()).expect("pool ok");
    // Starts 4 KiB before a 2 MiB boundary, ends 12 KiB after the next.
    let ipa = 0x4020_0000 - KIB4;
    let pa = 0x8020_0000 - KIB4;
    let size = KIB4 + MIB2 + 3 * KIB4;
    s2.map(ipa, pa, size, S2Attr::DeviceRw).expect("map");
    assert_eq!(leaf_counts(&s2), [0, 0, 1, 4]);
    for off in (0..size).step_by(KIB4 as usize) {
        assert_eq!(
            s2.translate(ipa + off + 8),
            Some((pa + off + 8, S2Attr::DeviceRw))
        );
    }
    assert_eq!(s2.translate(ipa - KIB4), None);
    assert_eq!(s2.translate(ipa + size), None);
    // A single page at an odd place in a fresh gigabyte.
    s2.map(0x1_2345_6000, 0x9_8765_4000, KIB4, S2Attr::NormalRo)
        .expect("page");
    assert_eq!(
        s2.translate(0x1_2345_6abc),
        Some((0x9_8765_4abc, S2Attr::NormalRo))
    );
}

#[test]
fn overlap_is_refused_without_side_effects() {
    let mut p = pool(8);
    let mut s2 = Stage2::new(&mut p, host_pa, &vtcr40()).expect("pool ok");
    s2.map(0x4000_0000, 0x4000_0000, MIB2, S2Attr::NormalRwx)
        .expect("block");
    s2.map(0x4040_0000, 0x4040_0000, KIB4, S2Attr::NormalRwx)
        .expect("page");
    let used = s2.tables_used();
    // Page inside a block.
    assert_eq!(
        s2.map(0x4010_0000, 0, KIB4, S2Attr::NormalRw),
        Err(Stage2Error::AlreadyMapped { ipa: 0x4010_0000 })
    );
    // Block over a table holding a page: found while walking the range;
    // the first (free) part of the range must not have been written.
    assert_eq!(
        s2.map(0x4020_0000, 0x4020_0000, 2 * MIB2, S2Attr::NormalRw),
        Err(Stage2Error::AlreadyMapped { ipa: 0x4040_0000 })
    );
    assert_eq!(s2.translate(0x4020_0000), None);
    assert_eq!(s2.tables_used(), used);
    // Next to the page is fine and reuses its level-3 table.
    s2.map(0x4040_1000, 0x4040_1000, KIB4, S2Attr::NormalRw)
        .expect("neighbour");
    assert_eq!(s2.tables_used(), used);
}

#[test]
fn pool_exhaustion_is_an_error_and_atomic() {
    let mut p = pool(4);
    let mut s2 = Stage2::new(&mut p, host_pa, &vtcr40()).expect("pool ok");
    let free = s2.tables_free();
    assert_eq!(free, 2);
    // Two 4 KiB pages in different gigabytes: 2 level-2 + 2 level-3.
    assert_eq!(
        s2.map(GIB - KIB4, 0x1000_0000, 2 * KIB4, S2Attr::NormalRw),
        Err(Stage2Error::OutOfTables { needed: 4, free })
    );
    assert_eq!(s2.translate(GIB - KIB4), None, "nothing half-mapped");
    assert_eq!(s2.tables_used(), 2);
    let mut empty: [Table; 1] = [Table::empty()];
    assert!(matches!(
        Stage2::new(&mut empty, host_pa, &vtcr40()),
        Err(Stage2Error::NoRootSlot { root_tables: 2 })
    ));
}

#[test]
fn bad_arguments() {
    let mut p = pool(4);
    let mut s2 = Stage2::new(&mut p, host_pa, &vtcr40()).expect("pool ok");
    let a = S2Attr::NormalRw;
    assert_eq!(
        s2.map(0x4000_0800, 0, KIB4, a),
        Err(Stage2Error::Unaligned {
            what: "ipa",
            value: 0x4000_0800
        })
    );
    assert_eq!(
        s2.map(0, 0x10, KIB4, a),
        Err(Stage2Error::Unaligned {
            what: "pa",
            value: 0x10
        })
    );
    assert_eq!(
        s2.map(0, 0, 100, a),
        Err(Stage2Error::Unaligned {
            what: "size",
            value: 100
        })
    );
    assert_eq!(s2.map(0, 0, 0, a), Err(Stage2Error::EmptyRange));
    assert!(matches!(
        s2.map((1 << 40) - KIB4, 0, 2 * KIB4, a),
        Err(Stage2Error::IpaOutOfRange { ipa_bits: 40, .. })
    ));
    assert!(matches!(
        s2.map(!0xfff, 0, KIB4, a),
        Err(Stage2Error::IpaOutOfRange { .. })
    ));
    assert!(matches!(
        s2.map(0, 1 << 48, KIB4, a),
        Err(Stage2Error::PaOutOfRange { pa_bits: 48, .. })
    ));
    assert_eq!(s2.translate(1 << 40), None);
    assert_eq!(s2.tables_used(), 2);
}

#[test]
fn unmap_splits_blocks() {
    let mut p = pool(8);
    let mut s2 = Stage2::new(&mut p, host_pa, &vtcr40()).expect("pool ok");
    s2.map(GIB, 2 * GIB, GIB, S2Attr::NormalRwx).expect("1 GiB");
    // Punch one page out of the middle: split 1 GiB → 2 MiB → 4 KiB.
    s2.unmap(GIB + 3 * MIB2 + KIB4, KIB4).expect("unmap");
    assert_eq!(s2.tables_used(), 4);
    assert_eq!(leaf_counts(&s2), [0, 0, 511, 511]);
    assert_eq!(s2.translate(GIB + 3 * MIB2 + KIB4), None);
    assert_eq!(
        s2.translate(GIB + 3 * MIB2 + 2 * KIB4 + 5),
        Some((2 * GIB + 3 * MIB2 + 2 * KIB4 + 5, S2Attr::NormalRwx))
    );
    assert_eq!(
        s2.translate(GIB + 400 * MIB2),
        Some((2 * GIB + 400 * MIB2, S2Attr::NormalRwx))
    );
    // The hole can be mapped again, elsewhere.
    s2.map(GIB + 3 * MIB2 + KIB4, 0x900_0000, KIB4, S2Attr::DeviceRw)
        .expect("remap hole");
    // Unmapping across holes and whole blocks is fine.
    s2.unmap(0, 4 * GIB).expect("unmap all");
    assert_eq!(leaf_counts(&s2), [0, 0, 0, 0]);
    assert_eq!(s2.translate(GIB + 400 * MIB2), None);
    // Emptied tables are kept and reused by the next map.
    let used = s2.tables_used();
    s2.map(GIB + 3 * MIB2, 0, KIB4, S2Attr::NormalRw)
        .expect("reuse");
    assert_eq!(s2.tables_used(), used);
}

#[test]
fn unmap_exhaustion_is_atomic() {
    let mut p = pool(3);
    let mut s2 = Stage2::new(&mut p, host_pa, &vtcr40()).expect("pool ok");
    let free = s2.tables_free();
    s2.map(0, 0, GIB, S2Attr::NormalRw).expect("block");
    assert_eq!(
        s2.unmap(KIB4, KIB4),
        Err(Stage2Error::OutOfTables { needed: 2, free })
    );
    assert_eq!(s2.translate(KIB4), Some((KIB4, S2Attr::NormalRw)));
}

#[test]
fn root_placement_follows_alignment() {
    for f in [host_pa as fn(&Table) -> u64, shifted_pa] {
        let mut p = pool(5);
        let mut s2 = Stage2::new(&mut p, f, &vtcr40()).expect("pool ok");
        assert_eq!(s2.root_pa() % (2 * KIB4), 0);
        assert_eq!(s2.tables_free(), 3);
        s2.map(0, 0x1000, 3 * KIB4, S2Attr::NormalRw)
            .expect("pages");
        // One level-2 and one level-3 table.
        assert_eq!(s2.translate(0x2000), Some((0x3000, S2Attr::NormalRw)));
        assert_eq!(s2.tables_used(), 4);
    }
}

#[test]
fn non_contiguous_pool_and_single_root() {
    let vtcr = vtcr_el2(0x1); // 36-bit PA: 36-bit IPA, one level-1 root.
    assert_eq!(vtcr.root_tables, 1);
    let mut p = pool(6);
    let mut s2 = Stage2::new(&mut p, scrambled_pa, &vtcr).expect("pool ok");
    s2.map(
        0x10_0000_0000 - 2 * MIB2 - KIB4,
        0x1000,
        2 * KIB4,
        S2Attr::NormalRwx,
    )
    .expect("map");
    assert_eq!(
        s2.translate(0x10_0000_0000 - 2 * MIB2),
        Some((0x2000, S2Attr::NormalRwx))
    );
    assert!(matches!(
        s2.map(0x10_0000_0000, 0, KIB4, S2Attr::NormalRw),
        Err(Stage2Error::IpaOutOfRange { ipa_bits: 36, .. })
    ));
}

#[test]
fn level0_start_for_48_bit_ipa() {
    let vtcr = vtcr_el2_for(0x5, 48).expect("48-bit");
    let mut p = pool(4);
    let mut s2 = Stage2::new(&mut p, host_pa, &vtcr).expect("pool ok");
    s2.map(0xffff_c000_0000, 0x4000_0000, GIB, S2Attr::NormalRw)
        .expect("1 GiB at the top");
    assert_eq!(s2.tables_used(), 2, "root + one level-1 table");
    assert_eq!(
        s2.translate(0xffff_c000_1234),
        Some((0x4000_1234, S2Attr::NormalRw))
    );
}

#[test]
fn geometry_is_validated() {
    let mut p = pool(4);
    let mut bogus = vtcr40();
    bogus.root_tables = 1;
    assert!(matches!(
        Stage2::new(&mut p, host_pa, &bogus),
        Err(Stage2Error::UnsupportedGeometry { .. })
    ));
    fn odd(t: &Table) -> u64 {
        host_pa(t) + 8
    }
    assert!(matches!(
        Stage2::new(&mut p, odd, &vtcr40()),
        Err(Stage2Error::BadTablePa { .. })
    ));
}

#[test]
fn errors_display() {
    let msg = Stage2Error::OutOfTables { needed: 3, free: 1 }.to_string();
    assert!(msg.contains("3 more"), "{msg}");
    let msg = Stage2Error::AlreadyMapped { ipa: 0x4000_0000 }.to_string();
    assert!(msg.contains("0x40000000"), "{msg}");
}
