//! Decoding of trapped accesses to the virtio-mmio register window
//! (§4.2.2): which register, and whether width, alignment and direction are
//! allowed. Pure: no device state, so every rule is testable on its own.

use crate::error::AccessError;
use crate::spec::{reg, MMIO_WINDOW_SIZE};

/// A register of the §4.2.2 layout (version 2 only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Register {
    MagicValue,
    Version,
    DeviceId,
    VendorId,
    DeviceFeatures,
    DeviceFeaturesSel,
    DriverFeatures,
    DriverFeaturesSel,
    QueueSel,
    QueueNumMax,
    QueueNum,
    QueueReady,
    QueueNotify,
    InterruptStatus,
    InterruptAck,
    Status,
    QueueDescLow,
    QueueDescHigh,
    QueueDriverLow,
    QueueDriverHigh,
    QueueDeviceLow,
    QueueDeviceHigh,
    ShmSel,
    ShmLenLow,
    ShmLenHigh,
    ShmBaseLow,
    ShmBaseHigh,
    ConfigGeneration,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Read,
    Write,
    ReadWrite,
}

/// What an access resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Register(Register),
    /// Byte offset into device-specific configuration space (from 0x100).
    Config {
        offset: usize,
    },
}

fn lookup(offset: u64) -> Option<(Register, Dir)> {
    use Dir::*;
    use Register::*;
    Some(match offset {
        reg::MAGIC_VALUE => (MagicValue, Read),
        reg::VERSION => (Version, Read),
        reg::DEVICE_ID => (DeviceId, Read),
        reg::VENDOR_ID => (VendorId, Read),
        reg::DEVICE_FEATURES => (DeviceFeatures, Read),
        reg::DEVICE_FEATURES_SEL => (DeviceFeaturesSel, Write),
        reg::DRIVER_FEATURES => (DriverFeatures, Write),
        reg::DRIVER_FEATURES_SEL => (DriverFeaturesSel, Write),
        reg::QUEUE_SEL => (QueueSel, Write),
        reg::QUEUE_NUM_MAX => (QueueNumMax, Read),
        reg::QUEUE_NUM => (QueueNum, Write),
        reg::QUEUE_READY => (QueueReady, ReadWrite),
        reg::QUEUE_NOTIFY => (QueueNotify, Write),
        reg::INTERRUPT_STATUS => (InterruptStatus, Read),
        reg::INTERRUPT_ACK => (InterruptAck, Write),
        reg::STATUS => (Status, ReadWrite),
        reg::QUEUE_DESC_LOW => (QueueDescLow, Write),
        reg::QUEUE_DESC_HIGH => (QueueDescHigh, Write),
        reg::QUEUE_DRIVER_LOW => (QueueDriverLow, Write),
        reg::QUEUE_DRIVER_HIGH => (QueueDriverHigh, Write),
        reg::QUEUE_DEVICE_LOW => (QueueDeviceLow, Write),
        reg::QUEUE_DEVICE_HIGH => (QueueDeviceHigh, Write),
        reg::SHM_SEL => (ShmSel, Write),
        reg::SHM_LEN_LOW => (ShmLenLow, Read),
        reg::SHM_LEN_HIGH => (ShmLenHigh, Read),
        reg::SHM_BASE_LOW => (ShmBaseLow, Read),
        reg::SHM_BASE_HIGH => (ShmBaseHigh, Read),
        reg::CONFIG_GENERATION => (ConfigGeneration, Read),
        // QueueReset (0x0c0) exists only with VIRTIO_F_RING_RESET, which is
        // not offered; the legacy registers are absent in version 2.
        _ => return None,
    })
}

/// Shared checks for both directions.
fn decode(offset: u64, size: u8, write: bool) -> Result<Target, AccessError> {
    if offset >= MMIO_WINDOW_SIZE {
        return Err(AccessError::OutOfWindow { offset });
    }
    if offset >= reg::CONFIG {
        // §4.2.2.2: configuration space is accessed with the width of the
        // field (Linux: readb/readw/readl; 64-bit fields as two readl).
        if !matches!(size, 1 | 2 | 4) {
            return Err(AccessError::BadSize { offset, size });
        }
        if !offset.is_multiple_of(u64::from(size)) {
            return Err(AccessError::Misaligned { offset, size });
        }
        if write {
            // No writable field is offered (CONFIG_WCE's `writeback` is not).
            return Err(AccessError::ReadOnly { offset });
        }
        return Ok(Target::Config {
            // < 0x100, so the cast is lossless.
            offset: (offset - reg::CONFIG) as usize,
        });
    }
    // §4.2.2.2: "The driver MUST only use 32 bit wide and aligned reads and
    // writes to access the control registers".
    if size != 4 {
        return Err(AccessError::BadSize { offset, size });
    }
    if !offset.is_multiple_of(4) {
        return Err(AccessError::Misaligned { offset, size });
    }
    let (register, dir) = lookup(offset).ok_or(AccessError::NoRegister { offset })?;
    match (dir, write) {
        (Dir::Read, true) => Err(AccessError::ReadOnly { offset }),
        (Dir::Write, false) => Err(AccessError::WriteOnly { offset }),
        _ => Ok(Target::Register(register)),
    }
}

/// Resolves a guest read of `size` bytes at `offset` in the window.
pub(crate) fn decode_read(offset: u64, size: u8) -> Result<Target, AccessError> {
    decode(offset, size, false)
}

/// Resolves a guest write of `size` bytes at `offset` in the window.
pub(crate) fn decode_write(offset: u64, size: u8) -> Result<Target, AccessError> {
    decode(offset, size, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_need_32_bit_aligned_access() {
        assert_eq!(
            decode_read(0, 4),
            Ok(Target::Register(Register::MagicValue))
        );
        for size in [1, 2, 8, 0, 3] {
            assert_eq!(
                decode_read(0x70, size),
                Err(AccessError::BadSize { offset: 0x70, size })
            );
        }
        assert_eq!(
            decode_read(0x72, 4),
            Err(AccessError::Misaligned {
                offset: 0x72,
                size: 4
            })
        );
    }

    #[test]
    fn direction_is_enforced() {
        assert_eq!(
            decode_write(0x000, 4),
            Err(AccessError::ReadOnly { offset: 0 })
        );
        assert_eq!(
            decode_read(0x050, 4),
            Err(AccessError::WriteOnly { offset: 0x50 })
        );
        assert_eq!(
            decode_read(0x070, 4),
            Ok(Target::Register(Register::Status))
        );
        assert_eq!(
            decode_write(0x070, 4),
            Ok(Target::Register(Register::Status))
        );
    }

    #[test]
    fn holes_and_legacy_registers_are_rejected() {
        for offset in [0x018, 0x028, 0x03c, 0x040, 0x0c0, 0x0f8] {
            assert_eq!(
                decode_read(offset, 4),
                Err(AccessError::NoRegister { offset })
            );
        }
        assert_eq!(
            decode_read(0x200, 4),
            Err(AccessError::OutOfWindow { offset: 0x200 })
        );
        assert_eq!(
            decode_read(u64::MAX, 1),
            Err(AccessError::OutOfWindow { offset: u64::MAX })
        );
    }

    #[test]
    fn config_space_takes_narrow_aligned_reads_only() {
        assert_eq!(decode_read(0x100, 1), Ok(Target::Config { offset: 0 }));
        assert_eq!(decode_read(0x10a, 2), Ok(Target::Config { offset: 10 }));
        assert_eq!(decode_read(0x104, 4), Ok(Target::Config { offset: 4 }));
        assert_eq!(decode_read(0x1ff, 1), Ok(Target::Config { offset: 0xff }));
        assert_eq!(
            decode_read(0x100, 8),
            Err(AccessError::BadSize {
                offset: 0x100,
                size: 8
            })
        );
        assert_eq!(
            decode_read(0x101, 2),
            Err(AccessError::Misaligned {
                offset: 0x101,
                size: 2
            })
        );
        assert_eq!(
            decode_write(0x100, 4),
            Err(AccessError::ReadOnly { offset: 0x100 })
        );
    }
}
