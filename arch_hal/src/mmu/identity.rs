//! Builds the identity map: level-1 blocks of 1 GiB where a gigabyte is all
//! RAM or all non-RAM, and level-2 tables of 2 MiB blocks where RAM starts or
//! ends inside a gigabyte. Pure logic, so it is tested on the host.

use super::desc;
use super::Table;

const GIB: u64 = 1 << 30;
const MIB2: u64 = 2 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// More partially-RAM gigabytes than level-2 tables were provided.
    OutOfTables,
    /// A RAM region ends above the 512 GiB we translate.
    AddressTooHigh { end: u64 },
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfTables => write!(f, "identity map needs more level-2 tables than reserved"),
            Self::AddressTooHigh { end } => {
                write!(
                    f,
                    "RAM ends at {end:#x}, above the 512 GiB the EL2 map covers"
                )
            }
        }
    }
}

/// Fills `l1` (and as many of `l2_pool` as needed) with the identity map.
/// `ram` yields (base, size) pairs. `table_pa` returns the physical address of
/// a table (identity on the target; tests pass any function). Returns the
/// number of level-2 tables used.
pub fn build(
    l1: &mut Table,
    l2_pool: &mut [Table],
    ram: &[(u64, u64)],
    table_pa: impl Fn(&Table) -> u64,
) -> Result<usize, MapError> {
    for &(base, size) in ram {
        let end = base.saturating_add(size);
        if end > 512 * GIB {
            return Err(MapError::AddressTooHigh { end });
        }
    }
    let is_ram = |start: u64, len: u64| -> Coverage {
        let mut covered = 0u64;
        for &(base, size) in ram {
            let lo = base.max(start);
            let hi = (base + size).min(start + len);
            if hi > lo {
                covered += hi - lo;
            }
        }
        match covered {
            0 => Coverage::None,
            c if c >= len => Coverage::Full,
            _ => Coverage::Partial,
        }
    };

    let mut used = 0;
    for (i, entry) in l1.0.iter_mut().enumerate() {
        let gib = i as u64 * GIB;
        *entry = match is_ram(gib, GIB) {
            Coverage::None => desc::device_block(gib),
            Coverage::Full => desc::normal_block(gib),
            Coverage::Partial => {
                let l2 = l2_pool.get_mut(used).ok_or(MapError::OutOfTables)?;
                used += 1;
                for (j, e2) in l2.0.iter_mut().enumerate() {
                    let pa = gib + j as u64 * MIB2;
                    // A 2 MiB block that RAM only partly covers is still
                    // mapped Normal: RAM edges from firmware are in practice
                    // 2 MiB aligned, and Device would break unaligned access.
                    *e2 = match is_ram(pa, MIB2) {
                        Coverage::None => desc::device_block(pa),
                        _ => desc::normal_block(pa),
                    };
                }
                desc::table(table_pa(l2))
            }
        };
    }
    Ok(used)
}

enum Coverage {
    None,
    Partial,
    Full,
}

#[cfg(test)]
mod tests {
    use super::super::attr;
    use super::*;

    fn build_for(ram: &[(u64, u64)]) -> (Box<Table>, Vec<Table>, usize) {
        let mut l1 = Box::new(Table::empty());
        let mut pool = vec![Table::empty(), Table::empty()];
        let used = build(&mut l1, &mut pool, ram, |_| 0x7000_0000).expect("fits");
        (l1, pool, used)
    }

    #[test]
    fn whole_gigabyte_of_ram_is_one_block() {
        let (l1, _, used) = build_for(&[(0x4000_0000, GIB)]);
        assert_eq!(used, 0);
        assert_eq!(desc::leaf_attr_index(l1.0[1]), attr::NORMAL);
        assert_eq!(l1.0[1] & 0b11, 0b01);
        assert_eq!(desc::leaf_attr_index(l1.0[0]), attr::DEVICE);
        assert_eq!(desc::leaf_attr_index(l1.0[2]), attr::DEVICE);
        assert_ne!(l1.0[0] & desc::XN, 0);
    }

    #[test]
    fn partial_gigabyte_gets_level2() {
        // 768 MiB at 1 GiB: gigabyte 1 is three quarters RAM.
        let (l1, pool, used) = build_for(&[(0x4000_0000, 768 << 20)]);
        assert_eq!(used, 1);
        assert_eq!(l1.0[1] & 0b11, 0b11);
        assert_eq!(l1.0[1] & desc::ADDR_MASK, 0x7000_0000);
        let l2 = &pool[0];
        assert_eq!(desc::leaf_attr_index(l2.0[0]), attr::NORMAL);
        assert_eq!(desc::leaf_attr_index(l2.0[383]), attr::NORMAL);
        assert_eq!(desc::leaf_attr_index(l2.0[384]), attr::DEVICE);
        assert_eq!(l2.0[384] & desc::ADDR_MASK, 0x4000_0000 + (768 << 20));
    }

    #[test]
    fn ram_spanning_gigabytes() {
        // 1.5 GiB from 1 GiB: gigabyte 1 full, gigabyte 2 half.
        let (l1, _, used) = build_for(&[(0x4000_0000, 3 * GIB / 2)]);
        assert_eq!(used, 1);
        assert_eq!(l1.0[1] & 0b11, 0b01);
        assert_eq!(l1.0[2] & 0b11, 0b11);
    }

    #[test]
    fn reports_exhaustion_and_range() {
        let mut l1 = Table::empty();
        let mut pool: [Table; 0] = [];
        assert_eq!(
            build(&mut l1, &mut pool, &[(0x4000_0000, 1 << 20)], |_| 0),
            Err(MapError::OutOfTables)
        );
        assert_eq!(
            build(&mut l1, &mut pool, &[(511 * GIB, 2 * GIB)], |_| 0),
            Err(MapError::AddressTooHigh { end: 513 * GIB })
        );
    }
}
