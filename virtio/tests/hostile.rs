//! A hostile (or buggy) guest: every rejection path, none of which may
//! panic, touch memory outside guest RAM, or hang.

mod common;

use common::*;
use virtio::spec::{blk, desc, interrupt, reg, status};
use virtio::{
    BackendError, BlockBackend, DeviceConfig, GuestMemoryError, Notify, RequestError, VirtioBlkMmio,
};

fn ready(size: u16) -> Driver {
    let mut d = Driver::new(MemDisk::new(64));
    d.init(size);
    d
}

/// The device gave up: DEVICE_NEEDS_RESET, a configuration-change
/// interrupt (§2.1.2), and `error` recorded. Then it must ignore kicks
/// until reset, and work again after a reset.
fn assert_broken(d: &mut Driver, notify: Notify, error: RequestError) {
    assert_eq!(notify, Notify::Interrupt);
    assert!(d.needs_reset(), "device not broken");
    assert_ne!(d.rd(reg::INTERRUPT_STATUS) & interrupt::CONFIG_CHANGE, 0);
    assert!(d.dev.interrupt_line());
    assert_eq!(d.dev.stats().last_error, Some(error));
    assert!(error.breaks_device());
    assert!(!error.to_string().is_empty());
    // The driver cannot clear the bit by writing Status ...
    let s = d.status() & !status::DEVICE_NEEDS_RESET;
    d.wr(reg::STATUS, u32::from(s));
    assert!(d.needs_reset());
    // ... and kicks are ignored.
    let used = d.used_idx();
    assert_eq!(d.kick(), Notify::None);
    assert_eq!(d.used_idx(), used);
    // A reset and re-initialisation brings it back.
    d.init(8);
    assert!(!d.needs_reset());
    assert_eq!(d.read_sectors(1, 1), (blk::S_OK, pattern(1, 1)));
}

const OUTSIDE: u64 = RAM_BASE + RAM_SIZE as u64;

#[test]
fn data_outside_ram_is_ioerr() {
    let mut d = ready(8);
    for bad in [OUTSIDE, OUTSIDE - 256, 0, RAM_BASE - 512, u64::MAX - 100] {
        let hdr = d.header(blk::T_IN, 0);
        let st = d.alloc(1, 0xff);
        let (len, _) = d.submit(&[r(hdr, 16), w(bad, 512), w(st, 1)]);
        assert_eq!(d.ram.get(st, 1)[0], blk::S_IOERR);
        assert!(len <= 513);

        let hdr = d.header(blk::T_OUT, 0);
        let (len, _) = d.submit(&[r(hdr, 16), r(bad, 512), w(st, 1)]);
        assert_eq!(len, 1);
        assert_eq!(d.ram.get(st, 1)[0], blk::S_IOERR);

        // Header (partly) outside RAM.
        let bad_hdr = if bad == OUTSIDE - 256 {
            OUTSIDE - 8
        } else {
            bad
        };
        let (len, _) = d.submit(&[r(bad_hdr, 16), w(st, 1)]);
        assert_eq!(len, 1);
        assert_eq!(d.ram.get(st, 1)[0], blk::S_IOERR);
    }
    assert!(matches!(
        d.dev.stats().last_error,
        Some(RequestError::DataMemory(_))
    ));
    assert!(!d.needs_reset());
    // Nothing was written to disk by the failed OUTs.
    assert_eq!(d.read_sectors(0, 1).1, pattern(0, 1));
}

#[test]
fn partially_outside_buffer_reports_what_was_written() {
    let mut d = ready(8);
    let hdr = d.header(blk::T_IN, 0);
    let st = d.alloc(1, 0xff);
    // Second buffer straddles the end of RAM.
    let a = d.alloc(512, 0);
    let (len, _) = d.submit(&[r(hdr, 16), w(a, 512), w(OUTSIDE - 100, 512), w(st, 1)]);
    assert_eq!(d.ram.get(st, 1)[0], blk::S_IOERR);
    assert_eq!(len, 513);
    assert_eq!(d.ram.get(a, 512), pattern(0, 1));
    assert_eq!(
        d.dev.stats().last_error,
        Some(RequestError::DataMemory(GuestMemoryError {
            ipa: OUTSIDE - 100,
            len: 512
        }))
    );
}

#[test]
fn status_outside_ram_breaks_the_device_without_io() {
    let mut d = ready(8);
    let data = vec![0x11; 512];
    let hdr = d.header(blk::T_OUT, 0);
    let buf = d.alloc(512, 0);
    d.ram.put(buf, &data);
    d.add_chain(&[r(hdr, 16), r(buf, 512), w(OUTSIDE, 1)]);
    let n = d.kick();
    assert_eq!(d.used_idx(), 0);
    // The status byte is probed first: the disk was not written.
    assert_eq!(d.dev.backend_mut().data[..512], pattern(0, 1)[..]);
    assert_broken(
        &mut d,
        n,
        RequestError::StatusMemory(GuestMemoryError {
            ipa: OUTSIDE,
            len: 1,
        }),
    );
}

#[test]
fn chain_without_writable_byte_breaks_the_device() {
    let mut d = ready(8);
    let hdr = d.header(blk::T_FLUSH, 0);
    d.add_chain(&[r(hdr, 16)]);
    let n = d.kick();
    assert_broken(&mut d, n, RequestError::NoStatusByte);
    // Only zero-length writable descriptors: same thing.
    let hdr = d.header(blk::T_FLUSH, 0);
    d.add_chain(&[r(hdr, 16), w(DATA, 0)]);
    let n = d.kick();
    assert_broken(&mut d, n, RequestError::NoStatusByte);
}

#[test]
fn self_loop_terminates() {
    let mut d = ready(8);
    let hdr = d.header(blk::T_IN, 0);
    d.write_desc(0, hdr, 16, desc::F_NEXT, 0);
    d.push_avail(0);
    let n = d.kick();
    assert_broken(&mut d, n, RequestError::ChainTooLong { size: 8 });
}

#[test]
fn longer_cycles_and_chains_longer_than_the_queue_terminate() {
    // 0 -> 1 -> 2 -> 3 -> 0 ... in a 4-entry queue: longer than the queue.
    let mut d = ready(8);
    d.wr(reg::STATUS, 0);
    d.init(4);
    let st = d.alloc(1, 0xff);
    for i in 0..4u16 {
        d.write_desc(i, st, 1, desc::F_NEXT | desc::F_WRITE, (i + 1) % 4);
    }
    d.push_avail(2);
    let n = d.kick();
    assert_broken(&mut d, n, RequestError::ChainTooLong { size: 4 });

    // A two-cycle entered from the head.
    let mut d = ready(256);
    let hdr = d.header(blk::T_IN, 0);
    d.write_desc(5, hdr, 16, desc::F_NEXT, 6);
    d.write_desc(6, hdr, 16, desc::F_NEXT, 5);
    d.push_avail(5);
    let n = d.kick();
    assert_broken(&mut d, n, RequestError::ChainTooLong { size: 256 });
}

#[test]
fn a_chain_of_exactly_queue_size_is_fine() {
    let mut d = ready(8);
    d.wr(reg::STATUS, 0);
    d.init(4);
    let hdr = d.header(blk::T_IN, 0);
    let a = d.alloc(256, 0);
    let b = d.alloc(256, 0);
    let st = d.alloc(1, 0xff);
    d.submit(&[r(hdr, 16), w(a, 256), w(b, 256), w(st, 1)]);
    assert_eq!(d.ram.get(st, 1)[0], blk::S_OK);
}

#[test]
fn descriptor_index_out_of_range() {
    // Via `next`.
    let mut d = ready(8);
    let hdr = d.header(blk::T_IN, 0);
    d.write_desc(0, hdr, 16, desc::F_NEXT, 8);
    d.push_avail(0);
    let n = d.kick();
    assert_broken(
        &mut d,
        n,
        RequestError::DescriptorIndex { index: 8, size: 8 },
    );
    // Via the available ring.
    let mut d = ready(8);
    d.push_avail(0xffff);
    let n = d.kick();
    assert_broken(
        &mut d,
        n,
        RequestError::DescriptorIndex {
            index: 0xffff,
            size: 8,
        },
    );
}

#[test]
fn huge_lengths() {
    let mut d = ready(8);
    // Total over 4 GiB: refused while walking (§2.7.5.2).
    let hdr = d.header(blk::T_IN, 0);
    let st = d.alloc(1, 0xff);
    d.add_chain(&[r(hdr, 16), w(DATA, u32::MAX), w(st, 1)]);
    let n = d.kick();
    assert_broken(&mut d, n, RequestError::ChainTooLarge);

    // Just under 4 GiB: a valid chain, but far beyond the disk.
    let mut d = ready(8);
    let hdr = d.header(blk::T_IN, 0);
    let (len, _) = d.submit(&[r(hdr, 16), w(DATA, 0xffff_fe00), w(st, 1)]);
    assert_eq!(len, 1);
    assert_eq!(d.ram.get(st, 1)[0], blk::S_IOERR);
    assert_eq!(
        d.dev.stats().last_error,
        Some(RequestError::BeyondCapacity {
            sector: 0,
            sectors: 0x7f_ffff
        })
    );
}

/// A disk that claims 2^40 sectors of zeroes.
struct HugeDisk;
impl BlockBackend for HugeDisk {
    fn capacity_sectors(&self) -> u64 {
        1 << 40
    }
    fn read(&mut self, _: u64, buf: &mut [u8]) -> Result<(), BackendError> {
        buf.fill(0);
        Ok(())
    }
    fn write(&mut self, _: u64, _: &[u8]) -> Result<(), BackendError> {
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
}

#[test]
fn huge_in_range_request_stops_at_the_end_of_ram() {
    let mut ram = Ram::new();
    let mut dev = VirtioBlkMmio::new(HugeDisk, vec![0u8; 65536], DeviceConfig::new()).unwrap();
    fn w32(dev: &mut VirtioBlkMmio<HugeDisk, Vec<u8>>, ram: &mut Ram, o: u64, v: u32) -> Notify {
        dev.mmio_write(o, 4, v, ram).unwrap()
    }
    w32(&mut dev, &mut ram, reg::STATUS, 3);
    w32(&mut dev, &mut ram, reg::DRIVER_FEATURES_SEL, 1);
    w32(&mut dev, &mut ram, reg::DRIVER_FEATURES, 1);
    w32(&mut dev, &mut ram, reg::STATUS, 11);
    w32(&mut dev, &mut ram, reg::QUEUE_NUM, 4);
    w32(&mut dev, &mut ram, reg::QUEUE_DESC_LOW, DESC as u32);
    w32(&mut dev, &mut ram, reg::QUEUE_DRIVER_LOW, AVAIL as u32);
    w32(&mut dev, &mut ram, reg::QUEUE_DEVICE_LOW, USED as u32);
    w32(&mut dev, &mut ram, reg::QUEUE_READY, 1);
    w32(&mut dev, &mut ram, reg::STATUS, 15);
    // Header (IN, sector 0) at DATA, 4 GiB - 1 KiB of "data" from DATA+512,
    // status in the last byte of the first page.
    let hdr = DATA;
    ram.put(hdr, &[0; 16]);
    let st = DATA + 16;
    let mut put_desc = |i: u64, addr: u64, len: u32, flags: u16, next: u16| {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&addr.to_le_bytes());
        b[8..12].copy_from_slice(&len.to_le_bytes());
        b[12..14].copy_from_slice(&flags.to_le_bytes());
        b[14..].copy_from_slice(&next.to_le_bytes());
        ram.put(DESC + 16 * i, &b);
    };
    put_desc(0, hdr, 16, desc::F_NEXT, 1);
    put_desc(1, DATA + 512, 0xffff_fc00, desc::F_NEXT | desc::F_WRITE, 2);
    put_desc(2, st, 1, desc::F_WRITE, 0);
    ram.put_u16(AVAIL + 4, 0);
    ram.put_u16(AVAIL + 2, 1);
    assert_eq!(
        w32(&mut dev, &mut ram, reg::QUEUE_NOTIFY, 0),
        Notify::Interrupt
    );
    assert_eq!(ram.get(st, 1)[0], blk::S_IOERR);
    assert_eq!(ram.get_u16(USED + 2), 1);
    // It read at most RAM's worth before the guest buffer ran out of RAM.
    assert!(dev.stats().bytes_read <= RAM_SIZE as u64 + 65536);
    assert!(matches!(
        dev.stats().last_error,
        Some(RequestError::DataMemory(_))
    ));
}

#[test]
fn indirect_descriptors_are_refused() {
    let mut d = ready(8);
    let table = d.alloc(64, 0);
    d.write_desc(0, table, 64, desc::F_INDIRECT, 0);
    d.push_avail(0);
    let n = d.kick();
    assert_broken(&mut d, n, RequestError::IndirectDescriptor);
}

#[test]
fn readable_after_writable_is_refused() {
    let mut d = ready(8);
    let hdr = d.header(blk::T_IN, 0);
    let st = d.alloc(1, 0xff);
    d.add_chain(&[w(st, 1), r(hdr, 16), w(st, 1)]);
    let n = d.kick();
    assert_broken(&mut d, n, RequestError::ReadableAfterWritable);
}

#[test]
fn available_index_jump_is_refused() {
    let mut d = ready(8);
    d.ram.put_u16(AVAIL + 2, 9);
    let n = d.kick();
    assert_broken(
        &mut d,
        n,
        RequestError::AvailIndexJump {
            last: 0,
            avail: 9,
            size: 8,
        },
    );
    // Exactly `size` outstanding is legal (here: all flushes).
    let mut d = ready(8);
    for _ in 0..8 {
        let hdr = d.header(blk::T_FLUSH, 0);
        let st = d.alloc(1, 0xff);
        d.add_chain(&[r(hdr, 16), w(st, 1)]);
    }
    assert_eq!(d.kick(), Notify::Interrupt);
    assert_eq!(d.used_idx(), 8);
}

#[test]
fn rings_outside_ram() {
    for (lo, hi) in [
        (reg::QUEUE_DESC_LOW, reg::QUEUE_DESC_HIGH),
        (reg::QUEUE_DRIVER_LOW, reg::QUEUE_DRIVER_HIGH),
        (reg::QUEUE_DEVICE_LOW, reg::QUEUE_DEVICE_HIGH),
    ] {
        let mut d = Driver::new(MemDisk::new(64));
        d.negotiate();
        d.setup_queue(8);
        d.wr(reg::QUEUE_READY, 0);
        // Near the top of the address space: offsets must not wrap.
        d.wr(lo, 0xffff_fff0);
        d.wr(hi, 0xffff_ffff);
        d.wr(reg::QUEUE_READY, 1);
        d.driver_ok();
        let hdr = d.header(blk::T_FLUSH, 0);
        let st = d.alloc(1, 0xff);
        d.add_chain(&[r(hdr, 16), w(st, 1)]);
        let n = d.kick();
        assert_eq!(n, Notify::Interrupt);
        assert!(d.needs_reset());
        assert!(matches!(
            d.dev.stats().last_error,
            Some(RequestError::RingMemory(_))
        ));
    }
}

#[test]
fn completed_requests_are_reported_before_breaking() {
    let mut d = ready(8);
    d.flush(); // used idx 1
    d.ack();
    let hdr = d.header(blk::T_FLUSH, 0);
    let st = d.alloc(1, 0xff);
    d.add_chain(&[r(hdr, 16), w(st, 1)]);
    d.add_chain(&[r(hdr, 16)]); // no status byte
    let n = d.kick();
    assert_eq!(n, Notify::Interrupt);
    assert_eq!(d.used_idx(), 2);
    assert_eq!(
        d.rd(reg::INTERRUPT_STATUS),
        interrupt::USED_BUFFER | interrupt::CONFIG_CHANGE
    );
    assert_broken(&mut d, n, RequestError::NoStatusByte);
}

#[test]
fn reset_mid_flight() {
    let mut d = ready(8);
    // Chains made available, then the driver resets before kicking.
    for s in 0..3 {
        let hdr = d.header(blk::T_OUT, s);
        let buf = d.alloc(512, 0x77);
        let st = d.alloc(1, 0xff);
        d.add_chain(&[r(hdr, 16), r(buf, 512), w(st, 1)]);
    }
    d.wr(reg::STATUS, 0);
    assert_eq!(d.kick(), Notify::None);
    assert_eq!(d.used_idx(), 0);
    assert_eq!(d.dev.backend_mut().data[..3 * 512], pattern(0, 3)[..]);
    // Reset with an interrupt pending lowers the line.
    d.init(8);
    d.flush();
    assert!(d.dev.interrupt_line());
    d.wr(reg::STATUS, 0);
    assert!(!d.dev.interrupt_line());
    // Re-initialised on the same memory: old ring contents are gone, the
    // device starts from index 0 again.
    d.init(8);
    assert_eq!(d.read_sectors(0, 3), (blk::S_OK, pattern(0, 3)));
    assert_eq!(d.used_idx(), 1);
    // Queue disabled mid-way: kicks are ignored.
    d.wr(reg::QUEUE_READY, 0);
    d.add_chain(&[r(DATA, 16), w(DATA, 1)]);
    assert_eq!(d.kick(), Notify::None);
}

#[test]
fn used_ring_outside_ram_after_io() {
    let mut d = Driver::new(MemDisk::new(64));
    d.negotiate();
    d.setup_queue(8);
    d.wr(reg::QUEUE_READY, 0);
    d.wr(reg::QUEUE_DEVICE_LOW, OUTSIDE as u32);
    d.wr(reg::QUEUE_READY, 1);
    d.driver_ok();
    let hdr = d.header(blk::T_FLUSH, 0);
    let st = d.alloc(1, 0xff);
    d.add_chain(&[r(hdr, 16), w(st, 1)]);
    let n = d.kick();
    assert_eq!(n, Notify::Interrupt);
    assert!(d.needs_reset());
}
