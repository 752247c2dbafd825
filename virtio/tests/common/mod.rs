//! Test doubles: Vec-backed guest RAM, an in-memory disk, and a tiny
//! virtio-mmio driver that follows §3.1.1 and builds split rings by hand.

#![allow(dead_code)] // each test binary uses a different subset

use virtio::spec::{blk, desc, reg, ring, status};
use virtio::{
    BackendError, BlockBackend, DeviceConfig, GuestMemory, GuestMemoryError, Notify, VirtioBlkMmio,
};

pub const RAM_BASE: u64 = 0x4000_0000;
pub const RAM_SIZE: usize = 4 << 20;
pub const DESC: u64 = RAM_BASE;
pub const AVAIL: u64 = RAM_BASE + 0x1000;
pub const USED: u64 = RAM_BASE + 0x2000;
/// Start of the area the driver carves request buffers from.
pub const DATA: u64 = RAM_BASE + 0x10000;

/// Guest RAM: `bytes` at IPA `base`; everything else faults.
pub struct Ram {
    pub base: u64,
    pub bytes: Vec<u8>,
}

impl Ram {
    pub fn new() -> Self {
        Self {
            base: RAM_BASE,
            bytes: vec![0; RAM_SIZE],
        }
    }

    fn range(&self, ipa: u64, len: usize) -> Result<std::ops::Range<usize>, GuestMemoryError> {
        let err = GuestMemoryError { ipa, len };
        let start = ipa.checked_sub(self.base).ok_or(err)?;
        let start = usize::try_from(start).map_err(|_| err)?;
        let end = start.checked_add(len).ok_or(err)?;
        if end > self.bytes.len() {
            return Err(err);
        }
        Ok(start..end)
    }

    pub fn put(&mut self, ipa: u64, data: &[u8]) {
        self.write(ipa, data).expect("test writes inside RAM");
    }

    pub fn get(&self, ipa: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.read(ipa, &mut v).expect("test reads inside RAM");
        v
    }

    pub fn put_u16(&mut self, ipa: u64, v: u16) {
        self.put(ipa, &v.to_le_bytes());
    }

    pub fn get_u16(&self, ipa: u64) -> u16 {
        u16::from_le_bytes(self.get(ipa, 2).try_into().unwrap())
    }

    pub fn get_u32(&self, ipa: u64) -> u32 {
        u32::from_le_bytes(self.get(ipa, 4).try_into().unwrap())
    }
}

impl GuestMemory for Ram {
    fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        let r = self.range(ipa, buf.len())?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        let r = self.range(ipa, data.len())?;
        self.bytes[r].copy_from_slice(data);
        Ok(())
    }
}

/// An in-memory disk that records what was asked of it.
pub struct MemDisk {
    pub data: Vec<u8>,
    pub read_only: bool,
    pub flushes: u64,
    /// Every backend call fails while set.
    pub fail: Option<BackendError>,
    /// Largest buffer seen by read/write (checks chunking).
    pub max_io: usize,
}

impl MemDisk {
    pub fn new(sectors: u64) -> Self {
        // A recognisable pattern: byte i of the disk is (i * 7 + i / 512) as u8.
        let data = (0..sectors as usize * 512)
            .map(|i| (i * 7 + i / 512) as u8)
            .collect();
        Self {
            data,
            read_only: false,
            flushes: 0,
            fail: None,
            max_io: 0,
        }
    }

    fn range(&self, sector: u64, len: usize) -> Result<std::ops::Range<usize>, BackendError> {
        assert!(
            len > 0 && len.is_multiple_of(512),
            "device passed a bad length {len}"
        );
        let start = sector as usize * 512;
        let end = start + len;
        assert!(
            end <= self.data.len(),
            "device passed an out-of-range request"
        );
        Ok(start..end)
    }
}

impl BlockBackend for MemDisk {
    fn capacity_sectors(&self) -> u64 {
        (self.data.len() / 512) as u64
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BackendError> {
        if let Some(e) = self.fail {
            return Err(e);
        }
        self.max_io = self.max_io.max(buf.len());
        let r = self.range(sector, buf.len())?;
        buf.copy_from_slice(&self.data[r]);
        Ok(())
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), BackendError> {
        assert!(!self.read_only, "device wrote to a read-only backend");
        if let Some(e) = self.fail {
            return Err(e);
        }
        self.max_io = self.max_io.max(data.len());
        let r = self.range(sector, data.len())?;
        self.data[r].copy_from_slice(data);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BackendError> {
        if let Some(e) = self.fail {
            return Err(e);
        }
        self.flushes += 1;
        Ok(())
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
}

/// One descriptor as the test driver lays it out.
#[derive(Clone, Copy, Debug)]
pub struct D {
    pub addr: u64,
    pub len: u32,
    pub write: bool,
}

pub fn r(addr: u64, len: u32) -> D {
    D {
        addr,
        len,
        write: false,
    }
}

pub fn w(addr: u64, len: u32) -> D {
    D {
        addr,
        len,
        write: true,
    }
}

pub type Device = VirtioBlkMmio<MemDisk, Vec<u8>>;

/// A minimal virtio-mmio driver for the device under test.
pub struct Driver {
    pub dev: Device,
    pub ram: Ram,
    pub qsize: u16,
    /// Our avail->idx shadow.
    pub avail_idx: u16,
    /// Next descriptor to hand out (wraps; requests complete synchronously).
    next_desc: u16,
    /// Bump allocator for buffers in the DATA area.
    next_data: u64,
}

pub const SERIAL: &str = "test-serial-0123456789";

impl Driver {
    pub fn new(disk: MemDisk) -> Self {
        Self::with(disk, DeviceConfig::new().with_serial(SERIAL), 64 * 1024)
    }

    pub fn with(disk: MemDisk, config: DeviceConfig, scratch: usize) -> Self {
        let dev = VirtioBlkMmio::new(disk, vec![0u8; scratch], config).expect("valid config");
        Self {
            dev,
            ram: Ram::new(),
            qsize: 0,
            avail_idx: 0,
            next_desc: 0,
            next_data: DATA,
        }
    }

    pub fn rd(&mut self, offset: u64) -> u32 {
        self.dev.mmio_read(offset, 4).expect("register read")
    }

    pub fn wr(&mut self, offset: u64, value: u32) -> Notify {
        self.dev
            .mmio_write(offset, 4, value, &mut self.ram)
            .expect("register write")
    }

    pub fn features(&mut self) -> u64 {
        self.wr(reg::DEVICE_FEATURES_SEL, 1);
        let hi = self.rd(reg::DEVICE_FEATURES);
        self.wr(reg::DEVICE_FEATURES_SEL, 0);
        let lo = self.rd(reg::DEVICE_FEATURES);
        (u64::from(hi) << 32) | u64::from(lo)
    }

    pub fn set_driver_features(&mut self, f: u64) {
        self.wr(reg::DRIVER_FEATURES_SEL, 1);
        self.wr(reg::DRIVER_FEATURES, (f >> 32) as u32);
        self.wr(reg::DRIVER_FEATURES_SEL, 0);
        self.wr(reg::DRIVER_FEATURES, f as u32);
    }

    /// §3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, accept all offered
    /// features, FEATURES_OK and check it stuck.
    pub fn negotiate(&mut self) {
        self.wr(reg::STATUS, 0);
        assert_eq!(self.rd(reg::STATUS), 0);
        self.wr(reg::STATUS, u32::from(status::ACKNOWLEDGE));
        self.wr(reg::STATUS, u32::from(status::ACKNOWLEDGE | status::DRIVER));
        let f = self.features();
        self.set_driver_features(f);
        let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK;
        self.wr(reg::STATUS, u32::from(s));
        assert_eq!(self.rd(reg::STATUS), u32::from(s), "FEATURES_OK refused");
    }

    /// §4.2.3.2 virtqueue configuration for queue 0 with `size` entries.
    pub fn setup_queue(&mut self, size: u16) {
        self.wr(reg::QUEUE_SEL, 0);
        assert_eq!(self.rd(reg::QUEUE_READY), 0);
        assert!(u32::from(size) <= self.rd(reg::QUEUE_NUM_MAX));
        self.wr(reg::QUEUE_NUM, u32::from(size));
        for (lo, addr) in [
            (reg::QUEUE_DESC_LOW, DESC),
            (reg::QUEUE_DRIVER_LOW, AVAIL),
            (reg::QUEUE_DEVICE_LOW, USED),
        ] {
            self.wr(lo, addr as u32);
            self.wr(lo + 4, (addr >> 32) as u32);
        }
        // Fresh rings.
        let zero = vec![0; 0x3000];
        self.ram.put(DESC, &zero);
        self.wr(reg::QUEUE_READY, 1);
        assert_eq!(self.rd(reg::QUEUE_READY), 1);
        self.qsize = size;
        self.avail_idx = 0;
        self.next_desc = 0;
    }

    pub fn driver_ok(&mut self) {
        let s = self.rd(reg::STATUS) as u8 | status::DRIVER_OK;
        self.wr(reg::STATUS, u32::from(s));
    }

    /// The whole §3.1.1 sequence.
    pub fn init(&mut self, size: u16) {
        self.negotiate();
        self.setup_queue(size);
        self.driver_ok();
    }

    /// A buffer of `len` bytes in the data area, filled with `fill`.
    pub fn alloc(&mut self, len: usize, fill: u8) -> u64 {
        let at = self.next_data;
        if at + len as u64 > RAM_BASE + RAM_SIZE as u64 {
            self.next_data = DATA;
            return self.alloc(len, fill);
        }
        self.next_data = (at + len as u64 + 15) & !15;
        self.ram.put(at, &vec![fill; len]);
        at
    }

    pub fn write_desc(&mut self, index: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&addr.to_le_bytes());
        b[8..12].copy_from_slice(&len.to_le_bytes());
        b[12..14].copy_from_slice(&flags.to_le_bytes());
        b[14..].copy_from_slice(&next.to_le_bytes());
        self.ram.put(DESC + 16 * u64::from(index), &b);
    }

    /// Makes `head` available (ring entry, then idx, as §2.7.13 orders).
    pub fn push_avail(&mut self, head: u16) {
        let slot = u64::from(self.avail_idx % self.qsize);
        self.ram.put_u16(AVAIL + 4 + 2 * slot, head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.ram.put_u16(AVAIL + 2, self.avail_idx);
    }

    /// Lays `parts` out as a chain in consecutive descriptors and makes it
    /// available. Returns the head index.
    pub fn add_chain(&mut self, parts: &[D]) -> u16 {
        assert!(!parts.is_empty() && parts.len() <= usize::from(self.qsize));
        let head = self.next_desc;
        for (i, p) in parts.iter().enumerate() {
            let index = (head + i as u16) % self.qsize;
            let last = i + 1 == parts.len();
            let flags =
                if p.write { desc::F_WRITE } else { 0 } | if last { 0 } else { desc::F_NEXT };
            self.write_desc(index, p.addr, p.len, flags, (index + 1) % self.qsize);
        }
        self.next_desc = (head + parts.len() as u16) % self.qsize;
        self.push_avail(head);
        head
    }

    pub fn kick(&mut self) -> Notify {
        self.wr(reg::QUEUE_NOTIFY, 0)
    }

    pub fn used_idx(&self) -> u16 {
        self.ram.get_u16(USED + 2)
    }

    /// Used element `n` (free-running index): (id, len).
    pub fn used_elem(&self, n: u16) -> (u32, u32) {
        let at = USED + 4 + 8 * u64::from(n % self.qsize);
        (self.ram.get_u32(at), self.ram.get_u32(at + 4))
    }

    /// Acknowledges everything pending, like Linux's vm_interrupt.
    pub fn ack(&mut self) -> u32 {
        let isr = self.rd(reg::INTERRUPT_STATUS);
        self.wr(reg::INTERRUPT_ACK, isr);
        isr
    }

    pub fn header(&mut self, request_type: u32, sector: u64) -> u64 {
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&request_type.to_le_bytes());
        h[8..].copy_from_slice(&sector.to_le_bytes());
        let at = self.alloc(16, 0);
        self.ram.put(at, &h);
        at
    }

    /// Submits one chain, kicks, and checks it came back in order.
    /// Returns (used len, notify).
    pub fn submit(&mut self, parts: &[D]) -> (u32, Notify) {
        let before = self.used_idx();
        let head = self.add_chain(parts);
        let n = self.kick();
        assert_eq!(self.used_idx(), before.wrapping_add(1), "request not used");
        let (id, len) = self.used_elem(before);
        assert_eq!(id, u32::from(head));
        (len, n)
    }

    pub fn read_sectors(&mut self, sector: u64, count: usize) -> (u8, Vec<u8>) {
        let hdr = self.header(blk::T_IN, sector);
        let buf = self.alloc(count * 512, 0xee);
        let st = self.alloc(1, 0xff);
        let (len, _) = self.submit(&[r(hdr, 16), w(buf, (count * 512) as u32), w(st, 1)]);
        let status = self.ram.get(st, 1)[0];
        if status == blk::S_OK {
            assert_eq!(len as usize, count * 512 + 1);
        }
        (status, self.ram.get(buf, count * 512))
    }

    pub fn write_sectors(&mut self, sector: u64, data: &[u8]) -> u8 {
        let hdr = self.header(blk::T_OUT, sector);
        let buf = self.alloc(data.len(), 0);
        self.ram.put(buf, data);
        let st = self.alloc(1, 0xff);
        let (len, _) = self.submit(&[r(hdr, 16), r(buf, data.len() as u32), w(st, 1)]);
        assert_eq!(len, 1);
        self.ram.get(st, 1)[0]
    }

    pub fn flush(&mut self) -> u8 {
        let hdr = self.header(blk::T_FLUSH, 0);
        let st = self.alloc(1, 0xff);
        self.submit(&[r(hdr, 16), w(st, 1)]);
        self.ram.get(st, 1)[0]
    }

    pub fn get_id(&mut self) -> (u8, Vec<u8>) {
        let hdr = self.header(blk::T_GET_ID, 0);
        let buf = self.alloc(20, 0xee);
        let st = self.alloc(1, 0xff);
        let (len, _) = self.submit(&[r(hdr, 16), w(buf, 20), w(st, 1)]);
        assert_eq!(len, 21);
        (self.ram.get(st, 1)[0], self.ram.get(buf, 20))
    }

    pub fn status(&mut self) -> u8 {
        self.rd(reg::STATUS) as u8
    }

    pub fn needs_reset(&mut self) -> bool {
        self.status() & status::DEVICE_NEEDS_RESET != 0
    }

    /// Chains the test has made available but the device has not used.
    pub fn outstanding(&self) -> u16 {
        self.avail_idx.wrapping_sub(self.used_idx())
    }

    pub fn set_no_interrupt(&mut self, on: bool) {
        let flags = if on { ring::AVAIL_F_NO_INTERRUPT } else { 0 };
        self.ram.put_u16(AVAIL, flags);
    }
}

/// Expected disk contents for a MemDisk created by `MemDisk::new`.
pub fn pattern(sector: u64, count: usize) -> Vec<u8> {
    let start = sector as usize * 512;
    (start..start + count * 512)
        .map(|i| (i * 7 + i / 512) as u8)
        .collect()
}
