//! Moving bytes between guest buffers and the scratch buffer.
//!
//! A [`Cursor`] treats a list of segments as one byte stream, because the
//! device "MUST NOT make assumptions about the particular arrangement of
//! descriptors" (§2.6.4 message framing): the header may share a buffer
//! with data, and a sector may straddle two buffers.

use crate::error::GuestMemoryError;
use crate::guest_memory::{offset_ipa, GuestMemory};
use crate::queue::{total_len, Segment};

pub(crate) struct Cursor<'c> {
    segs: &'c [Segment],
    /// Current segment and offset in it (`off < segs[seg].len`).
    seg: usize,
    off: u32,
    /// Bytes left before the limit.
    left: u64,
    /// Bytes moved so far.
    done: u64,
}

impl<'c> Cursor<'c> {
    /// A stream over all of `segs`.
    pub(crate) fn new(segs: &'c [Segment]) -> Self {
        Self::with_limit(segs, u64::MAX)
    }

    /// A stream over the first `limit` bytes of `segs`.
    pub(crate) fn with_limit(segs: &'c [Segment], limit: u64) -> Self {
        Self {
            segs,
            seg: 0,
            off: 0,
            left: total_len(segs).min(limit),
            done: 0,
        }
    }

    /// Bytes left in the stream.
    pub(crate) fn remaining(&self) -> u64 {
        self.left
    }

    /// Bytes moved so far (including a partial piece before an error is
    /// not counted: only completed guest accesses are).
    pub(crate) fn transferred(&self) -> u64 {
        self.done
    }

    /// The next contiguous guest range of at most `want` bytes.
    fn peek(&self, want: usize) -> Result<Option<(u64, usize)>, GuestMemoryError> {
        let Some(seg) = self.segs.get(self.seg) else {
            return Ok(None);
        };
        let in_seg = u64::from(seg.len.saturating_sub(self.off));
        // Bounded by `want`, so the cast back to usize is lossless.
        let n = (want as u64).min(in_seg).min(self.left) as usize;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some((offset_ipa(seg.addr, u64::from(self.off), n)?, n)))
    }

    fn advance(&mut self, n: usize) {
        // n <= the segment's remaining u32 length.
        self.off = self.off.saturating_add(n as u32);
        self.left -= n as u64;
        self.done += n as u64;
        if self.segs.get(self.seg).is_some_and(|s| self.off >= s.len) {
            self.seg += 1;
            self.off = 0;
        }
    }

    /// Fills as much of `out` as the stream holds; returns the byte count.
    pub(crate) fn read_into(
        &mut self,
        mem: &impl GuestMemory,
        out: &mut [u8],
    ) -> Result<usize, GuestMemoryError> {
        let mut filled = 0;
        while let Some((ipa, n)) = self.peek(out.len() - filled)? {
            mem.read(ipa, &mut out[filled..filled + n])?;
            self.advance(n);
            filled += n;
        }
        Ok(filled)
    }

    /// Writes as much of `data` as the stream has room for; returns the
    /// byte count.
    pub(crate) fn write_from(
        &mut self,
        mem: &mut impl GuestMemory,
        data: &[u8],
    ) -> Result<usize, GuestMemoryError> {
        let mut taken = 0;
        while let Some((ipa, n)) = self.peek(data.len() - taken)? {
            mem.write(ipa, &data[taken..taken + n])?;
            self.advance(n);
            taken += n;
        }
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Flat(Vec<u8>);
    impl GuestMemory for Flat {
        fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
            let err = GuestMemoryError {
                ipa,
                len: buf.len(),
            };
            let start = usize::try_from(ipa).map_err(|_| err)?;
            let end = start.checked_add(buf.len()).ok_or(err)?;
            let src = self.0.get(start..end).ok_or(err)?;
            buf.copy_from_slice(src);
            Ok(())
        }
        fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
            let err = GuestMemoryError {
                ipa,
                len: data.len(),
            };
            let start = usize::try_from(ipa).map_err(|_| err)?;
            let end = start.checked_add(data.len()).ok_or(err)?;
            let dst = self.0.get_mut(start..end).ok_or(err)?;
            dst.copy_from_slice(data);
            Ok(())
        }
    }

    fn seg(addr: u64, len: u32) -> Segment {
        Segment { addr, len }
    }

    #[test]
    fn reads_across_segments() {
        let mem = Flat((0..=255).collect());
        let segs = [seg(10, 3), seg(100, 2), seg(200, 4)];
        let mut c = Cursor::new(&segs);
        let mut a = [0; 4];
        assert_eq!(c.read_into(&mem, &mut a), Ok(4));
        assert_eq!(a, [10, 11, 12, 100]);
        let mut b = [0; 10];
        assert_eq!(c.read_into(&mem, &mut b), Ok(5));
        assert_eq!(&b[..5], &[101, 200, 201, 202, 203]);
        assert_eq!(c.remaining(), 0);
        assert_eq!(c.transferred(), 9);
    }

    #[test]
    fn limit_and_errors() {
        let mut mem = Flat(vec![0; 64]);
        let segs = [seg(0, 4), seg(62, 4)];
        let mut c = Cursor::with_limit(&segs, 7);
        assert_eq!(c.remaining(), 7);
        let err = c.write_from(&mut mem, &[1; 16]).unwrap_err();
        assert_eq!(err, GuestMemoryError { ipa: 62, len: 3 });
        assert_eq!(c.transferred(), 4);
        assert_eq!(&mem.0[..5], &[1, 1, 1, 1, 0]);
    }

    /// Accepts every address: shows the cursor itself refuses to wrap.
    struct Anything;
    impl GuestMemory for Anything {
        fn read(&self, _: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
            buf.fill(0xaa);
            Ok(())
        }
        fn write(&mut self, _: u64, _: &[u8]) -> Result<(), GuestMemoryError> {
            Ok(())
        }
    }

    #[test]
    fn address_overflow_is_an_error() {
        let segs = [seg(u64::MAX - 1, 4)];
        let mut c = Cursor::new(&segs);
        let mut b = [0; 1];
        assert_eq!(c.read_into(&Anything, &mut b), Ok(1));
        assert_eq!(c.read_into(&Anything, &mut b), Ok(1));
        assert_eq!(
            c.read_into(&Anything, &mut b),
            Err(GuestMemoryError {
                ipa: u64::MAX - 1,
                len: 1
            })
        );
        assert_eq!(c.transferred(), 2);
    }
}
