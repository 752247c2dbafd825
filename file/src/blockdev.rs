//! Block devices for the FAT reader, and a read-ahead cache in front of
//! them.
//!
//! `embedded-sdmmc` 0.10 asks its `BlockDevice` for one 512-byte block at a
//! time, and at every cluster boundary it also reads a FAT sector to find
//! the next cluster. Over virtio-blk each request is a round trip through
//! the device model, so a 34 MiB kernel would cost ~70k requests (plus one
//! FAT read per cluster). [`ReadAhead`] turns that into one backend request
//! per window: it keeps two windows of consecutive blocks, so the FAT
//! sectors and the file's data each stay cached while the reader alternates
//! between them.

use core::cell::RefCell;
use core::fmt;

use embedded_sdmmc::{Block, BlockCount, BlockDevice, BlockIdx};

/// Bytes per block (the FAT logical sector size we support, and
/// `embedded-sdmmc`'s `Block::LEN`).
pub const BLOCK_SIZE: usize = 512;

/// A read-only source of 512-byte blocks addressed by LBA.
pub trait BlockRead {
    /// The backend's own error, kept for diagnostics.
    type Error: fmt::Debug;

    /// Fills `buf` (a whole number of blocks, at least one) with the blocks
    /// starting at `lba`, in one request where the backend can.
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), Self::Error>;

    /// Device size in blocks.
    fn num_blocks(&self) -> u64;
}

/// What [`ReadAhead`] reports to `embedded-sdmmc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceError<E> {
    /// The backend failed reading `blocks` blocks from `lba`.
    Backend { lba: u64, blocks: u64, error: E },
    /// A block past the end of the device was asked for (a corrupt file
    /// system points there).
    OutOfRange { lba: u64, num_blocks: u64 },
    /// A write: this device is read-only.
    ReadOnly,
}

impl<E: fmt::Debug> fmt::Display for DeviceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backend { lba, blocks, error } => {
                write!(f, "reading {blocks} blocks at LBA {lba} failed: {error:?}")
            }
            Self::OutOfRange { lba, num_blocks } => {
                write!(
                    f,
                    "block {lba} is past the end of the {num_blocks}-block disk"
                )
            }
            Self::ReadOnly => f.write_str("write to a read-only block device"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for DeviceError<E> {}

/// Backend traffic, for throughput logging.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Blocks `embedded-sdmmc` asked for.
    pub blocks_requested: u64,
    /// Of those, blocks served from a window.
    pub hits: u64,
    /// Calls to [`BlockRead::read_blocks`].
    pub backend_calls: u64,
    /// Bytes those calls transferred.
    pub backend_bytes: u64,
}

/// Bookkeeping for one window: `len` blocks from `start` (0 = empty).
#[derive(Clone, Copy, Default)]
struct Window {
    start: u64,
    len: usize,
    /// Higher is more recently used.
    stamp: u64,
}

struct State<'buf, D> {
    dev: D,
    /// Two windows of `per_window` blocks each, back to back.
    buf: &'buf mut [u8],
    per_window: usize,
    windows: [Window; 2],
    clock: u64,
    stats: ReadStats,
}

impl<D: BlockRead> State<'_, D> {
    /// Copies block `lba` into `out`, refilling the least recently used
    /// window with `[lba, lba + per_window)` (clipped to the device) on a
    /// miss.
    fn read_one(
        &mut self,
        lba: u64,
        out: &mut [u8; BLOCK_SIZE],
    ) -> Result<(), DeviceError<D::Error>> {
        self.clock += 1;
        self.stats.blocks_requested += 1;
        let clock = self.clock;
        let per = self.per_window;
        for (i, w) in self.windows.iter_mut().enumerate() {
            let Some(k) = lba.checked_sub(w.start).filter(|k| *k < w.len as u64) else {
                continue;
            };
            w.stamp = clock;
            let at = (i * per + k as usize) * BLOCK_SIZE;
            out.copy_from_slice(&self.buf[at..at + BLOCK_SIZE]);
            self.stats.hits += 1;
            return Ok(());
        }
        let num_blocks = self.dev.num_blocks();
        if lba >= num_blocks {
            return Err(DeviceError::OutOfRange { lba, num_blocks });
        }
        if per == 0 {
            // No buffer: every block is its own request.
            return self.fetch(lba, out);
        }
        let len = (num_blocks - lba).min(per as u64) as usize;
        let i = usize::from(self.windows[0].stamp > self.windows[1].stamp);
        // Invalidate first: a failed read must not leave stale data valid.
        self.windows[i].len = 0;
        let region = i * per * BLOCK_SIZE..(i * per + len) * BLOCK_SIZE;
        let (dev, buf) = (&mut self.dev, &mut *self.buf);
        self.stats.backend_calls += 1;
        dev.read_blocks(lba, &mut buf[region.clone()])
            .map_err(|error| DeviceError::Backend {
                lba,
                blocks: len as u64,
                error,
            })?;
        self.stats.backend_bytes += (len * BLOCK_SIZE) as u64;
        self.windows[i] = Window {
            start: lba,
            len,
            stamp: clock,
        };
        out.copy_from_slice(&self.buf[region.start..region.start + BLOCK_SIZE]);
        Ok(())
    }

    fn fetch(&mut self, lba: u64, out: &mut [u8; BLOCK_SIZE]) -> Result<(), DeviceError<D::Error>> {
        self.stats.backend_calls += 1;
        self.dev
            .read_blocks(lba, out)
            .map_err(|error| DeviceError::Backend {
                lba,
                blocks: 1,
                error,
            })?;
        self.stats.backend_bytes += BLOCK_SIZE as u64;
        Ok(())
    }
}

/// An `embedded_sdmmc::BlockDevice` over a [`BlockRead`] with two
/// read-ahead windows carved out of a caller-provided buffer. The buffer is
/// borrowed, not inline, because useful sizes (2 x 64 KiB) exceed the
/// hypervisor's 64 KiB stacks; pass a static or leaked heap buffer.
/// Read-only: the data cannot go stale, so windows are never invalidated.
pub struct ReadAhead<'buf, D: BlockRead> {
    // `BlockDevice` takes `&self`; `RefCell` is enough because the FAT
    // reader is single-threaded and never re-enters the device.
    state: RefCell<State<'buf, D>>,
}

impl<'buf, D: BlockRead> ReadAhead<'buf, D> {
    /// Wraps `dev`, using `buf` as two windows of
    /// `buf.len() / (2 * 512)` blocks each. A buffer under 1 KiB disables
    /// read-ahead (each block is then one backend request).
    pub fn new(dev: D, buf: &'buf mut [u8]) -> Self {
        let per_window = buf.len() / (2 * BLOCK_SIZE);
        Self {
            state: RefCell::new(State {
                dev,
                buf,
                per_window,
                windows: [Window::default(); 2],
                clock: 0,
                stats: ReadStats::default(),
            }),
        }
    }

    /// Blocks per window: the most one backend request fetches.
    pub fn window_blocks(&self) -> usize {
        self.state.borrow().per_window
    }

    /// Reads one block through the windows (as `embedded-sdmmc` does), for
    /// callers that inspect the disk themselves.
    pub fn read_block(
        &self,
        lba: u64,
        out: &mut [u8; BLOCK_SIZE],
    ) -> Result<(), DeviceError<D::Error>> {
        self.state.borrow_mut().read_one(lba, out)
    }

    /// Size of the backend in blocks.
    pub fn device_blocks(&self) -> u64 {
        self.state.borrow().dev.num_blocks()
    }

    /// Traffic so far.
    pub fn stats(&self) -> ReadStats {
        self.state.borrow().stats
    }

    /// The backend back.
    pub fn into_inner(self) -> D {
        self.state.into_inner().dev
    }
}

impl<D: BlockRead> BlockDevice for ReadAhead<'_, D>
where
    D::Error: 'static,
{
    type Error = DeviceError<D::Error>;

    fn read(&self, blocks: &mut [Block], start_block_idx: BlockIdx) -> Result<(), Self::Error> {
        let mut state = self.state.borrow_mut();
        for (lba, block) in (u64::from(start_block_idx.0)..).zip(blocks.iter_mut()) {
            state.read_one(lba, &mut block.contents)?;
        }
        Ok(())
    }

    fn write(&self, _blocks: &[Block], _start_block_idx: BlockIdx) -> Result<(), Self::Error> {
        Err(DeviceError::ReadOnly)
    }

    fn num_blocks(&self) -> Result<BlockCount, Self::Error> {
        // embedded-sdmmc counts in u32; a bigger disk is clipped, which only
        // matters for partitions beyond 2 TiB (MBR cannot describe them).
        let n = self.state.borrow().dev.num_blocks();
        Ok(BlockCount(u32::try_from(n).unwrap_or(u32::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `blocks` blocks where byte i of block b is `(b * 7 + i) as u8`.
    struct Pattern {
        blocks: u64,
        calls: Vec<(u64, usize)>,
        fail_at: Option<u64>,
    }

    impl BlockRead for Pattern {
        type Error = &'static str;
        fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), &'static str> {
            self.calls.push((lba, buf.len() / BLOCK_SIZE));
            if self
                .fail_at
                .is_some_and(|f| (lba..lba + (buf.len() / BLOCK_SIZE) as u64).contains(&f))
            {
                return Err("injected");
            }
            for (i, blk) in buf.chunks_mut(BLOCK_SIZE).enumerate() {
                let b = lba + i as u64;
                for (j, byte) in blk.iter_mut().enumerate() {
                    *byte = (b * 7 + j as u64) as u8;
                }
            }
            Ok(())
        }
        fn num_blocks(&self) -> u64 {
            self.blocks
        }
    }

    fn pattern(blocks: u64) -> Pattern {
        Pattern {
            blocks,
            calls: Vec::new(),
            fail_at: None,
        }
    }

    /// Two windows of 8 blocks.
    fn dev(blocks: u64) -> ReadAhead<'static, Pattern> {
        ReadAhead::new(
            pattern(blocks),
            Box::leak(vec![0u8; 16 * BLOCK_SIZE].into_boxed_slice()),
        )
    }

    fn read(ra: &ReadAhead<'_, Pattern>, lba: u32) -> Result<Block, DeviceError<&'static str>> {
        let mut b = [Block::new()];
        ra.read(&mut b, BlockIdx(lba))?;
        let [b] = b;
        Ok(b)
    }

    fn check(b: &Block, lba: u64) {
        assert!(
            b.iter()
                .enumerate()
                .all(|(j, v)| *v == (lba * 7 + j as u64) as u8),
            "block {lba}"
        );
    }

    #[test]
    fn sequential_reads_one_call_per_window() {
        let ra = dev(100);
        for lba in 0..32 {
            check(&read(&ra, lba).unwrap(), u64::from(lba));
        }
        let s = ra.stats();
        assert_eq!(s.backend_calls, 4);
        assert_eq!(s.backend_bytes, 32 * 512);
        assert_eq!(s.blocks_requested, 32);
        assert_eq!(s.hits, 28);
        assert_eq!(ra.into_inner().calls, [(0, 8), (8, 8), (16, 8), (24, 8)]);
    }

    #[test]
    fn two_windows_survive_alternation() {
        // Like embedded-sdmmc: a FAT sector, then data blocks, repeatedly.
        let ra = dev(1000);
        for lba in 500..516 {
            check(
                &read(&ra, 10 + (lba - 500) / 16).unwrap(),
                u64::from(10 + (lba - 500) / 16),
            );
            check(&read(&ra, lba).unwrap(), u64::from(lba));
        }
        assert_eq!(ra.stats().backend_calls, 3);
    }

    #[test]
    fn clipped_at_end_and_out_of_range() {
        let ra = dev(10);
        check(&read(&ra, 6).unwrap(), 6);
        check(&read(&ra, 9).unwrap(), 9);
        assert_eq!(
            read(&ra, 10).unwrap_err(),
            DeviceError::OutOfRange {
                lba: 10,
                num_blocks: 10
            }
        );
        assert_eq!(ra.into_inner().calls, [(6, 4)]);
    }

    #[test]
    fn multi_block_request_and_errors() {
        let ra = dev(100);
        let mut blocks = [Block::new(), Block::new(), Block::new()];
        ra.read(&mut blocks, BlockIdx(7)).unwrap();
        for (i, b) in blocks.iter().enumerate() {
            check(b, 7 + i as u64);
        }
        assert_eq!(ra.write(&blocks, BlockIdx(0)), Err(DeviceError::ReadOnly));
        assert_eq!(ra.num_blocks().unwrap(), BlockCount(100));

        let mut buf = [0u8; 16 * BLOCK_SIZE];
        let bad = ReadAhead::new(
            Pattern {
                fail_at: Some(20),
                ..pattern(100)
            },
            &mut buf,
        );
        let mut b = [Block::new()];
        let e = bad.read(&mut b, BlockIdx(18)).unwrap_err();
        assert_eq!(
            e,
            DeviceError::Backend {
                lba: 18,
                blocks: 8,
                error: "injected"
            }
        );
        assert!(!e.to_string().contains('\n'));
        // The failed window is not left valid: the retry goes to the backend.
        assert!(bad.read(&mut b, BlockIdx(19)).is_err());
    }

    #[test]
    fn without_a_buffer_every_block_is_a_request() {
        let mut small = [0u8; 1000];
        let ra = ReadAhead::new(pattern(10), &mut small);
        assert_eq!(ra.window_blocks(), 0);
        for lba in [3, 3, 4] {
            check(&read(&ra, lba).unwrap(), u64::from(lba));
        }
        assert_eq!(ra.into_inner().calls, [(3, 1), (3, 1), (4, 1)]);
    }
}
