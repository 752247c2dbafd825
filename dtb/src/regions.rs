//! Physical address ranges and a fixed-capacity list of them.

use core::fmt;

use crate::error::DtbError;
use crate::list::BoundedList;

/// A physical address range `[base, base + size)`.
///
/// Regions built by this crate never wrap past 2^64 (the parser rejects such
/// `reg` values); the methods here still cope with arbitrary field values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Region {
    pub base: u64,
    pub size: u64,
}

impl Region {
    /// A region from its base and size.
    pub const fn new(base: u64, size: u64) -> Self {
        Self { base, size }
    }

    /// One past the last byte, saturating at `u64::MAX`.
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    /// `base + size` if it does not overflow.
    pub const fn checked_end(&self) -> Option<u64> {
        self.base.checked_add(self.size)
    }

    /// Whether `addr` lies inside the region.
    pub const fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr - self.base < self.size
    }

    /// Whether the two regions share at least one byte (empty regions
    /// overlap nothing). Computed in 128 bits so regions ending at 2^64
    /// compare correctly.
    pub const fn overlaps(&self, other: &Region) -> bool {
        let (a0, a1) = (self.base as u128, self.base as u128 + self.size as u128);
        let (b0, b1) = (other.base as u128, other.base as u128 + other.size as u128);
        self.size != 0 && other.size != 0 && a0 < b1 && b0 < a1
    }
}

/// Up to `N` regions, in the order they were found in the tree.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Regions<const N: usize> {
    list: BoundedList<Region, N>,
}

impl<const N: usize> Regions<N> {
    /// An empty list.
    pub const fn new() -> Self {
        Self {
            list: BoundedList::new(),
        }
    }

    /// Appends a region; `TooMany("regions")` once all `N` slots are used.
    pub fn push(&mut self, region: Region) -> Result<(), DtbError> {
        self.push_named(region, "regions")
    }

    /// Like [`push`](Self::push), but names the list in the error.
    pub(crate) fn push_named(
        &mut self,
        region: Region,
        what: &'static str,
    ) -> Result<(), DtbError> {
        self.list.push(region).map_err(|_| DtbError::TooMany(what))
    }

    /// The regions in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = Region> + '_ {
        self.list.iter()
    }

    /// The `index`-th region.
    pub fn get(&self, index: usize) -> Option<Region> {
        self.list.get(index)
    }

    /// Number of regions.
    pub const fn len(&self) -> usize {
        self.list.len()
    }

    /// `true` when there are no regions.
    pub const fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Maximum number of regions.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Sum of all sizes (saturating; overlaps are counted twice).
    pub fn total_size(&self) -> u64 {
        self.iter().fold(0u64, |acc, r| acc.saturating_add(r.size))
    }

    /// Whether any region contains `addr`.
    pub fn contains(&self, addr: u64) -> bool {
        self.iter().any(|r| r.contains(addr))
    }

    /// Whether any region overlaps `other`.
    pub fn overlaps(&self, other: &Region) -> bool {
        self.iter().any(|r| r.overlaps(other))
    }
}

impl<const N: usize> fmt::Debug for Regions<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.list, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_end_contains() {
        let r = Region::new(0x4000_0000, 0x1000);
        assert_eq!(r.end(), 0x4000_1000);
        assert!(r.contains(0x4000_0000));
        assert!(r.contains(0x4000_0fff));
        assert!(!r.contains(0x4000_1000));
        assert!(!r.contains(0x3fff_ffff));
        assert!(!Region::new(5, 0).contains(5));
        let top = Region::new(u64::MAX - 1, 2);
        assert!(top.contains(u64::MAX));
        assert_eq!(top.end(), u64::MAX);
        assert_eq!(top.checked_end(), None);
    }

    #[test]
    fn region_overlaps() {
        let a = Region::new(0x1000, 0x1000);
        assert!(a.overlaps(&Region::new(0x1fff, 1)));
        assert!(!a.overlaps(&Region::new(0x2000, 1)));
        assert!(!a.overlaps(&Region::new(0x0, 0x1000)));
        assert!(a.overlaps(&Region::new(0x0, 0x1001)));
        assert!(a.overlaps(&Region::new(0x0, u64::MAX)));
        assert!(!a.overlaps(&Region::new(0x1800, 0)));
        let top = Region::new(u64::MAX - 1, 2);
        assert!(top.overlaps(&Region::new(u64::MAX, 1)));
    }

    #[test]
    fn regions_capacity_and_total() {
        let mut rs = Regions::<2>::new();
        assert!(rs.is_empty());
        rs.push(Region::new(0, 10)).unwrap();
        rs.push(Region::new(100, 5)).unwrap();
        assert_eq!(
            rs.push(Region::new(200, 1)),
            Err(DtbError::TooMany("regions"))
        );
        assert_eq!(rs.len(), 2);
        assert_eq!(rs.total_size(), 15);
        assert!(rs.contains(104));
        assert!(!rs.contains(105));
        assert!(rs.overlaps(&Region::new(9, 2)));
        let mut big = Regions::<2>::new();
        big.push(Region::new(0, u64::MAX)).unwrap();
        big.push(Region::new(0, u64::MAX)).unwrap();
        assert_eq!(big.total_size(), u64::MAX);
    }
}
