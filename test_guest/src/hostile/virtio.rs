//! The emulated virtio-blk device driven with malicious requests and rings
//! (virtio v1.2: §2.7 split virtqueues, §4.2 MMIO transport, §5.2 block
//! device). Each must be refused, with an IOERR status (§5.2.6) or
//! DEVICE_NEEDS_RESET (§2.1.2), never by touching memory outside guest RAM;
//! after each the device is reset and a normal read must work again.

use super::Tally;
use crate::mmio;
use crate::platform::Platform;
use crate::traps::probe;
use core::cell::UnsafeCell;

// MMIO registers (§4.2.2).
const STATUS: usize = 0x070;
const DRIVER_FEATURES: usize = 0x020;
const DRIVER_FEATURES_SEL: usize = 0x024;
const QUEUE_SEL: usize = 0x030;
const QUEUE_NUM_MAX: usize = 0x034;
const QUEUE_NUM: usize = 0x038;
const QUEUE_READY: usize = 0x044;
const QUEUE_NOTIFY: usize = 0x050;
const QUEUE_DESC: usize = 0x080;
const QUEUE_DRIVER: usize = 0x090;
const QUEUE_DEVICE: usize = 0x0a0;

// Device status bits (§2.1).
const ACKNOWLEDGE: u32 = 1;
const DRIVER: u32 = 2;
const DRIVER_OK: u32 = 4;
const FEATURES_OK: u32 = 8;
const NEEDS_RESET: u32 = 0x40;

// Descriptor flags (§2.7.5).
const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;
const F_INDIRECT: u16 = 4;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const S_IOERR: u8 = 1;

const QSIZE: u16 = 8;

// Layout of the driver's DMA area.
const DESC: usize = 0x000;
const AVAIL: usize = 0x200;
const USED: usize = 0x400;
const HEADER: usize = 0x800;
const STATUS_BYTE: usize = 0x900;
const DATA: usize = 0x1000;
const DMA_SIZE: usize = 0x2000;

/// Rings and buffers the device reads and writes in guest RAM.
#[repr(C, align(4096))]
struct DmaArea(UnsafeCell<[u8; DMA_SIZE]>);
// SAFETY: only CPU 0 runs the virtio cases; the device touches the area
// only while CPU 0 waits in an MMIO write (the hypervisor completes
// requests synchronously in the QueueNotify trap).
unsafe impl Sync for DmaArea {}
static DMA: DmaArea = DmaArea(UnsafeCell::new([0; DMA_SIZE]));

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The request completed with this status byte.
    Status(u8),
    /// The device gave up on the queue.
    NeedsReset,
    /// An MMIO access of the set-up was refused with an abort.
    AccessRefused,
    /// The device would not enable the queue (QueueReady reads 0).
    QueueRefused,
    /// Nothing happened at all.
    Silent,
}

struct Dev {
    base: usize,
    avail_idx: u16,
    used_seen: u16,
}

fn dma() -> usize {
    DMA.0.get() as usize
}

fn put<T: Copy>(off: usize, v: T) {
    // SAFETY: `off` + size lies in the DMA area (all offsets are the
    // constants above plus ring indices below QSIZE); see DmaArea.
    unsafe { core::ptr::write_volatile((dma() + off) as *mut T, v) }
}

fn get<T: Copy>(off: usize) -> T {
    // SAFETY: as for `put`.
    unsafe { core::ptr::read_volatile((dma() + off) as *const T) }
}

fn desc(i: u16, addr: u64, len: u32, flags: u16, next: u16) {
    let off = DESC + 16 * usize::from(i);
    put(off, addr);
    put(off + 8, len);
    put(off + 12, flags);
    put(off + 14, next);
}

impl Dev {
    fn w(&self, off: usize, v: u32) -> Result<(), Outcome> {
        probe(|| mmio::write32(self.base + off, v)).map_err(|_| Outcome::AccessRefused)
    }

    fn r(&self, off: usize) -> u32 {
        mmio::read32(self.base + off)
    }

    fn w64(&self, off: usize, v: u64) -> Result<(), Outcome> {
        self.w(off, v as u32)?;
        self.w(off + 4, (v >> 32) as u32)
    }

    /// Resets the device and brings queue 0 up with its descriptor table at
    /// `desc_table` and `num` entries (§3.1.1 driver initialisation).
    fn setup(&mut self, desc_table: u64, num: u32) -> Result<(), Outcome> {
        self.w(STATUS, 0)?;
        for off in (DESC..HEADER).step_by(8) {
            put(off, 0u64);
        }
        self.w(STATUS, ACKNOWLEDGE)?;
        self.w(STATUS, ACKNOWLEDGE | DRIVER)?;
        // VIRTIO_F_VERSION_1 (bit 32) only.
        self.w(DRIVER_FEATURES_SEL, 1)?;
        self.w(DRIVER_FEATURES, 1)?;
        self.w(DRIVER_FEATURES_SEL, 0)?;
        self.w(DRIVER_FEATURES, 0)?;
        self.w(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK)?;
        if self.r(STATUS) & FEATURES_OK == 0 {
            return Err(Outcome::Silent);
        }
        self.w(QUEUE_SEL, 0)?;
        self.w(QUEUE_NUM, num)?;
        self.w64(QUEUE_DESC, desc_table)?;
        self.w64(QUEUE_DRIVER, (dma() + AVAIL) as u64)?;
        self.w64(QUEUE_DEVICE, (dma() + USED) as u64)?;
        self.w(QUEUE_READY, 1)?;
        // A refused enable reads back 0 (§4.2.2, QueueReady).
        if self.r(QUEUE_READY) == 0 {
            return Err(Outcome::QueueRefused);
        }
        self.w(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)?;
        self.avail_idx = 0;
        self.used_seen = 0;
        Ok(())
    }

    /// Publishes `head` (with the available index moved by `advance`) and
    /// notifies; the device completes the request before the write returns.
    fn submit(&mut self, head: u16, advance: u16) -> Outcome {
        put(AVAIL + 4 + 2 * usize::from(self.avail_idx % QSIZE), head);
        self.avail_idx = self.avail_idx.wrapping_add(advance);
        aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::SY);
        put(AVAIL + 2, self.avail_idx);
        aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::SY);
        if let Err(o) = self.w(QUEUE_NOTIFY, 0) {
            return o;
        }
        let used: u16 = get(USED + 2);
        if used != self.used_seen {
            self.used_seen = used;
            Outcome::Status(get(STATUS_BYTE))
        } else if self.r(STATUS) & NEEDS_RESET != 0 {
            Outcome::NeedsReset
        } else {
            Outcome::Silent
        }
    }

    /// A request: header, one data buffer, status byte (descriptors 0-2).
    fn request(&mut self, kind: u32, data: u64, len: u32, status: u64) -> Outcome {
        put(HEADER, kind);
        put(HEADER + 4, 0u32);
        put(HEADER + 8, 8u64); // sector 8 of the scratch disk
        put(STATUS_BYTE, 0xffu8);
        let data_flags = if kind == T_IN { F_WRITE } else { 0 };
        desc(0, (dma() + HEADER) as u64, 16, F_NEXT, 1);
        desc(1, data, len, data_flags | F_NEXT, 2);
        desc(2, status, 1, F_WRITE, 0);
        self.submit(0, 1)
    }

    fn good_read(&mut self) -> Outcome {
        self.request(
            T_IN,
            (dma() + DATA) as u64,
            512,
            (dma() + STATUS_BYTE) as u64,
        )
    }
}

fn refused(o: Outcome) -> bool {
    matches!(
        o,
        Outcome::Status(S_IOERR)
            | Outcome::NeedsReset
            | Outcome::AccessRefused
            | Outcome::QueueRefused
    )
}

pub fn run(plat: &Platform, base: usize, t: &mut Tally) {
    let mut dev = Dev {
        base,
        avail_idx: 0,
        used_seen: 0,
    };
    let table = (dma() + DESC) as u64;
    let ok = dev.setup(table, u32::from(QSIZE)).is_ok() && dev.good_read() == Outcome::Status(0);
    t.check(
        "virtio",
        "baseline-read",
        ok,
        format_args!("a normal read completes with status 0"),
    );
    if !ok {
        return;
    }
    let max = dev.r(QUEUE_NUM_MAX);
    let end = plat.ram_end();
    let status = (dma() + STATUS_BYTE) as u64;
    let data = (dma() + DATA) as u64;

    type Attack = fn(&mut Dev, u64, u64, u64) -> Outcome;
    let attacks: [(&str, Attack); 10] = [
        ("read-into-hypervisor", |d, end, _, status| {
            d.request(T_IN, end, 512, status)
        }),
        ("write-from-hypervisor", |d, end, _, status| {
            d.request(T_OUT, end, 512, status)
        }),
        ("buffer-straddles-ram-end", |d, end, _, status| {
            d.request(T_IN, end - 256, 512, status)
        }),
        ("status-outside-ram", |d, end, data, _| {
            d.request(T_IN, data, 512, end)
        }),
        ("descriptor-loop", |d, _, data, _| {
            desc(0, data, 16, F_NEXT, 1);
            desc(1, data + 16, 16, F_NEXT, 0);
            d.submit(0, 1)
        }),
        ("next-out-of-range", |d, _, data, _| {
            desc(0, data, 16, F_NEXT, 200);
            d.submit(0, 1)
        }),
        ("head-out-of-range", |d, _, _, _| d.submit(50, 1)),
        ("chain-over-4gib", |d, _, data, status| {
            desc(0, data, 16, F_NEXT, 1);
            desc(1, data + 512, u32::MAX, F_WRITE | F_NEXT, 2);
            desc(2, data + 512, u32::MAX, F_WRITE | F_NEXT, 3);
            desc(3, status, 1, F_WRITE, 0);
            d.submit(0, 1)
        }),
        ("indirect-descriptor", |d, _, data, _| {
            desc(0, data, 64, F_INDIRECT, 0);
            d.submit(0, 1)
        }),
        ("avail-index-jump", |d, _, _, _| d.submit(0, 1000)),
    ];
    for (name, attack) in attacks {
        let o = attack(&mut dev, end, data, status);
        judge(t, &mut dev, name, o);
    }
    // Rings that are not in guest RAM, and a queue larger than the device's.
    for (name, table, num) in [
        ("ring-outside-ram", end, u32::from(QSIZE)),
        (
            "queue-larger-than-max",
            (dma() + DESC) as u64,
            max.saturating_mul(2).max(0x8000),
        ),
    ] {
        let o = match dev.setup(table, num) {
            Ok(()) => dev.good_read(),
            Err(o) => o,
        };
        judge(t, &mut dev, name, o);
    }
    let _ = dev.w(STATUS, 0);
}

/// An attack passes when it was refused and a reset brings the device
/// back to serving a normal read.
fn judge(t: &mut Tally, dev: &mut Dev, name: &str, o: Outcome) {
    let recovered = dev.setup((dma() + DESC) as u64, u32::from(QSIZE)).is_ok()
        && dev.good_read() == Outcome::Status(0);
    t.check(
        "virtio",
        name,
        refused(o) && recovered,
        format_args!(
            "{o:?}, device {}",
            if recovered { "recovered" } else { "LOST" }
        ),
    );
}
