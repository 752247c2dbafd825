//! `map` and `unmap`: recursive walks over the tables.
//!
//! Each operation walks twice: a dry run that checks the whole range and
//! counts the tables it would need, then, only if that succeeds and the pool
//! has enough tables, the walk that writes. So a refused call (overlap,
//! exhaustion, bad range) leaves the tables untouched.
//!
//! New subtrees are filled before the descriptor pointing at them is
//! written, with a release fence (`DMB ISH` on AArch64) in between, so a
//! walker that sees the new table descriptor also sees the table's contents
//! (the usual publication pattern; Arm ARM B2 memory ordering). Mapping into
//! invalid entries is therefore safe while the VM runs. Unmapping, and
//! splitting a block to unmap part of it, replace valid entries: do it with
//! the VM's vCPUs stopped, followed by TLB invalidation (break-before-make,
//! Arm ARM D8, "Break-before-make").

use core::sync::atomic::{fence, Ordering};

use super::desc::{self, fits_leaf, span, Kind};
use super::{S2Attr, Stage2, Stage2Error};

const PAGE: u64 = 4096;

impl Stage2<'_> {
    /// Maps `[ipa, ipa+size)` to `[pa, pa+size)` with `attr`, using 1 GiB
    /// blocks, 2 MiB blocks and 4 KiB pages as the co-alignment of `ipa` and
    /// `pa` allows. All of `ipa`, `pa`, `size` must be 4 KiB aligned, and
    /// no part of the range may already be mapped.
    pub fn map(&mut self, ipa: u64, pa: u64, size: u64, attr: S2Attr) -> Result<(), Stage2Error> {
        aligned("ipa", ipa)?;
        aligned("pa", pa)?;
        aligned("size", size)?;
        self.check_ipa(ipa, size)?;
        let pa_limit = 1u64 << self.pa_bits;
        if pa.checked_add(size).is_none_or(|end| end > pa_limit) {
            return Err(Stage2Error::PaOutOfRange {
                pa,
                size,
                pa_bits: self.pa_bits,
            });
        }
        let op = Op::Map {
            pa,
            attr: attr.bits(),
        };
        self.run(ipa, size, op)
    }

    /// Unmaps `[ipa, ipa+size)` (4 KiB aligned). Holes in the range are
    /// fine: the call makes the whole range unmapped. A block only partly
    /// inside the range is split into the next level's blocks/pages (which
    /// can need up to two tables per level at each end of the range). The
    /// caller must invalidate the TLB for the range afterwards, and stop
    /// the VM's vCPUs first if a block may be split (see the module docs).
    pub fn unmap(&mut self, ipa: u64, size: u64) -> Result<(), Stage2Error> {
        aligned("ipa", ipa)?;
        aligned("size", size)?;
        self.check_ipa(ipa, size)?;
        self.run(ipa, size, Op::Unmap)
    }

    fn check_ipa(&self, ipa: u64, size: u64) -> Result<(), Stage2Error> {
        if size == 0 {
            return Err(Stage2Error::EmptyRange);
        }
        let limit = 1u64 << self.ipa_bits;
        if ipa.checked_add(size).is_none_or(|end| end > limit) {
            return Err(Stage2Error::IpaOutOfRange {
                ipa,
                size,
                ipa_bits: self.ipa_bits,
            });
        }
        Ok(())
    }

    /// Dry run, table check, then the real walk.
    fn run(&mut self, ipa: u64, size: u64, op: Op) -> Result<(), Stage2Error> {
        let (root, level) = (self.root, self.start_level);
        let needed = self.walk(root, level, ipa, size, op, false)?;
        let free = self.tables_free();
        if needed > free {
            return Err(Stage2Error::OutOfTables { needed, free });
        }
        self.walk(root, level, ipa, size, op, true).map(|_| ())
    }

    /// Applies `op` to `[ipa, ipa+size)` inside `table` at `level`. Returns
    /// the number of new tables this needs; writes only if `commit`.
    fn walk(
        &mut self,
        table: usize,
        level: u8,
        ipa: u64,
        size: u64,
        op: Op,
        commit: bool,
    ) -> Result<usize, Stage2Error> {
        let mut needed = 0;
        let mut off = 0;
        while off < size {
            let a = ipa + off;
            let len = (span(level) - (a & (span(level) - 1))).min(size - off);
            let (t, e) = self.locate(table, level, a);
            let d = self.pool[t].0[e];
            let sub = op.advance(off);
            match (desc::kind(d, level), sub) {
                (Kind::Table, _) => {
                    let child = self.child(d)?;
                    needed += self.walk(child, level + 1, a, len, sub, commit)?;
                }
                (Kind::Leaf, Op::Map { .. }) => return Err(Stage2Error::AlreadyMapped { ipa: a }),
                (Kind::Invalid, Op::Unmap) => {}
                (Kind::Invalid, Op::Map { pa, attr }) if fits_leaf(level, a, pa, len) => {
                    if commit {
                        self.pool[t].0[e] = desc::leaf(level, pa, attr);
                    }
                }
                (Kind::Leaf, Op::Unmap) if len == span(level) => {
                    if commit {
                        self.pool[t].0[e] = 0;
                    }
                }
                (kind, _) => {
                    // Needs a next-level table: an invalid entry the range
                    // does not fill with one leaf, or a leaf to split.
                    needed += 1;
                    if commit {
                        let (child, child_pa) = self.alloc()?;
                        if kind == Kind::Leaf {
                            self.fill_split(child, level + 1, d);
                        }
                        self.walk(child, level + 1, a, len, sub, true)?;
                        fence(Ordering::Release);
                        self.pool[t].0[e] = desc::table(child_pa);
                    } else {
                        needed += match sub {
                            Op::Map { pa, .. } => map_cost(level + 1, a, pa, len),
                            Op::Unmap => split_cost(level + 1, a, len),
                        };
                    }
                }
            }
            off += len;
        }
        Ok(needed)
    }

    /// Fills a fresh table at `level` with the 512 leaves equivalent to the
    /// leaf `d` one level up.
    fn fill_split(&mut self, table: usize, level: u8, d: u64) {
        let oa = d & desc::OA_MASK & !(span(level - 1) - 1);
        let attr = desc::leaf_attr_bits(d);
        for (i, e) in self.pool[table].0.iter_mut().enumerate() {
            *e = desc::leaf(level, oa + i as u64 * span(level), attr);
        }
    }
}

/// What a walk does to the range.
#[derive(Clone, Copy)]
enum Op {
    /// Map, with `pa` the output address of the range's first byte.
    Map {
        pa: u64,
        attr: u64,
    },
    Unmap,
}

impl Op {
    /// The same operation for the part of the range `off` bytes in.
    fn advance(self, off: u64) -> Self {
        match self {
            Self::Map { pa, attr } => Self::Map { pa: pa + off, attr },
            Self::Unmap => Self::Unmap,
        }
    }
}

/// Tables needed to map `[ipa, ipa+len)` into an empty table at `level`.
fn map_cost(level: u8, ipa: u64, pa: u64, len: u64) -> usize {
    let mut n = 0;
    let mut off = 0;
    while off < len {
        let a = ipa + off;
        let l = (span(level) - (a & (span(level) - 1))).min(len - off);
        if !fits_leaf(level, a, pa + off, l) {
            n += 1 + map_cost(level + 1, a, pa + off, l);
        }
        off += l;
    }
    n
}

/// Tables needed to unmap `[ipa, ipa+len)` from a table at `level` that is
/// entirely leaves (a freshly split block): only partly covered leaves split.
fn split_cost(level: u8, ipa: u64, len: u64) -> usize {
    let mut n = 0;
    let mut off = 0;
    while off < len {
        let a = ipa + off;
        let l = (span(level) - (a & (span(level) - 1))).min(len - off);
        if l != span(level) {
            n += 1 + split_cost(level + 1, a, l);
        }
        off += l;
    }
    n
}

fn aligned(what: &'static str, value: u64) -> Result<(), Stage2Error> {
    if value.is_multiple_of(PAGE) {
        Ok(())
    } else {
        Err(Stage2Error::Unaligned { what, value })
    }
}
