//! Physical memory plan: where the heap and the guest's RAM go.
//!
//! Free memory is the DTB's RAM minus its reserved regions, the hypervisor
//! image, and the host DTB (still being read). From it we carve the heap
//! (close to the image) and one contiguous block for guest RAM. Everything
//! the hypervisor owns stays outside the guest block, and the guest block is
//! the only RAM Stage-2 maps, so the guest can never reach hypervisor memory.

use dtb::Region;

const MIB2: u64 = 2 << 20;
const MAX_FREE: usize = 48;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub heap: Region,
    pub guest_ram: Region,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// No free block can hold the heap.
    NoRoomForHeap { size: u64 },
    /// No free 2 MiB-aligned block can hold guest RAM; `largest` is the
    /// biggest that would fit.
    NoRoomForGuest { size: u64, largest: u64 },
    /// Too many holes in free memory to track.
    TooFragmented,
}

impl core::fmt::Display for PlanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoRoomForHeap { size } => write!(f, "no free RAM for a {} MiB heap", size >> 20),
            Self::NoRoomForGuest { size, largest } => write!(
                f,
                "guest wants {} MiB of RAM but the largest free block is {} MiB",
                size >> 20,
                largest >> 20
            ),
            Self::TooFragmented => write!(f, "free memory has too many holes to plan"),
        }
    }
}

/// A fixed-capacity set of free regions with subtraction.
struct Free {
    regions: [Region; MAX_FREE],
    len: usize,
}

impl Free {
    fn new(ram: impl Iterator<Item = Region>) -> Result<Self, PlanError> {
        let mut free = Self {
            regions: [Region::new(0, 0); MAX_FREE],
            len: 0,
        };
        for r in ram {
            free.push(r)?;
        }
        Ok(free)
    }

    fn push(&mut self, r: Region) -> Result<(), PlanError> {
        if r.size == 0 {
            return Ok(());
        }
        let slot = self
            .regions
            .get_mut(self.len)
            .ok_or(PlanError::TooFragmented)?;
        *slot = r;
        self.len += 1;
        Ok(())
    }

    /// Removes `cut` from every free region, splitting where needed.
    fn subtract(&mut self, cut: Region) -> Result<(), PlanError> {
        let old = Self {
            regions: self.regions,
            len: self.len,
        };
        self.len = 0;
        for r in &old.regions[..old.len] {
            if !r.overlaps(&cut) || cut.size == 0 {
                self.push(*r)?;
                continue;
            }
            if r.base < cut.base {
                self.push(Region::new(r.base, cut.base - r.base))?;
            }
            if cut.end() < r.end() {
                self.push(Region::new(cut.end(), r.end() - cut.end()))?;
            }
        }
        Ok(())
    }

    /// The first (lowest) 2 MiB-aligned block of `size` at or above `from`,
    /// or else anywhere.
    fn find(&self, size: u64, from: u64) -> Option<Region> {
        let fit = |r: &Region, min: u64| {
            let base = align_up(r.base.max(min), MIB2)?;
            (base.checked_add(size)? <= r.end()).then_some(Region::new(base, size))
        };
        let mut sorted = self.regions;
        sorted[..self.len].sort_unstable_by_key(|r| r.base);
        let sorted = &sorted[..self.len];
        sorted
            .iter()
            .find_map(|r| fit(r, from))
            .or_else(|| sorted.iter().find_map(|r| fit(r, 0)))
    }

    fn largest_aligned(&self) -> u64 {
        self.regions[..self.len]
            .iter()
            .filter_map(|r| Some(r.end().saturating_sub(align_up(r.base, MIB2)?)))
            .max()
            .unwrap_or(0)
    }
}

fn align_up(x: u64, a: u64) -> Option<u64> {
    Some(x.checked_add(a - 1)? & !(a - 1))
}

/// Free RAM, from which the boot stages take what they need in turn.
pub struct FreeMemory {
    free: Free,
}

impl FreeMemory {
    /// RAM minus `keep` (reserved memory, the image, the DTB).
    pub fn new(
        ram: impl Iterator<Item = Region>,
        keep: impl Iterator<Item = Region>,
    ) -> Result<Self, PlanError> {
        let mut free = Free::new(ram)?;
        for k in keep {
            free.subtract(k)?;
        }
        Ok(Self { free })
    }

    /// Takes a 2 MiB-aligned block of `size`, preferring addresses at or
    /// above `from`.
    pub fn take(&mut self, size: u64, from: u64) -> Option<Region> {
        let r = self.free.find(size, from)?;
        self.free.subtract(r).ok()?;
        Some(r)
    }

    /// The largest 2 MiB-aligned block left.
    pub fn largest(&self) -> u64 {
        self.free.largest_aligned()
    }
}

/// Plans heap and guest RAM in one go (see [`FreeMemory`]).
pub fn plan(
    ram: impl Iterator<Item = Region>,
    keep: impl Iterator<Item = Region>,
    image_end: u64,
    heap_size: u64,
    guest_size: u64,
) -> Result<Plan, PlanError> {
    let mut free = FreeMemory::new(ram, keep)?;
    let heap = free
        .take(heap_size, image_end)
        .ok_or(PlanError::NoRoomForHeap { size: heap_size })?;
    let guest_ram = free
        .take(guest_size, heap.end())
        .ok_or(PlanError::NoRoomForGuest {
            size: guest_size,
            largest: free.largest(),
        })?;
    Ok(Plan { heap, guest_ram })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn qemu_1g(guest: u64) -> Result<Plan, PlanError> {
        plan(
            [Region::new(0x4000_0000, 1024 * MIB)].into_iter(),
            [
                Region::new(0x4100_0000, 4 * MIB),   // image
                Region::new(0x7e57_6df0, 0x10_0000), // U-Boot's DTB copy
                Region::new(0x4000_0000, 0x10_0000), // QEMU's DTB
            ]
            .into_iter(),
            0x4140_0000,
            16 * MIB,
            guest,
        )
    }

    #[test]
    fn heap_after_image_guest_after_heap() {
        let p = qemu_1g(512 * MIB).unwrap();
        assert_eq!(p.heap, Region::new(0x4140_0000, 16 * MIB));
        assert_eq!(p.guest_ram.base, 0x4240_0000);
        assert_eq!(p.guest_ram.size, 512 * MIB);
        assert!(!p.guest_ram.overlaps(&p.heap));
        assert!(!p.guest_ram.overlaps(&Region::new(0x4100_0000, 4 * MIB)));
    }

    #[test]
    fn guest_avoids_reserved_and_dtb() {
        // 800 MiB does not fit below the DTB copy at 0x7e57_6df0 when it
        // starts at 0x4240_0000: the plan must fail cleanly, not overlap.
        let err = qemu_1g(1000 * MIB).unwrap_err();
        match err {
            PlanError::NoRoomForGuest { largest, .. } => assert!(largest < 1000 * MIB),
            e => panic!("{e:?}"),
        }
        assert!(err.to_string().contains("largest free block"));
    }

    #[test]
    fn splits_and_aligns() {
        let p = plan(
            [
                Region::new(0x4000_0000, 64 * MIB),
                Region::new(0x8000_0000, 64 * MIB),
            ]
            .into_iter(),
            [Region::new(0x4000_0000, 0x12_3456)].into_iter(),
            0x4012_3456,
            2 * MIB,
            60 * MIB,
        )
        .unwrap();
        assert_eq!(p.heap.base, 0x4020_0000);
        // The first region has 60 MiB left above 0x4040_0000? No: 64 - 4 = 60.
        assert_eq!(p.guest_ram, Region::new(0x4040_0000, 60 * MIB));
        assert_eq!(
            plan(
                [Region::new(0, 4 * MIB)].into_iter(),
                core::iter::empty(),
                0,
                8 * MIB,
                MIB
            ),
            Err(PlanError::NoRoomForHeap { size: 8 * MIB })
        );
    }
}
