//! Pseudo-random testing with fixed seeds (reproducible, no extra crates).
//!
//! 1. Garbage rings: thousands of random descriptor tables, available
//!    rings and register accesses. The device must not panic, the backend
//!    (which asserts) must only see in-range sector-multiple requests, and
//!    the used ring must stay consistent.
//! 2. Random well-formed traffic with random framing, checked against a
//!    shadow copy of the disk.

mod common;

use common::*;
use virtio::spec::{blk, desc, interrupt, reg, status};
use virtio::{DeviceConfig, Notify};

/// xorshift64*: tiny, deterministic, good enough to spread test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const OUTSIDE: u64 = RAM_BASE + RAM_SIZE as u64;
const SECTORS: u64 = 256;

fn addr(rng: &mut Rng) -> u64 {
    match rng.below(8) {
        0..=2 => DATA + rng.below(0x4000),
        3 => RAM_BASE + rng.below(RAM_SIZE as u64),
        4 => OUTSIDE - rng.below(1024),
        5 => rng.below(0x1000),
        6 => u64::MAX - rng.below(1024),
        _ => rng.next(),
    }
}

fn len(rng: &mut Rng) -> u32 {
    match rng.below(6) {
        0 => rng.pick(&[0, 1, 15, 16, 17, 511, 512, 513, 1024, 4096]),
        1 => rng.pick(&[u32::MAX, u32::MAX - 511, 0x8000_0000, 0xffff_fe00]),
        2 => rng.below(70_000) as u32,
        3 => 512 * rng.below(300) as u32,
        _ => rng.below(2048) as u32,
    }
}

/// Random headers all over the DATA area so random descriptors often
/// point at something that parses.
fn scatter_headers(d: &mut Driver, rng: &mut Rng) {
    for i in 0..64u64 {
        let wild = rng.next() as u32;
        let t = rng.pick(&[
            blk::T_IN,
            blk::T_OUT,
            blk::T_FLUSH,
            blk::T_GET_ID,
            11,
            13,
            wild,
        ]);
        let sector = match rng.below(4) {
            0 => rng.below(SECTORS),
            1 => SECTORS - rng.below(4),
            2 => u64::MAX - rng.below(4),
            _ => rng.next(),
        };
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&t.to_le_bytes());
        h[8..].copy_from_slice(&sector.to_le_bytes());
        d.ram.put(DATA + i * 256, &h);
    }
}

fn garbage_desc(d: &mut Driver, rng: &mut Rng, i: u16) {
    let size = d.qsize;
    let flags = if rng.chance(90) {
        rng.below(8) as u16
    } else {
        rng.next() as u16
    };
    let next = if rng.chance(90) {
        rng.below(u64::from(size) + 2) as u16
    } else {
        rng.next() as u16
    };
    let a = if rng.chance(50) {
        DATA + 256 * rng.below(64)
    } else {
        addr(rng)
    };
    d.write_desc(i, a, len(rng), flags, next);
}

/// A chain shaped like a request (header, data, status) at `head`, with
/// random addresses, lengths and the odd corrupted field.
fn plausible_chain(d: &mut Driver, rng: &mut Rng, head: u16) {
    let size = d.qsize;
    let k = (rng.below(4) + 1).min(u64::from(size)) as u16;
    let data_writable = rng.chance(50);
    for j in 0..k {
        let i = (head + j) % size;
        let last = j + 1 == k;
        let (a, l, mut flags) = if j == 0 && k > 1 {
            (
                DATA + 256 * rng.below(64),
                rng.pick(&[16, 16, 16, 8, 32]),
                0,
            )
        } else if last {
            (
                DATA + 0x4000 + rng.below(0x1000),
                rng.pick(&[1, 1, 1, 2, 0]),
                desc::F_WRITE,
            )
        } else {
            let w = if data_writable { desc::F_WRITE } else { 0 };
            (addr(rng), len(rng), w)
        };
        if !last {
            flags |= desc::F_NEXT;
        }
        if rng.chance(3) {
            flags ^= 1 << rng.below(3);
        }
        let next = if rng.chance(3) {
            rng.next() as u16
        } else {
            (i + 1) % size
        };
        d.write_desc(i, a, l, flags, next);
    }
}

fn random_rings(d: &mut Driver, rng: &mut Rng) {
    let size = d.qsize;
    if rng.chance(30) {
        for i in 0..size {
            garbage_desc(d, rng, i);
        }
    }
    let new = if rng.chance(95) {
        rng.below(u64::from(size) + 1) as u16
    } else {
        rng.next() as u16
    };
    for _ in 0..new.min(size) {
        let head = if rng.chance(98) {
            rng.below(u64::from(size)) as u16
        } else {
            rng.next() as u16
        };
        if rng.chance(85) && head < size {
            plausible_chain(d, rng, head);
        }
        d.push_avail(head);
    }
    if new > size {
        d.avail_idx = d.avail_idx.wrapping_add(new);
        d.ram.put_u16(AVAIL + 2, d.avail_idx);
    }
    d.ram.put_u16(AVAIL, rng.below(3) as u16);
}

fn random_register_access(d: &mut Driver, rng: &mut Rng) {
    let offset = if rng.chance(80) {
        rng.below(0x220) & !3
    } else {
        rng.below(0x240)
    };
    let size = rng.pick(&[4, 4, 4, 1, 2, 8, 3]);
    if rng.chance(50) {
        let _ = d.dev.mmio_read(offset, size);
    } else {
        let value = match rng.below(4) {
            0 => 0,
            1 => 1,
            2 => rng.below(0x100) as u32,
            _ => rng.next() as u32,
        };
        let _ = d.dev.mmio_write(offset, size, value, &mut d.ram);
    }
}

#[test]
fn garbage_rings_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut broken = 0;
    let mut completed = 0u64;
    for round in 0..150 {
        let mut d = Driver::with(
            MemDisk::new(SECTORS),
            DeviceConfig::new(),
            rng.pick(&[512, 1024, 4096, 65536]),
        );
        for _ in 0..100 {
            let size = rng.pick(&[4u16, 8, 16, 64, 256]);
            d.init(size);
            scatter_headers(&mut d, &mut rng);
            for _ in 0..rng.below(4) + 1 {
                let used_before = d.used_idx();
                random_rings(&mut d, &mut rng);
                let n = d.kick();
                let used_after = d.used_idx();
                let progressed = used_after.wrapping_sub(used_before);
                assert!(progressed <= size, "round {round}: used idx ran ahead");
                if d.needs_reset() {
                    broken += 1;
                    assert_eq!(n, Notify::Interrupt);
                    assert_ne!(d.rd(reg::INTERRUPT_STATUS) & interrupt::CONFIG_CHANGE, 0);
                    break;
                }
                // Healthy: everything available was used.
                assert_eq!(used_after, d.avail_idx, "round {round}: chains left behind");
                completed += u64::from(progressed);
                assert_eq!(d.dev.interrupt_line(), d.rd(reg::INTERRUPT_STATUS) != 0);
                d.ack();
            }
            for _ in 0..rng.below(4) {
                random_register_access(&mut d, &mut rng);
            }
        }
    }
    // The generator must exercise both outcomes, or the test is vacuous.
    eprintln!("{broken} rings broke the device, {completed} chains completed");
    assert!(broken > 100, "only {broken} broken rings");
    assert!(completed > 1000, "only {completed} completed chains");
}

#[test]
fn random_register_traffic_never_panics() {
    let mut rng = Rng(42);
    let mut d = Driver::new(MemDisk::new(SECTORS));
    for i in 0..200_000 {
        random_register_access(&mut d, &mut rng);
        if i % 1000 == 0 {
            // Sometimes bring the device up so notifies reach the rings.
            d.init(rng.pick(&[4u16, 8, 256]));
            random_rings(&mut d, &mut rng);
        }
    }
    // Still usable afterwards.
    d.init(8);
    assert_eq!(d.read_sectors(3, 1), (blk::S_OK, pattern(3, 1)));
}

/// Splits `total` bytes at `base` into 1..=4 random pieces.
fn split(rng: &mut Rng, base: u64, total: u32, write: bool, out: &mut Vec<D>) {
    let pieces = rng.below(4) + 1;
    let mut done = 0;
    for p in 0..pieces {
        let n = if p + 1 == pieces {
            total - done
        } else {
            rng.below(u64::from(total - done) + 1) as u32
        };
        out.push(D {
            addr: base + u64::from(done),
            len: n,
            write,
        });
        done += n;
    }
}

#[test]
fn random_valid_traffic_matches_a_shadow_disk() {
    let mut rng = Rng(7);
    let mut d = Driver::with(MemDisk::new(SECTORS), DeviceConfig::new(), 2048);
    d.init(64);
    let mut shadow = pattern(0, SECTORS as usize);
    for _ in 0..3000 {
        let count = rng.below(16) as usize + 1;
        let sector = rng.below(SECTORS - count as u64 + 1);
        let bytes = count * 512;
        let is_write = rng.chance(50);
        let mut hdr = [0u8; 16];
        let t = if is_write { blk::T_OUT } else { blk::T_IN };
        hdr[..4].copy_from_slice(&t.to_le_bytes());
        hdr[8..].copy_from_slice(&(sector).to_le_bytes());
        // Header + data (+ status) in contiguous memory, split at random
        // points into descriptors.
        let area = d.alloc(16 + bytes + 1, 0);
        d.ram.put(area, &hdr);
        let mut parts = Vec::new();
        let data: Vec<u8> = (0..bytes).map(|_| rng.next() as u8).collect();
        if is_write {
            d.ram.put(area + 16, &data);
            split(&mut rng, area, 16 + bytes as u32, false, &mut parts);
            split(&mut rng, area + 16 + bytes as u64, 1, true, &mut parts);
        } else {
            split(&mut rng, area, 16, false, &mut parts);
            split(&mut rng, area + 16, bytes as u32 + 1, true, &mut parts);
        }
        let (len, _) = d.submit(&parts);
        assert_eq!(d.ram.get(area + 16 + bytes as u64, 1)[0], blk::S_OK);
        let range = sector as usize * 512..sector as usize * 512 + bytes;
        if is_write {
            assert_eq!(len, 1);
            shadow[range].copy_from_slice(&data);
        } else {
            assert_eq!(len as usize, bytes + 1);
            assert_eq!(d.ram.get(area + 16, bytes), shadow[range]);
        }
        d.ack();
    }
    assert_eq!(d.dev.backend_mut().data, shadow);
    assert_eq!(d.status() & status::DEVICE_NEEDS_RESET, 0);
}
