//! The `virtqueue` target's guest side: guest RAM that logs every access
//! the device makes, a disk that checks every request it receives, the
//! input format and the seeds.
//!
//! Input: a header (scratch size, disk size, read-only, QueueNumMax), then
//! operations until the input ends, each a byte modulo [`OPS`]:
//! - [`OP_REG_WRITE`] / [`OP_REG_READ`]: a raw access to the register
//!   window: offset (u16), size selector (u8), value (u32, writes only);
//! - [`OP_POKE`]: guest writes to its RAM: offset (u16), count (u8), bytes;
//! - [`OP_DESC`]: a descriptor: index (u8), address selector (u8, plus a
//!   u16 or u64, see [`address`]), length (u32), flags (u16), next (u16);
//! - [`OP_AVAIL`]: makes descriptor head (u16) available;
//! - [`OP_KICK`]: QueueNotify with the queue index (u8; 0 unless >= 240);
//! - [`OP_SETUP`]: the §3.1.1 initialisation: queue size selector (u8),
//!   feature mask (u8), ring layout (u8: 0 = the standard one below, else
//!   three u64 addresses follow);
//! - [`OP_REQUEST`]: a well-formed request chain: type selector (u8),
//!   sector (u8, or a u64 when the selector's bit 7 is set), sector count
//!   (u8), data split (u8);
//! - [`OP_ACK`]: the driver acknowledges the interrupt.

use std::cell::RefCell;

use virtio::{BackendError, BlockBackend, GuestMemory, GuestMemoryError};

use crate::input::{Input, Writer};

pub const RAM_BASE: u64 = 0x4000_0000;
pub const RAM_SIZE: usize = 64 << 10;
/// The standard ring layout (for a queue of up to 256 entries).
pub const DESC: u64 = RAM_BASE;
pub const AVAIL: u64 = RAM_BASE + 0x1000;
pub const USED: u64 = RAM_BASE + 0x2000;
/// Request buffers start here.
pub const DATA: u64 = RAM_BASE + 0x3000;

pub const OP_REG_WRITE: u8 = 0;
pub const OP_REG_READ: u8 = 1;
pub const OP_POKE: u8 = 2;
pub const OP_DESC: u8 = 3;
pub const OP_AVAIL: u8 = 4;
pub const OP_KICK: u8 = 5;
pub const OP_SETUP: u8 = 6;
pub const OP_REQUEST: u8 = 7;
pub const OP_ACK: u8 = 8;
pub const OPS: u8 = 9;

/// Scratch buffer sizes: one sector, a few, a non-multiple of 512 (the
/// device uses its whole-sector prefix), the hypervisor's 64 KiB.
pub const SCRATCH: [usize; 5] = [512, 1024, 4096, 1000, 65536];
pub const QUEUE_MAX: [u16; 5] = [4, 8, 16, 64, 256];
pub const QUEUE_SIZES: [u32; 8] = [4, 8, 16, 64, 256, 0, 3, 512];
/// Register access sizes: mostly the valid one.
pub const ACCESS_SIZES: [u8; 8] = [4, 4, 4, 4, 1, 2, 8, 3];

/// One device access to guest memory.
#[derive(Clone, Debug)]
pub struct Access {
    pub write: bool,
    pub ipa: u64,
    pub len: usize,
    /// Read: the bytes returned (empty if refused). Write: the data.
    pub bytes: Vec<u8>,
    /// Whether it was inside guest RAM.
    pub ok: bool,
}

/// Guest RAM at [`RAM_BASE`]; every access outside it fails, with the
/// same checks as the hypervisor's `GuestRam::translate`
/// (bootloader/src/guest_ram.rs). Device accesses are logged while
/// `logging` is set.
pub struct LoggedRam {
    pub bytes: Vec<u8>,
    pub log: RefCell<Vec<Access>>,
    pub logging: bool,
}

impl Default for LoggedRam {
    fn default() -> Self {
        Self {
            bytes: vec![0; RAM_SIZE],
            log: RefCell::new(Vec::new()),
            logging: true,
        }
    }
}

impl LoggedRam {
    fn range(&self, ipa: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let off = ipa.checked_sub(RAM_BASE)?;
        let end = off.checked_add(len as u64)?;
        (end <= self.bytes.len() as u64).then_some(off as usize..end as usize)
    }

    /// A guest (driver) store: not logged; ignored outside RAM, as the
    /// fuzzer may aim the rings anywhere.
    pub fn put(&mut self, ipa: u64, data: &[u8]) {
        if let Some(r) = self.range(ipa, data.len()) {
            self.bytes[r].copy_from_slice(data);
        }
    }

    /// A guest load of a u16; 0 outside RAM.
    pub fn get_u16(&self, ipa: u64) -> u16 {
        self.range(ipa, 2).map_or(0, |r| {
            u16::from_le_bytes([self.bytes[r.start], self.bytes[r.start + 1]])
        })
    }

    fn record(&self, write: bool, ipa: u64, len: usize, bytes: &[u8], ok: bool) {
        if self.logging {
            self.log.borrow_mut().push(Access {
                write,
                ipa,
                len,
                bytes: bytes.to_vec(),
                ok,
            });
        }
    }
}

impl GuestMemory for LoggedRam {
    fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        let err = GuestMemoryError {
            ipa,
            len: buf.len(),
        };
        let Some(r) = self.range(ipa, buf.len()) else {
            self.record(false, ipa, buf.len(), &[], false);
            return Err(err);
        };
        buf.copy_from_slice(&self.bytes[r]);
        self.record(false, ipa, buf.len(), buf, true);
        Ok(())
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        let Some(r) = self.range(ipa, data.len()) else {
            self.record(true, ipa, data.len(), data, false);
            return Err(GuestMemoryError {
                ipa,
                len: data.len(),
            });
        };
        self.bytes[r].copy_from_slice(data);
        self.record(true, ipa, data.len(), data, true);
        Ok(())
    }
}

/// The disk behind the device. The device promises (virtio/src/backend.rs)
/// to pass only non-empty whole-sector buffers inside the capacity, and
/// never to write a read-only disk: asserted here.
pub struct CheckedDisk {
    pub data: Vec<u8>,
    pub read_only: bool,
}

impl CheckedDisk {
    pub fn new(sectors: u64, read_only: bool) -> Self {
        Self {
            data: (0..sectors as usize * 512)
                .map(|i| (i * 7 + i / 512) as u8)
                .collect(),
            read_only,
        }
    }

    fn range(&self, sector: u64, len: usize) -> std::ops::Range<usize> {
        assert!(
            len > 0 && len.is_multiple_of(512),
            "backend got a {len}-byte buffer"
        );
        let start = sector.checked_mul(512).expect("sector overflows");
        let end = start
            .checked_add(len as u64)
            .expect("request end overflows");
        assert!(end <= self.data.len() as u64, "request past the disk end");
        start as usize..end as usize
    }
}

impl BlockBackend for CheckedDisk {
    fn capacity_sectors(&self) -> u64 {
        (self.data.len() / 512) as u64
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BackendError> {
        let r = self.range(sector, buf.len());
        buf.copy_from_slice(&self.data[r]);
        Ok(())
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), BackendError> {
        assert!(!self.read_only, "write to a read-only disk");
        let r = self.range(sector, data.len());
        self.data[r].copy_from_slice(data);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
}

/// A guest address chosen by the fuzzer: mostly inside the data area,
/// sometimes at RAM edges, outside RAM or near 2^64.
pub fn address(i: &mut Input) -> u64 {
    match i.u8() % 8 {
        0..=3 => DATA + u64::from(i.u16()) % (RAM_BASE + RAM_SIZE as u64 - DATA),
        4 => RAM_BASE + RAM_SIZE as u64 - u64::from(i.u16() % 64),
        5 => RAM_BASE - 1 - u64::from(i.u16() % 64),
        6 => u64::MAX - u64::from(i.u16() % 64),
        _ => i.u64(),
    }
}

/// Seeds: a driver that sets up a queue and runs every request type, and
/// one that submits hostile chains (a `next` loop, buffers outside RAM and
/// straddling its end, a 4 GiB length, an indirect descriptor, readable
/// after writable) and then recovers with a reset.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut w = Writer::new();
    // 4 KiB scratch, 64 sectors, writable, QueueNumMax 256.
    w.u8(2).u8(63).u8(0).u8(4);
    w.u8(OP_SETUP).u8(3).u8(0x7f).u8(0);
    // Reads, writes, flush, get-id, an unknown type; data in 1..3 pieces.
    w.u8(OP_REQUEST).u8(0).u8(1).u8(2).u8(2);
    w.u8(OP_REQUEST).u8(1).u8(5).u8(1).u8(1);
    w.u8(OP_KICK).u8(0);
    w.u8(OP_ACK);
    w.u8(OP_REQUEST).u8(2).u8(0).u8(0).u8(0);
    w.u8(OP_REQUEST).u8(3).u8(0).u8(0).u8(1);
    w.u8(OP_REQUEST).u8(4).u8(0).u8(1).u8(0);
    // Past the end of the disk.
    w.u8(OP_REQUEST).u8(0).u8(62).u8(4).u8(3);
    w.u8(OP_KICK).u8(0);
    w.u8(OP_REG_READ).u16(0x60).u8(0);
    w.u8(OP_ACK);
    let friendly = w.finish();

    let mut w = Writer::new();
    w.u8(0).u8(7).u8(1).u8(1);
    w.u8(OP_SETUP).u8(0).u8(0x7f).u8(0);
    // Descriptor 0 -> 1 -> 0: a loop.
    w.u8(OP_DESC).u8(0).u8(0).u16(0).u32(16).u16(1).u16(1);
    w.u8(OP_DESC).u8(1).u8(0).u16(32).u32(512).u16(3).u16(0);
    w.u8(OP_AVAIL).u16(0);
    w.u8(OP_KICK).u8(0);
    // Reset, set up again: buffers outside RAM, across its end, 4 GiB.
    w.u8(OP_SETUP).u8(1).u8(0x7f).u8(0);
    w.u8(OP_DESC).u8(2).u8(0).u16(64).u32(16).u16(1).u16(3);
    w.u8(OP_DESC)
        .u8(3)
        .u8(4)
        .u16(8)
        .u32(0xffff_fe00)
        .u16(3)
        .u16(4);
    w.u8(OP_DESC).u8(4).u8(5).u16(0).u32(1).u16(2).u16(0);
    w.u8(OP_AVAIL).u16(2);
    w.u8(OP_DESC).u8(5).u8(0).u16(0).u32(16).u16(4).u16(0);
    w.u8(OP_AVAIL).u16(5);
    w.u8(OP_KICK).u8(0);
    w.u8(OP_REG_WRITE).u16(0x70).u8(0).u32(0);
    w.u8(OP_POKE).u16(0x1002).u8(2).u16(0x7fff);
    w.u8(OP_KICK).u8(0);
    let hostile = w.finish();
    vec![friendly, hostile]
}
