//! The storage behind the emulated disk.

use crate::error::BackendError;

/// Storage behind the device: in the hypervisor a window of the real disk
/// (partition 2) driven synchronously by its own virtio-blk driver; in tests
/// an in-memory array. Sectors are 512 bytes ([`SECTOR_SIZE`]).
///
/// The device checks every request against [`capacity_sectors`] before
/// calling `read`/`write`, and only passes buffers whose length is a
/// non-zero multiple of 512, so a backend sees no guest-chosen garbage
/// beyond "which in-range sectors".
///
/// [`SECTOR_SIZE`]: crate::spec::SECTOR_SIZE
/// [`capacity_sectors`]: BlockBackend::capacity_sectors
pub trait BlockBackend {
    /// Size of the disk in 512-byte sectors. Read once, at construction,
    /// and published as `capacity` in configuration space (§5.2.4).
    fn capacity_sectors(&self) -> u64;
    /// Fills `buf` (a multiple of 512 bytes) from `sector` onwards.
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BackendError>;
    /// Writes `data` (a multiple of 512 bytes) from `sector` onwards.
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), BackendError>;
    /// Makes completed writes durable (VIRTIO_BLK_T_FLUSH).
    fn flush(&mut self) -> Result<(), BackendError>;
    /// `true` offers VIRTIO_BLK_F_RO and fails every write with IOERR
    /// without calling [`write`](Self::write). Read once, at construction.
    fn read_only(&self) -> bool {
        false
    }
}

impl<T: BlockBackend + ?Sized> BlockBackend for &mut T {
    fn capacity_sectors(&self) -> u64 {
        (**self).capacity_sectors()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BackendError> {
        (**self).read(sector, buf)
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), BackendError> {
        (**self).write(sector, data)
    }
    fn flush(&mut self) -> Result<(), BackendError> {
        (**self).flush()
    }
    fn read_only(&self) -> bool {
        (**self).read_only()
    }
}
