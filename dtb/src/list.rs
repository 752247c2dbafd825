//! A fixed-capacity list for `Copy` items, because the parser runs before
//! there is a heap.

use core::fmt;

/// The list is full; carries its capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full(pub usize);

/// Up to `N` items stored inline; only the first [`len`](Self::len) are live.
#[derive(Clone, Copy)]
pub struct BoundedList<T: Copy, const N: usize> {
    items: [Option<T>; N],
    len: usize,
}

impl<T: Copy, const N: usize> BoundedList<T, N> {
    /// An empty list.
    pub const fn new() -> Self {
        Self {
            items: [None; N],
            len: 0,
        }
    }

    /// Appends `item`, or reports that all `N` slots are taken.
    pub fn push(&mut self, item: T) -> Result<(), Full> {
        let slot = self.items.get_mut(self.len).ok_or(Full(N))?;
        *slot = Some(item);
        self.len += 1;
        Ok(())
    }

    /// Number of live items.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// `true` when no item has been pushed.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of items.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The `index`-th item, if live.
    pub fn get(&self, index: usize) -> Option<T> {
        self.items.get(index).copied().flatten()
    }

    /// The first item, if any.
    pub fn first(&self) -> Option<T> {
        self.get(0)
    }

    /// The live items in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        // Slots past `len` are always `None`, so flattening is exact.
        self.items.iter().take(self.len).filter_map(|x| *x)
    }
}

impl<T: Copy, const N: usize> Default for BoundedList<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + fmt::Debug, const N: usize> fmt::Debug for BoundedList<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Copy + PartialEq, const N: usize> PartialEq for BoundedList<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Copy + Eq, const N: usize> Eq for BoundedList<T, N> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_until_full() {
        let mut l = BoundedList::<u32, 2>::new();
        assert!(l.is_empty());
        assert_eq!(l.push(1), Ok(()));
        assert_eq!(l.push(2), Ok(()));
        assert_eq!(l.push(3), Err(Full(2)));
        assert_eq!(l.len(), 2);
        assert_eq!(l.iter().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(l.get(1), Some(2));
        assert_eq!(l.get(2), None);
        assert_eq!(format!("{l:?}"), "[1, 2]");
    }

    #[test]
    fn zero_capacity() {
        let mut l = BoundedList::<u8, 0>::new();
        assert_eq!(l.push(1), Err(Full(0)));
        assert_eq!(l.first(), None);
    }
}
