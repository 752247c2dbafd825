//! Host-chosen device parameters and the virtio-blk configuration space
//! the guest reads at offset 0x100 (§5.2.4).

use crate::error::ConfigError;
use crate::spec::{blk, blk_config, MAX_QUEUE_SIZE, SECTOR_SIZE};

/// Parameters the hypervisor chooses for the emulated disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Answer to VIRTIO_BLK_T_GET_ID: 20 bytes, NUL-padded (Linux shows it
    /// as `/sys/block/vda/serial`).
    pub serial: [u8; blk::ID_BYTES],
    /// QueueNumMax: a power of two in 4..=256.
    pub queue_max_size: u16,
    /// VendorID register (§4.2.2); informational, Linux matches any vendor.
    pub vendor_id: u32,
}

impl DeviceConfig {
    /// "ELFH" in memory order: this project's vendor id.
    pub const DEFAULT_VENDOR_ID: u32 = u32::from_le_bytes(*b"ELFH");
    /// Default serial number.
    pub const DEFAULT_SERIAL: &'static str = "elf-hypervisor-vda";

    /// Defaults: 256-entry queue, [`DEFAULT_SERIAL`](Self::DEFAULT_SERIAL),
    /// [`DEFAULT_VENDOR_ID`](Self::DEFAULT_VENDOR_ID).
    pub const fn new() -> Self {
        Self {
            serial: serial_bytes(Self::DEFAULT_SERIAL),
            queue_max_size: MAX_QUEUE_SIZE,
            vendor_id: Self::DEFAULT_VENDOR_ID,
        }
    }

    /// Replaces the serial (truncated to 20 bytes, NUL-padded).
    pub const fn with_serial(mut self, serial: &str) -> Self {
        self.serial = serial_bytes(serial);
        self
    }

    /// Replaces QueueNumMax (checked by [`VirtioBlkMmio::new`]).
    ///
    /// [`VirtioBlkMmio::new`]: crate::VirtioBlkMmio::new
    pub const fn with_queue_max_size(mut self, size: u16) -> Self {
        self.queue_max_size = size;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let n = self.queue_max_size;
        if !n.is_power_of_two() || !(4..=MAX_QUEUE_SIZE).contains(&n) {
            return Err(ConfigError::QueueSize(n));
        }
        Ok(())
    }
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// `s` as a GET_ID answer: the first 20 bytes, NUL-padded.
pub const fn serial_bytes(s: &str) -> [u8; blk::ID_BYTES] {
    let src = s.as_bytes();
    let mut out = [0; blk::ID_BYTES];
    let mut i = 0;
    while i < src.len() && i < out.len() {
        out[i] = src[i];
        i += 1;
    }
    out
}

/// The rendered `struct virtio_blk_config`; fixed for the device's life,
/// so ConfigGeneration never changes (§4.2.2: it changes only when the
/// configuration does).
#[derive(Clone, Copy)]
pub(crate) struct ConfigSpace {
    bytes: [u8; blk_config::SIZE],
}

impl ConfigSpace {
    pub(crate) fn new(capacity_sectors: u64, queue_max_size: u16) -> Self {
        let mut bytes = [0; blk_config::SIZE];
        let mut put = |at: usize, field: &[u8]| bytes[at..at + field.len()].copy_from_slice(field);
        put(blk_config::CAPACITY, &capacity_sectors.to_le_bytes());
        // Without indirect descriptors a request needs seg_max data
        // descriptors plus header and status in the ring itself; Linux
        // never splits a request, so seg_max must leave room for those two
        // or a maximal request could never be queued.
        let seg_max = u32::from(queue_max_size).saturating_sub(2).max(1);
        put(blk_config::SEG_MAX, &seg_max.to_le_bytes());
        // SECTOR_SIZE is 512, so the cast is lossless.
        put(blk_config::BLK_SIZE, &(SECTOR_SIZE as u32).to_le_bytes());
        Self { bytes }
    }

    /// A little-endian read of `size` (1, 2 or 4) bytes at `offset`; bytes
    /// past the structure read as zero. The decoder guarantees alignment.
    pub(crate) fn read(&self, offset: usize, size: u8) -> u32 {
        let mut value = [0u8; 4];
        for (i, b) in value.iter_mut().take(usize::from(size)).enumerate() {
            *b = offset
                .checked_add(i)
                .and_then(|at| self.bytes.get(at))
                .copied()
                .unwrap_or(0);
        }
        u32::from_le_bytes(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_is_truncated_and_padded() {
        assert_eq!(&serial_bytes("ab")[..3], b"ab\0");
        assert_eq!(
            &serial_bytes("0123456789abcdefghijKLMN"),
            b"0123456789abcdefghij"
        );
    }

    #[test]
    fn config_space_layout() {
        let c = ConfigSpace::new(0x1_2345_6789, 256);
        assert_eq!(c.read(0, 4), 0x2345_6789);
        assert_eq!(c.read(4, 4), 1);
        assert_eq!(c.read(0, 1), 0x89);
        assert_eq!(c.read(2, 2), 0x2345);
        assert_eq!(c.read(0x0c, 4), 254);
        assert_eq!(c.read(0x14, 4), 512);
        assert_eq!(c.read(0x08, 4), 0);
        assert_eq!(c.read(0x5c, 4), 0);
        assert_eq!(c.read(0xfc, 4), 0);
    }

    #[test]
    fn queue_size_validation() {
        for bad in [0, 1, 2, 3, 6, 100, 512, u16::MAX] {
            assert_eq!(
                DeviceConfig::new().with_queue_max_size(bad).validate(),
                Err(ConfigError::QueueSize(bad))
            );
        }
        for good in [4, 8, 128, 256] {
            assert_eq!(
                DeviceConfig::new().with_queue_max_size(good).validate(),
                Ok(())
            );
        }
    }
}
