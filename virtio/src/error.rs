//! Typed errors. Everything the guest controls ends up in one of these
//! rather than in a panic; each prints as one self-explanatory log line.

use core::fmt;

/// A guest-physical access touched bytes outside guest RAM (or overflowed
/// the address space). Returned by [`GuestMemory`](crate::GuestMemory)
/// implementations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestMemoryError {
    /// First byte of the rejected access.
    pub ipa: u64,
    /// Length of the rejected access in bytes.
    pub len: usize,
}

impl fmt::Display for GuestMemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "guest access of {} bytes at IPA {:#x} is outside guest RAM",
            self.len, self.ipa
        )
    }
}

/// A failure of the storage behind the device. Reported to the guest as
/// VIRTIO_BLK_S_IOERR (§5.2.6); the variant is kept for the host's logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendError {
    /// The underlying device reported an I/O error.
    Io,
    /// The sector range is outside the backing window.
    OutOfRange,
    /// The backing store refuses writes.
    ReadOnly,
    /// Anything else, described by the backend.
    Other(&'static str),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io => f.write_str("backend I/O error"),
            Self::OutOfRange => f.write_str("backend sector range out of range"),
            Self::ReadOnly => f.write_str("backend is read-only"),
            Self::Other(why) => write!(f, "backend error: {why}"),
        }
    }
}

/// A guest register access the device refuses. The hypervisor decides what
/// the guest sees (typically an injected external abort) and logs this.
///
/// §4.2.2.2: the driver MUST use 32-bit aligned accesses for registers, MUST
/// NOT touch undescribed locations, read write-only or write read-only
/// registers, so stock Linux never triggers any of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// Offset at or beyond the 0x200-byte window.
    OutOfWindow { offset: u64 },
    /// Width other than 32 bits on a register, or other than 8/16/32 bits
    /// in configuration space.
    BadSize { offset: u64, size: u8 },
    /// Access not naturally aligned to its width.
    Misaligned { offset: u64, size: u8 },
    /// No register at this offset (reserved, legacy-only or an unoffered
    /// feature's register).
    NoRegister { offset: u64 },
    /// Read of a write-only register.
    WriteOnly { offset: u64 },
    /// Write to a read-only register or to configuration space.
    ReadOnly { offset: u64 },
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::OutOfWindow { offset } => {
                write!(
                    f,
                    "virtio-mmio offset {offset:#x} is outside the register window"
                )
            }
            Self::BadSize { offset, size } => {
                write!(
                    f,
                    "virtio-mmio {size}-byte access at {offset:#x} has an unsupported width"
                )
            }
            Self::Misaligned { offset, size } => {
                write!(
                    f,
                    "virtio-mmio {size}-byte access at {offset:#x} is misaligned"
                )
            }
            Self::NoRegister { offset } => write!(f, "no virtio-mmio register at {offset:#x}"),
            Self::WriteOnly { offset } => {
                write!(f, "read of write-only virtio-mmio register {offset:#x}")
            }
            Self::ReadOnly { offset } => {
                write!(f, "write to read-only virtio-mmio register {offset:#x}")
            }
        }
    }
}

/// A [`DeviceConfig`](crate::DeviceConfig) or scratch buffer the device
/// cannot work with. Host-side mistakes, found at construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The queue size must be a power of two in 4..=[`MAX_QUEUE_SIZE`]
    /// (§2.7; 4 so a header, one data buffer and a status byte fit).
    ///
    /// [`MAX_QUEUE_SIZE`]: crate::spec::MAX_QUEUE_SIZE
    QueueSize(u16),
    /// The scratch buffer holds less than one sector.
    ScratchTooSmall(usize),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::QueueSize(n) => write!(
                f,
                "queue size {n} is not a power of two in 4..={}",
                crate::spec::MAX_QUEUE_SIZE
            ),
            Self::ScratchTooSmall(n) => write!(
                f,
                "scratch buffer of {n} bytes is smaller than one {}-byte sector",
                crate::spec::SECTOR_SIZE
            ),
        }
    }
}

/// Why a request failed or why the device gave up on the queue. Never
/// returned to the caller of an MMIO access: it becomes a status byte
/// (IOERR/UNSUPP) or DEVICE_NEEDS_RESET, and the last one is kept in
/// [`Stats::last_error`](crate::Stats::last_error) for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    // --- Queue-level: the device cannot trust the rings any more and
    // --- sets DEVICE_NEEDS_RESET (§2.1.2).
    /// The available index moved by more than the queue size (§2.7.6).
    AvailIndexJump { last: u16, avail: u16, size: u16 },
    /// A ring or descriptor-table access left guest RAM.
    RingMemory(GuestMemoryError),
    /// A head or `next` index is not below the queue size (§2.7.5).
    DescriptorIndex { index: u16, size: u16 },
    /// More descriptors than the queue size: a loop (§2.7.5.2).
    ChainTooLong { size: u16 },
    /// VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC (§2.7.5.3.1).
    IndirectDescriptor,
    /// A device-readable descriptor after a device-writable one (§2.7.4.2).
    ReadableAfterWritable,
    /// A chain longer than 2^32 bytes in total (§2.7.5.2).
    ChainTooLarge,
    /// No device-writable byte for the status (§5.2.6).
    NoStatusByte,
    /// The status byte itself lies outside guest RAM.
    StatusMemory(GuestMemoryError),

    // --- Request-level: reported to the guest in the status byte.
    /// The readable part is shorter than `struct virtio_blk_req`'s header.
    HeaderTooShort { len: u64 },
    /// A data buffer lies outside guest RAM.
    DataMemory(GuestMemoryError),
    /// The data length is not a whole number of sectors.
    UnalignedLength { len: u64 },
    /// The request reaches beyond the disk.
    BeyondCapacity { sector: u64, sectors: u64 },
    /// OUT on a read-only device (§5.2.6.2).
    WriteToReadOnly,
    /// The backend failed.
    Backend(BackendError),
    /// A request type the device does not implement (VIRTIO_BLK_S_UNSUPP).
    Unsupported { request_type: u32 },
}

impl RequestError {
    /// `true` for errors after which the device sets DEVICE_NEEDS_RESET
    /// instead of completing the request with a status byte.
    pub const fn breaks_device(&self) -> bool {
        matches!(
            self,
            Self::AvailIndexJump { .. }
                | Self::RingMemory(_)
                | Self::DescriptorIndex { .. }
                | Self::ChainTooLong { .. }
                | Self::IndirectDescriptor
                | Self::ReadableAfterWritable
                | Self::ChainTooLarge
                | Self::NoStatusByte
                | Self::StatusMemory(_)
        )
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AvailIndexJump { last, avail, size } => write!(
                f,
                "available index jumped from {last} to {avail}, more than the queue size {size}"
            ),
            Self::RingMemory(e) => write!(f, "virtqueue ring: {e}"),
            Self::DescriptorIndex { index, size } => {
                write!(
                    f,
                    "descriptor index {index} out of range for queue size {size}"
                )
            }
            Self::ChainTooLong { size } => {
                write!(
                    f,
                    "descriptor chain longer than the queue size {size} (loop?)"
                )
            }
            Self::IndirectDescriptor => f.write_str("indirect descriptor without negotiation"),
            Self::ReadableAfterWritable => {
                f.write_str("device-readable descriptor after a device-writable one")
            }
            Self::ChainTooLarge => f.write_str("descriptor chain longer than 4 GiB"),
            Self::NoStatusByte => f.write_str("request has no device-writable status byte"),
            Self::StatusMemory(e) => write!(f, "status byte: {e}"),
            Self::HeaderTooShort { len } => {
                write!(f, "request header is {len} bytes, expected 16")
            }
            Self::DataMemory(e) => write!(f, "data buffer: {e}"),
            Self::UnalignedLength { len } => {
                write!(f, "data length {len} is not a multiple of 512")
            }
            Self::BeyondCapacity { sector, sectors } => {
                write!(
                    f,
                    "request for {sectors} sectors at {sector} is beyond capacity"
                )
            }
            Self::WriteToReadOnly => f.write_str("write request on a read-only device"),
            Self::Backend(e) => write!(f, "{e}"),
            Self::Unsupported { request_type } => {
                write!(f, "unsupported request type {request_type}")
            }
        }
    }
}

impl core::error::Error for GuestMemoryError {}
impl core::error::Error for BackendError {}
impl core::error::Error for AccessError {}
impl core::error::Error for ConfigError {}
impl core::error::Error for RequestError {}
