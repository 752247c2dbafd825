//! Usable RAM: the memory nodes with every reservation cut out.

use dtb::{HostInfo, Region, Regions};

use crate::error::PlatformError;

/// Capacity of [`UsableRam`]: cutting reservations out can split regions.
pub const MAX_USABLE_REGIONS: usize = 32;

/// Page-aligned RAM the hypervisor may use, ascending within each memory
/// node, in tree order.
pub type UsableRam = Regions<MAX_USABLE_REGIONS>;

const PAGE: u64 = 0x1000;

/// `host.memory` minus `host.reserved` (the header's reservation block and
/// `/reserved-memory`: on the Pi 5 TF-A's 0..0x80000) minus `exclude`,
/// each piece shrunk to whole 4 KiB pages.
pub fn usable(host: &HostInfo, exclude: &[Region]) -> Result<UsableRam, PlatformError> {
    let cuts = || host.reserved.iter().chain(exclude.iter().copied());
    let mut out = UsableRam::new();
    for ram in host.memory.iter() {
        subtract(ram, cuts, &mut out)?;
    }
    if out.is_empty() {
        return Err(PlatformError::NoUsableMemory);
    }
    Ok(out)
}

/// Pushes the parts of `ram` no cut overlaps, lowest first.
fn subtract<I: Iterator<Item = Region>>(
    ram: Region,
    cuts: impl Fn() -> I,
    out: &mut UsableRam,
) -> Result<(), PlatformError> {
    let end = ram.end();
    let mut cursor = ram.base;
    while cursor < end {
        let rest = Region::new(cursor, end - cursor);
        let next = cuts().filter(|c| c.overlaps(&rest)).min_by_key(|c| c.base);
        let Some(cut) = next else {
            push_pages(out, cursor, end)?;
            break;
        };
        if cut.base > cursor {
            push_pages(out, cursor, cut.base)?;
        }
        cursor = cursor.max(cut.end());
    }
    Ok(())
}

fn push_pages(out: &mut UsableRam, start: u64, end: u64) -> Result<(), PlatformError> {
    let Some(start) = start.checked_next_multiple_of(PAGE) else {
        return Ok(());
    };
    let end = end - end % PAGE;
    if start >= end {
        return Ok(());
    }
    out.push(Region::new(start, end - start))
        .map_err(|_| PlatformError::TooManyRegions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(memory: &[Region], reserved: &[Region]) -> HostInfo {
        let mut m = Regions::new();
        memory.iter().for_each(|r| m.push(*r).unwrap());
        let mut res = Regions::new();
        reserved.iter().for_each(|r| res.push(*r).unwrap());
        HostInfo {
            memory: m,
            reserved: res,
            cpu_count: 1,
            cpu_mpidrs: [0; dtb::MAX_CPUS],
            psci: None,
            uart: None,
            gic: None,
            timer: None,
            virtio_mmio: dtb::BoundedList::new(),
        }
    }

    fn list(r: &UsableRam) -> Vec<(u64, u64)> {
        r.iter().map(|r| (r.base, r.end())).collect()
    }

    #[test]
    fn cuts_reservations_and_exclusions() {
        // A Pi 5-like map: TF-A at 0..0x80000, the image at 0x4100_0000,
        // the firmware DTB somewhere low.
        let h = host(
            &[
                Region::new(0, 0x3fc0_0000),
                Region::new(0x4000_0000, 0xc000_0000),
            ],
            &[Region::new(0, 0x8_0000)],
        );
        let ram = usable(
            &h,
            &[
                Region::new(0x4100_0000, 0x30_0000),
                Region::new(0x2eff_8100, 0x1_a000),
            ],
        )
        .unwrap();
        assert_eq!(
            list(&ram),
            [
                (0x8_0000, 0x2eff_8000),
                (0x2f01_3000, 0x3fc0_0000),
                (0x4000_0000, 0x4100_0000),
                (0x4130_0000, 0x1_0000_0000),
            ]
        );
    }

    #[test]
    fn overlapping_and_outside_cuts() {
        let h = host(
            &[Region::new(0x1000, 0x9000)],
            &[Region::new(0x2000, 0x2000), Region::new(0x3000, 0x2000)],
        );
        let ram = usable(&h, &[Region::new(0xf000_0000, 0x1000)]).unwrap();
        assert_eq!(list(&ram), [(0x1000, 0x2000), (0x5000, 0xa000)]);
    }

    #[test]
    fn nothing_left() {
        let h = host(&[Region::new(0, 0x1000)], &[Region::new(0, 0x800)]);
        assert_eq!(usable(&h, &[]), Err(PlatformError::NoUsableMemory));
    }

    #[test]
    fn too_many_pieces() {
        let h = host(&[Region::new(0, 0x100_0000)], &[]);
        let holes: Vec<_> = (0..40)
            .map(|i| Region::new(0x1000 + i * 0x2000, 0x1000))
            .collect();
        assert_eq!(usable(&h, &holes), Err(PlatformError::TooManyRegions));
    }
}
