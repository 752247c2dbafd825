//! The stage-2 builder: owns a pool of tables lent by the caller, hands them
//! out in order, and looks descriptors up. Mapping and unmapping live in
//! `walk.rs`.

use super::desc::{self, Kind};
use super::{S2Attr, Stage2Error, Vtcr};
use crate::mmu::Table;

const TABLE_BYTES: u64 = 4096;
const ENTRIES: usize = 512;

/// Stage-2 tables for one VM, built in a caller-provided pool.
///
/// Pool layout: the root (`root_tables` contiguous tables aligned to their
/// combined size, as concatenation requires) is the first such run in the
/// pool; every other table is handed out in pool order as walks need one.
/// Tables emptied by `unmap` are not returned to the pool (a later `map` of
/// the same range reuses them), so the pool only ever grows in use.
pub struct Stage2<'a> {
    pub(super) pool: &'a mut [Table],
    table_pa: fn(&Table) -> u64,
    /// Pool index of the first root table.
    pub(super) root: usize,
    root_tables: usize,
    /// Non-root tables handed out so far.
    allocated: usize,
    pub(super) start_level: u8,
    pub(super) ipa_bits: u32,
    pub(super) pa_bits: u32,
    /// PA of `pool[0]` when the pool is physically contiguous (always on the
    /// identity-mapped target), so descriptor → table is a subtraction.
    contiguous_base: Option<u64>,
}

impl<'a> Stage2<'a> {
    /// Prepares empty tables with the geometry of `vtcr` in `pool`.
    /// `table_pa` gives a table's physical address (the identity on the
    /// target). The root tables are zeroed here, the others when handed out.
    ///
    /// Sizing: `vtcr.root_tables`, plus one level-2 table per GiB of IPA
    /// space touched but not mapped by 1 GiB blocks, plus one level-3 table
    /// per 2 MiB not mapped by 2 MiB blocks. E.g. a 4 GiB guest whose RAM IPA
    /// and PA are 2 MiB co-aligned needs 2 + 4 (5 if not GiB aligned) tables,
    /// plus a few for MMIO; 4 KiB co-alignment only would need 2048 more.
    /// With the 40-bit default the root is two tables aligned to 8 KiB: if
    /// the pool's start is only 4 KiB aligned, the root starts at the second
    /// table and the first is used as an ordinary table, so give the pool at
    /// least `root_tables + 1` entries or align it to 8 KiB.
    pub fn new(
        pool: &'a mut [Table],
        table_pa: fn(&Table) -> u64,
        vtcr: &Vtcr,
    ) -> Result<Self, Stage2Error> {
        let geometry_ok = match vtcr.start_level {
            0 => vtcr.root_tables == 1 && (40..=48).contains(&vtcr.ipa_bits),
            1 => {
                (31..=42).contains(&vtcr.ipa_bits)
                    && vtcr.root_tables == 1 << vtcr.ipa_bits.saturating_sub(39)
            }
            _ => false,
        };
        if !geometry_ok || vtcr.pa_bits > 48 {
            return Err(Stage2Error::UnsupportedGeometry {
                ipa_bits: vtcr.ipa_bits,
                pa_bits: vtcr.pa_bits,
            });
        }
        let mut contiguous = true;
        let base = pool.first().map(table_pa);
        for (i, t) in pool.iter().enumerate() {
            let pa = table_pa(t);
            if pa & (TABLE_BYTES - 1) != 0 || pa & !desc::OA_MASK != 0 {
                return Err(Stage2Error::BadTablePa { pa });
            }
            contiguous &= base.map(|b| b.wrapping_add(i as u64 * TABLE_BYTES)) == Some(pa);
        }
        let n = vtcr.root_tables;
        let root_bytes = n as u64 * TABLE_BYTES;
        let root = (0..pool.len().saturating_sub(n - 1))
            .find(|&r| {
                let pa = table_pa(&pool[r]);
                pa.is_multiple_of(root_bytes)
                    && (1..n).all(|j| table_pa(&pool[r + j]) == pa + j as u64 * TABLE_BYTES)
            })
            .ok_or(Stage2Error::NoRootSlot { root_tables: n })?;
        for t in &mut pool[root..root + n] {
            t.0.fill(0);
        }
        Ok(Self {
            pool,
            table_pa,
            root,
            root_tables: n,
            allocated: 0,
            start_level: vtcr.start_level,
            ipa_bits: vtcr.ipa_bits,
            pa_bits: vtcr.pa_bits,
            contiguous_base: if contiguous { base } else { None },
        })
    }

    /// Physical address of the root, for [`super::vttbr_el2`].
    pub fn root_pa(&self) -> u64 {
        (self.table_pa)(&self.pool[self.root])
    }

    /// Tables in use, root included.
    pub fn tables_used(&self) -> usize {
        self.root_tables + self.allocated
    }

    /// Tables still available for walks.
    pub fn tables_free(&self) -> usize {
        self.pool.len() - self.tables_used()
    }

    /// Every table in use (root first), for cache maintenance by the caller.
    pub fn used_tables(&self) -> impl Iterator<Item = &Table> + '_ {
        (0..self.tables_used()).filter_map(move |i| self.pool.get(self.used_index(i)))
    }

    /// Size of the IPA space in bits.
    pub fn ipa_bits(&self) -> u32 {
        self.ipa_bits
    }

    /// The PA and attributes `ipa` maps to, if it is mapped.
    pub fn translate(&self, ipa: u64) -> Option<(u64, S2Attr)> {
        if ipa >> self.ipa_bits != 0 {
            return None;
        }
        let mut table = self.root;
        let mut level = self.start_level;
        loop {
            let (t, e) = self.locate(table, level, ipa);
            let d = self.pool.get(t)?.0[e];
            match desc::kind(d, level) {
                Kind::Invalid => return None,
                Kind::Leaf => {
                    let offset = ipa & (desc::span(level) - 1);
                    let pa = (d & desc::OA_MASK & !(desc::span(level) - 1)) | offset;
                    return Some((pa, S2Attr::from_descriptor(d)?));
                }
                Kind::Table => {
                    table = self.child(d).ok()?;
                    level += 1;
                }
            }
        }
    }

    /// Pool index and entry index of `ipa`'s descriptor in `table` at
    /// `level`. At the initial level, the concatenated root tables act as one
    /// table of `root_tables * 512` entries (Arm ARM D8.2, concatenated
    /// translation tables).
    pub(super) fn locate(&self, table: usize, level: u8, ipa: u64) -> (usize, usize) {
        let index = (ipa >> desc::shift(level)) as usize;
        if level == self.start_level {
            let index = index % (self.root_tables * ENTRIES);
            (self.root + index / ENTRIES, index % ENTRIES)
        } else {
            (table, index % ENTRIES)
        }
    }

    /// Pool index of the table a table descriptor points at.
    pub(super) fn child(&self, d: u64) -> Result<usize, Stage2Error> {
        let pa = d & desc::OA_MASK;
        if let Some(base) = self.contiguous_base {
            let i = (pa.wrapping_sub(base) / TABLE_BYTES) as usize;
            if pa >= base && pa & (TABLE_BYTES - 1) == 0 && self.in_use(i) {
                return Ok(i);
            }
        } else if let Some(i) = (0..self.tables_used())
            .map(|i| self.used_index(i))
            .find(|&i| self.pool.get(i).map(self.table_pa) == Some(pa))
        {
            return Ok(i);
        }
        Err(Stage2Error::ForeignTable { pa })
    }

    /// Hands out the next free table, zeroed, and its PA.
    pub(super) fn alloc(&mut self) -> Result<(usize, u64), Stage2Error> {
        let free = self.tables_free();
        if free == 0 {
            return Err(Stage2Error::OutOfTables { needed: 1, free });
        }
        let i = self.slot(self.allocated);
        self.allocated += 1;
        let t = &mut self.pool[i];
        t.0.fill(0);
        Ok((i, (self.table_pa)(t)))
    }

    /// Pool index of the `k`-th non-root table: the pool minus the root run.
    fn slot(&self, k: usize) -> usize {
        if k < self.root {
            k
        } else {
            k + self.root_tables
        }
    }

    /// Whether pool index `i` is a table handed out or part of the root.
    fn in_use(&self, i: usize) -> bool {
        let k = if i < self.root {
            i
        } else if i < self.root + self.root_tables {
            return true;
        } else {
            i - self.root_tables
        };
        k < self.allocated
    }

    /// Pool index of the `i`-th table in use: root tables first.
    fn used_index(&self, i: usize) -> usize {
        if i < self.root_tables {
            self.root + i
        } else {
            self.slot(i - self.root_tables)
        }
    }
}
