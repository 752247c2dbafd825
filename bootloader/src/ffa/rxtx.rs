//! RX/TX buffer pairs (DEN0077A §10.2, §14.1): each endpoint maps one pair
//! with FFA_RXTX_MAP; the producer of the RX buffer (the SPMC) may write it
//! only while the endpoint has not yet taken ownership of its contents, and
//! gets it back with FFA_RX_RELEASE. Pure state; the SPMC maps the pages.

use super::abi::FfaError;

/// Buffers are whole 4 KiB pages, at most this many each (our choice).
pub const MAX_PAGES: u32 = 64;
const PAGE: u64 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub tx: u64,
    pub rx: u64,
    pub pages: u32,
    /// The RX buffer holds a message the endpoint has not released yet.
    pub rx_full: bool,
}

impl Pair {
    pub fn bytes(&self) -> usize {
        self.pages as usize * PAGE as usize
    }
}

/// One slot per endpoint the SPMC talks to (`N` of them).
pub struct Buffers<const N: usize> {
    slots: [Option<(u16, Pair)>; N],
}

impl<const N: usize> Default for Buffers<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Buffers<N> {
    pub const fn new() -> Self {
        Self { slots: [None; N] }
    }

    /// FFA_RXTX_MAP (§14.1): page-aligned, non-overlapping, 1..=MAX_PAGES
    /// pages, once per endpoint. `owns` says whether the caller may map
    /// that memory (its own, not already given away).
    pub fn map(
        &mut self,
        id: u16,
        tx: u64,
        rx: u64,
        pages: u32,
        owns: impl Fn(u64, u64) -> bool,
    ) -> Result<(), FfaError> {
        let size = u64::from(pages) * PAGE;
        let valid = pages != 0
            && pages <= MAX_PAGES
            && tx.is_multiple_of(PAGE)
            && rx.is_multiple_of(PAGE)
            && tx.checked_add(size).is_some()
            && rx.checked_add(size).is_some()
            && (tx + size <= rx || rx + size <= tx);
        if !valid {
            return Err(FfaError::InvalidParameters);
        }
        if self.get(id).is_some() {
            return Err(FfaError::Denied);
        }
        if !owns(tx, size) || !owns(rx, size) {
            return Err(FfaError::Denied);
        }
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.is_none())
            .ok_or(FfaError::NoMemory)?;
        *slot = Some((
            id,
            Pair {
                tx,
                rx,
                pages,
                rx_full: false,
            },
        ));
        Ok(())
    }

    /// FFA_RXTX_UNMAP.
    pub fn unmap(&mut self, id: u16) -> Result<Pair, FfaError> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.is_some_and(|(i, _)| i == id))
            .ok_or(FfaError::InvalidParameters)?;
        let (_, pair) = slot.take().ok_or(FfaError::InvalidParameters)?;
        Ok(pair)
    }

    pub fn get(&self, id: u16) -> Option<Pair> {
        self.slots
            .iter()
            .flatten()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| *p)
    }

    fn get_mut(&mut self, id: u16) -> Option<&mut Pair> {
        self.slots
            .iter_mut()
            .flatten()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| p)
    }

    /// Takes the RX buffer to write a message for `id` into (e.g. the
    /// answer to PARTITION_INFO_GET): BUSY while the last one is unread,
    /// DENIED without a mapped pair (§10.2.2).
    pub fn fill_rx(&mut self, id: u16) -> Result<Pair, FfaError> {
        let pair = self.get_mut(id).ok_or(FfaError::Denied)?;
        if pair.rx_full {
            return Err(FfaError::Busy);
        }
        pair.rx_full = true;
        Ok(*pair)
    }

    /// FFA_RX_RELEASE: the endpoint is done with its RX buffer.
    pub fn release(&mut self, id: u16) -> Result<(), FfaError> {
        let pair = self.get_mut(id).ok_or(FfaError::Denied)?;
        if !pair.rx_full {
            return Err(FfaError::Denied);
        }
        pair.rx_full = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owns(addr: u64, size: u64) -> bool {
        addr >= 0x4000_0000 && addr + size <= 0x5000_0000
    }

    #[test]
    fn map_fill_release_unmap() {
        let mut b = Buffers::<2>::new();
        b.map(1, 0x4000_0000, 0x4000_1000, 1, owns).unwrap();
        assert_eq!(
            b.map(1, 0x4000_2000, 0x4000_3000, 1, owns),
            Err(FfaError::Denied),
            "twice"
        );
        assert_eq!(b.get(1).map(|p| p.bytes()), Some(4096));
        assert_eq!(b.release(1), Err(FfaError::Denied), "nothing to release");
        assert!(b.fill_rx(1).is_ok());
        assert_eq!(b.fill_rx(1), Err(FfaError::Busy), "unread message");
        b.release(1).unwrap();
        assert!(b.fill_rx(1).is_ok());
        assert_eq!(b.unmap(1).map(|p| p.rx), Ok(0x4000_1000));
        assert_eq!(b.unmap(1), Err(FfaError::InvalidParameters));
        assert_eq!(b.fill_rx(1), Err(FfaError::Denied), "no buffers");
    }

    #[test]
    fn bad_maps() {
        let mut b = Buffers::<1>::new();
        let bad = Err(FfaError::InvalidParameters);
        assert_eq!(
            b.map(1, 0x4000_0800, 0x4000_1000, 1, owns),
            bad,
            "unaligned"
        );
        assert_eq!(b.map(1, 0x4000_0000, 0x4000_1000, 0, owns), bad, "empty");
        assert_eq!(b.map(1, 0x4000_0000, 0x4000_1000, 2, owns), bad, "overlap");
        assert_eq!(
            b.map(1, 0x4000_0000, 0x4010_0000, MAX_PAGES + 1, owns),
            bad,
            "too big"
        );
        assert_eq!(b.map(1, !0xfff, 0x4000_1000, 1, owns), bad, "wraps");
        assert_eq!(
            b.map(1, 0x6000_0000, 0x6000_1000, 1, owns),
            Err(FfaError::Denied),
            "not the caller's memory"
        );
        b.map(1, 0x4000_0000, 0x4000_1000, 1, owns).unwrap();
        assert_eq!(
            b.map(2, 0x4000_2000, 0x4000_3000, 1, owns),
            Err(FfaError::NoMemory)
        );
    }
}
