//! Executing one virtio-blk request (§5.2.6) from a validated chain.
//!
//! Layout (§5.2.6, framing-independent per §2.6.4): the device-readable
//! bytes start with `struct { le32 type; le32 reserved; le64 sector; }`,
//! followed by the data for OUT; the device-writable bytes are the data
//! for IN/GET_ID followed by one status byte, which is the very last
//! writable byte of the chain.

use crate::backend::BlockBackend;
use crate::error::{BackendError, RequestError};
use crate::guest_memory::{offset_ipa, GuestMemory};
use crate::queue::{total_len, Chain};
use crate::spec::{blk, SECTOR_SIZE};
use crate::stats::Stats;
use crate::transfer::Cursor;

/// What the device knows about its disk, fixed at construction.
#[derive(Clone, Copy)]
pub(crate) struct Disk {
    pub capacity: u64,
    pub read_only: bool,
    pub serial: [u8; blk::ID_BYTES],
}

/// Everything a request needs besides the chain.
pub(crate) struct Context<'a, B, M> {
    pub disk: &'a Disk,
    pub backend: &'a mut B,
    /// A non-empty multiple of 512 bytes.
    pub scratch: &'a mut [u8],
    pub mem: &'a mut M,
    pub stats: &'a mut Stats,
}

impl<B: BlockBackend, M: GuestMemory> Context<'_, B, M> {
    /// Runs `chain` and writes its status byte. Returns the used length
    /// (§2.7.8: bytes written to device-writable buffers: data moved plus
    /// the status byte), or an error that breaks the device because there
    /// is no status byte to report through.
    pub(crate) fn execute(&mut self, chain: &Chain) -> Result<u32, RequestError> {
        let status_seg = chain.writable().last().ok_or(RequestError::NoStatusByte)?;
        // Segments in a chain are never empty, so `len - 1` cannot wrap.
        let status_ipa = offset_ipa(status_seg.addr, u64::from(status_seg.len - 1), 1)
            .map_err(RequestError::StatusMemory)?;
        // Probe the status byte before touching the disk: a request that
        // would break the device must not have side effects first.
        self.mem
            .write(status_ipa, &[blk::S_IOERR])
            .map_err(RequestError::StatusMemory)?;

        let data_in = total_len(chain.writable()) - 1;
        let mut written = 0;
        let result = self.dispatch(chain, data_in, &mut written);
        self.stats.requests += 1;
        let status = match result {
            Ok(()) => blk::S_OK,
            Err(e) => {
                self.stats.last_error = Some(e);
                if let RequestError::Unsupported { .. } = e {
                    self.stats.unsupported += 1;
                    blk::S_UNSUPP
                } else {
                    self.stats.io_errors += 1;
                    blk::S_IOERR
                }
            }
        };
        self.mem
            .write(status_ipa, &[status])
            .map_err(RequestError::StatusMemory)?;
        // written <= data_in < 2^32 - 1 (chain total is validated).
        Ok(u32::try_from(written + 1).unwrap_or(u32::MAX))
    }

    fn dispatch(
        &mut self,
        chain: &Chain,
        data_in: u64,
        written: &mut u64,
    ) -> Result<(), RequestError> {
        let mut readable = Cursor::new(chain.readable());
        let mut header = [0u8; blk::HEADER_SIZE];
        let got = readable
            .read_into(self.mem, &mut header)
            .map_err(RequestError::DataMemory)?;
        if got < header.len() {
            return Err(RequestError::HeaderTooShort { len: got as u64 });
        }
        let [t0, t1, t2, t3, _, _, _, _, s0, s1, s2, s3, s4, s5, s6, s7] = header;
        let request_type = u32::from_le_bytes([t0, t1, t2, t3]);
        // The middle word is `reserved` (legacy `ioprio`): ignored.
        let sector = u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
        let mut writable = Cursor::with_limit(chain.writable(), data_in);

        let result = match request_type {
            blk::T_IN => {
                self.stats.reads += 1;
                self.read(sector, &mut writable)
            }
            blk::T_OUT => {
                self.stats.writes += 1;
                self.write(sector, &mut readable)
            }
            blk::T_FLUSH => {
                self.stats.flushes += 1;
                // `sector` must be 0 (driver requirement, §5.2.6.1); the
                // device has nothing to gain from rejecting it.
                self.backend.flush().map_err(RequestError::Backend)
            }
            blk::T_GET_ID => {
                // Linux passes exactly 20 bytes; a shorter buffer gets a
                // truncated id, like QEMU does.
                let serial = self.disk.serial;
                writable
                    .write_from(self.mem, &serial)
                    .map(drop)
                    .map_err(RequestError::DataMemory)
            }
            // DISCARD, WRITE_ZEROES, SECURE_ERASE, GET_LIFETIME need
            // features we do not offer; anything else is unknown.
            other => Err(RequestError::Unsupported {
                request_type: other,
            }),
        };
        *written = writable.transferred();
        result
    }

    /// Checks `len` bytes at `sector` against alignment and capacity.
    fn check_range(&self, sector: u64, len: u64) -> Result<(), RequestError> {
        if !len.is_multiple_of(SECTOR_SIZE as u64) {
            return Err(RequestError::UnalignedLength { len });
        }
        let sectors = len / SECTOR_SIZE as u64;
        match sector.checked_add(sectors) {
            Some(end) if end <= self.disk.capacity => Ok(()),
            _ => Err(RequestError::BeyondCapacity { sector, sectors }),
        }
    }

    /// Bytes to move next: up to the scratch size. An empty scratch buffer
    /// (only possible with a misbehaving `AsMut`) would never make progress,
    /// so it is an error rather than an endless loop.
    fn chunk(&self, remaining: u64) -> Result<usize, RequestError> {
        if self.scratch.is_empty() {
            return Err(RequestError::Backend(BackendError::Other(
                "scratch buffer is empty",
            )));
        }
        // Bounded by the scratch length, so the cast is lossless.
        Ok(remaining.min(self.scratch.len() as u64) as usize)
    }

    /// VIRTIO_BLK_T_IN: backend → scratch → guest, one chunk at a time.
    fn read(&mut self, mut sector: u64, dst: &mut Cursor<'_>) -> Result<(), RequestError> {
        self.check_range(sector, dst.remaining())?;
        while dst.remaining() > 0 {
            let n = self.chunk(dst.remaining())?;
            let buf = &mut self.scratch[..n];
            self.backend
                .read(sector, buf)
                .map_err(RequestError::Backend)?;
            dst.write_from(self.mem, buf)
                .map_err(RequestError::DataMemory)?;
            self.stats.bytes_read += n as u64;
            sector += (n / SECTOR_SIZE) as u64;
        }
        Ok(())
    }

    /// VIRTIO_BLK_T_OUT: guest → scratch → backend. A chunk that fails
    /// half-way leaves earlier chunks written, which IOERR allows (the
    /// range's contents are then unspecified, as on real disks).
    fn write(&mut self, mut sector: u64, src: &mut Cursor<'_>) -> Result<(), RequestError> {
        // §5.2.6.2: with VIRTIO_BLK_F_RO, IOERR "and MUST NOT write any data".
        if self.disk.read_only {
            return Err(RequestError::WriteToReadOnly);
        }
        self.check_range(sector, src.remaining())?;
        while src.remaining() > 0 {
            let n = self.chunk(src.remaining())?;
            let buf = &mut self.scratch[..n];
            src.read_into(self.mem, buf)
                .map_err(RequestError::DataMemory)?;
            self.backend
                .write(sector, buf)
                .map_err(RequestError::Backend)?;
            self.stats.bytes_written += n as u64;
            sector += (n / SECTOR_SIZE) as u64;
        }
        Ok(())
    }
}
