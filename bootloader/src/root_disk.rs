//! The guest's root disk: partition 2 of the host disk, and nothing else.
//! Sector numbers from the guest are relative to the partition and checked
//! against its size, so partition 1 (the hypervisor's files) is out of reach.

use crate::storage::HostDisk;
use virtio::{BackendError, BlockBackend};

pub struct RootDisk {
    disk: HostDisk,
    first_lba: u64,
    blocks: u64,
}

impl RootDisk {
    pub fn new(disk: HostDisk, first_lba: u64, blocks: u64) -> Self {
        Self {
            disk,
            first_lba,
            blocks,
        }
    }

    fn check(&self, sector: u64, bytes: usize) -> Result<u64, BackendError> {
        let count = (bytes / 512) as u64;
        match sector.checked_add(count) {
            Some(end) if end <= self.blocks && bytes.is_multiple_of(512) => {
                Ok(self.first_lba + sector)
            }
            _ => Err(BackendError::OutOfRange),
        }
    }
}

impl BlockBackend for RootDisk {
    fn capacity_sectors(&self) -> u64 {
        self.blocks
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BackendError> {
        let lba = self.check(sector, buf.len())?;
        self.disk
            .read_blocks(lba, buf)
            .map_err(|_| BackendError::Io)
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), BackendError> {
        let lba = self.check(sector, data.len())?;
        self.disk
            .write_blocks(lba, data)
            .map_err(|_| BackendError::Io)
    }

    fn flush(&mut self) -> Result<(), BackendError> {
        self.disk.flush().map_err(|_| BackendError::Io)
    }
}
