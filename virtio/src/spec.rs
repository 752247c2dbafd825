//! Wire-level constants from the virtio 1.2 specification.
//!
//! Everything here is a number the guest driver also knows; keeping them in
//! one place (with the section they come from) makes the other modules read
//! as logic rather than as tables.

/// Bytes in one virtio-blk sector. Capacity and the request `sector` field
/// are always in 512-byte units, whatever `blk_size` says (§5.2.4).
pub const SECTOR_SIZE: usize = 512;

/// Largest queue this crate supports. The spec allows 32768 (§2.7), but a
/// chain is snapshotted into a fixed array of this many segments, so the
/// bound keeps the device's footprint small (4 KiB).
pub const MAX_QUEUE_SIZE: u16 = 256;

/// Size of the virtio-mmio register window (§4.2.2: registers up to 0x0fc,
/// device-specific configuration from 0x100).
pub const MMIO_WINDOW_SIZE: u64 = 0x200;

/// §4.2.2 MMIO device register offsets. The legacy-only registers
/// (GuestPageSize, QueueAlign, QueuePFN; §4.2.4) do not exist in version 2.
pub mod reg {
    pub const MAGIC_VALUE: u64 = 0x000;
    pub const VERSION: u64 = 0x004;
    pub const DEVICE_ID: u64 = 0x008;
    pub const VENDOR_ID: u64 = 0x00c;
    pub const DEVICE_FEATURES: u64 = 0x010;
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const INTERRUPT_ACK: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const SHM_SEL: u64 = 0x0ac;
    pub const SHM_LEN_LOW: u64 = 0x0b0;
    pub const SHM_LEN_HIGH: u64 = 0x0b4;
    pub const SHM_BASE_LOW: u64 = 0x0b8;
    pub const SHM_BASE_HIGH: u64 = 0x0bc;
    pub const CONFIG_GENERATION: u64 = 0x0fc;
    pub const CONFIG: u64 = 0x100;
}

/// "virt" in little-endian (§4.2.2 MagicValue).
pub const MMIO_MAGIC: u32 = 0x7472_6976;
/// The modern (non-legacy) virtio-mmio interface (§4.2.2 Version).
pub const MMIO_VERSION: u32 = 2;
/// Block device (§5 device ID table, §5.2.1).
pub const DEVICE_ID_BLOCK: u32 = 2;

/// §2.1 device status bits.
pub mod status {
    pub const ACKNOWLEDGE: u8 = 1;
    pub const DRIVER: u8 = 2;
    pub const DRIVER_OK: u8 = 4;
    pub const FEATURES_OK: u8 = 8;
    pub const DEVICE_NEEDS_RESET: u8 = 0x40;
    pub const FAILED: u8 = 0x80;
    /// The bits a driver may set; DEVICE_NEEDS_RESET is device-owned.
    pub const DRIVER_BITS: u8 = ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK | FAILED;
}

/// §4.2.2 InterruptStatus bits.
pub mod interrupt {
    /// "Used Buffer Notification": the device used a buffer in a queue.
    pub const USED_BUFFER: u32 = 1;
    /// "Configuration Change Notification" (also how DEVICE_NEEDS_RESET is
    /// announced, §2.1.2).
    pub const CONFIG_CHANGE: u32 = 2;
}

/// Feature bits (§6 reserved bits, §5.2.3 block device bits).
pub mod feature {
    /// §5.2.3: maximum size of any single segment is in `size_max`.
    pub const BLK_SIZE_MAX: u64 = 1 << 1;
    /// §5.2.3: maximum number of segments in a request is in `seg_max`.
    pub const BLK_SEG_MAX: u64 = 1 << 2;
    /// §5.2.3: the device is read-only.
    pub const BLK_RO: u64 = 1 << 5;
    /// §5.2.3: block size of the disk is in `blk_size`.
    pub const BLK_BLK_SIZE: u64 = 1 << 6;
    /// §5.2.3: cache flush command support.
    pub const BLK_FLUSH: u64 = 1 << 9;
    /// §6: descriptors may point at indirect tables (not offered).
    pub const RING_INDIRECT_DESC: u64 = 1 << 28;
    /// §6: used_event / avail_event suppression (not offered).
    pub const RING_EVENT_IDX: u64 = 1 << 29;
    /// §6: compliance with this (non-legacy) specification.
    pub const VERSION_1: u64 = 1 << 32;
}

/// §2.7.5 split virtqueue descriptor layout and flags.
pub mod desc {
    /// `struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; }`
    pub const SIZE: u64 = 16;
    /// The buffer continues via the `next` field.
    pub const F_NEXT: u16 = 1;
    /// The buffer is device write-only (otherwise device read-only).
    pub const F_WRITE: u16 = 2;
    /// The buffer contains a list of descriptors (§2.7.5.3).
    pub const F_INDIRECT: u16 = 4;
}

/// §2.7.6 available ring and §2.7.8 used ring layouts.
pub mod ring {
    /// Offset of `idx` in both rings (after `le16 flags`).
    pub const IDX_OFFSET: u64 = 2;
    /// Offset of `ring[0]` in both rings.
    pub const RING_OFFSET: u64 = 4;
    /// `le16` entries of the available ring.
    pub const AVAIL_ELEM_SIZE: u64 = 2;
    /// `struct virtq_used_elem { le32 id; le32 len; }`
    pub const USED_ELEM_SIZE: u64 = 8;
    /// §2.7.7: driver asks the device not to interrupt.
    pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
    /// §2.7 "Virtqueue Part Alignment" table.
    pub const DESC_ALIGN: u64 = 16;
    pub const AVAIL_ALIGN: u64 = 2;
    pub const USED_ALIGN: u64 = 4;
}

/// §5.2.6 block request types and status values.
pub mod blk {
    /// `struct virtio_blk_req` header: `le32 type; le32 reserved; le64 sector;`
    pub const HEADER_SIZE: usize = 16;
    pub const T_IN: u32 = 0;
    pub const T_OUT: u32 = 1;
    pub const T_FLUSH: u32 = 4;
    pub const T_GET_ID: u32 = 8;
    pub const S_OK: u8 = 0;
    pub const S_IOERR: u8 = 1;
    pub const S_UNSUPP: u8 = 2;
    /// GET_ID returns this many bytes, NUL-padded, not NUL-terminated
    /// when full (§5.2.6, VIRTIO_BLK_ID_BYTES).
    pub const ID_BYTES: usize = 20;
}

/// Byte offsets inside `struct virtio_blk_config` (§5.2.4).
pub mod blk_config {
    pub const CAPACITY: usize = 0x00;
    pub const SIZE_MAX: usize = 0x08;
    pub const SEG_MAX: usize = 0x0c;
    pub const BLK_SIZE: usize = 0x14;
    /// Through the end of the secure-erase fields (1.2) and the zoned
    /// characteristics; all fields we do not fill read as zero.
    pub const SIZE: usize = 0x60;
}
