//! The host disk: the first virtio-blk device the DTB lists, driven by
//! `virtio-drivers` over its MMIO transport (legacy v1 or modern v2).

use crate::virtio_hal::HypHal;
use core::fmt;
use core::ptr::NonNull;
use virtio_drivers::device::blk::{VirtIOBlk, SECTOR_SIZE};
use virtio_drivers::transport::mmio::{MmioTransport, MmioVersion, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};

pub struct HostDisk {
    blk: VirtIOBlk<HypHal, MmioTransport<'static>>,
    pub base: u64,
    pub legacy: bool,
}

#[derive(Debug)]
pub enum StorageError {
    NoBlockDevice,
    Init(virtio_drivers::Error),
    Io {
        lba: u64,
        blocks: usize,
        err: virtio_drivers::Error,
    },
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoBlockDevice => write!(f, "no virtio-blk device in the DTB's virtio-mmio slots"),
            Self::Init(e) => write!(f, "virtio-blk initialisation failed: {e}"),
            Self::Io { lba, blocks, err } => {
                write!(f, "disk read of {blocks} blocks at LBA {lba} failed: {err}")
            }
        }
    }
}

impl HostDisk {
    /// Probes the DTB's virtio-mmio slots for a block device.
    pub fn probe(host: &dtb::HostInfo) -> Result<Self, StorageError> {
        for dev in host.virtio_mmio.iter() {
            let Some(header) = NonNull::new(dev.region.base as usize as *mut VirtIOHeader) else {
                continue;
            };
            // SAFETY: the DTB names this region a virtio-mmio device; it is
            // mapped Device by our identity map and nothing else drives it.
            let transport = match unsafe { MmioTransport::new(header, dev.region.size as usize) } {
                Ok(t) => t,
                // Empty QEMU slots report device ID 0.
                Err(_) => continue,
            };
            if transport.device_type() != DeviceType::Block {
                continue;
            }
            let legacy = transport.version() == MmioVersion::Legacy;
            let blk = VirtIOBlk::new(transport).map_err(StorageError::Init)?;
            return Ok(Self {
                blk,
                base: dev.region.base,
                legacy,
            });
        }
        Err(StorageError::NoBlockDevice)
    }

    pub fn capacity_blocks(&self) -> u64 {
        self.blk.capacity()
    }

    /// Reads whole 512-byte blocks; `buf.len()` must be a non-zero multiple
    /// of 512.
    pub fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        let blocks = buf.len() / SECTOR_SIZE;
        self.blk
            .read_blocks(lba as usize, buf)
            .map_err(|err| StorageError::Io { lba, blocks, err })
    }

    pub fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), StorageError> {
        let blocks = buf.len() / SECTOR_SIZE;
        self.blk
            .write_blocks(lba as usize, buf)
            .map_err(|err| StorageError::Io { lba, blocks, err })
    }

    pub fn flush(&mut self) -> Result<(), StorageError> {
        self.blk.flush().map_err(StorageError::Init)
    }
}

/// The FAT loader reads the host disk through this.
impl file::blockdev::BlockRead for HostDisk {
    type Error = StorageError;

    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        HostDisk::read_blocks(self, lba, buf)
    }

    fn num_blocks(&self) -> u64 {
        self.capacity_blocks()
    }
}
