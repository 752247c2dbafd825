//! Well-formed §5.2.6 requests from a well-behaved driver.

mod common;

use common::*;
use virtio::spec::{blk, reg};
use virtio::{BackendError, DeviceConfig, Notify, RequestError};

fn ready(sectors: u64) -> Driver {
    let mut d = Driver::new(MemDisk::new(sectors));
    d.init(256);
    d
}

#[test]
fn read_write_read_back() {
    let mut d = ready(128);
    assert_eq!(d.read_sectors(10, 4), (blk::S_OK, pattern(10, 4)));
    let data: Vec<u8> = (0..3 * 512).map(|i| (i % 251) as u8).collect();
    assert_eq!(d.write_sectors(20, &data), blk::S_OK);
    assert_eq!(d.read_sectors(20, 3), (blk::S_OK, data.clone()));
    assert_eq!(&d.dev.backend_mut().data[20 * 512..23 * 512], &data[..]);
    // Neighbours untouched.
    assert_eq!(d.read_sectors(19, 1).1, pattern(19, 1));
    assert_eq!(d.read_sectors(23, 1).1, pattern(23, 1));
    let s = d.dev.stats();
    assert_eq!((s.reads, s.writes, s.requests), (4, 1, 5));
    assert_eq!(s.bytes_written, 3 * 512);
    assert_eq!(s.bytes_read, (4 + 3 + 1 + 1) * 512);
    assert_eq!((s.io_errors, s.unsupported, s.needs_reset), (0, 0, 0));
}

#[test]
fn last_sector_is_reachable() {
    let mut d = ready(16);
    assert_eq!(d.read_sectors(15, 1), (blk::S_OK, pattern(15, 1)));
    assert_eq!(d.read_sectors(0, 16), (blk::S_OK, pattern(0, 16)));
}

#[test]
fn flush_and_get_id() {
    let mut d = ready(8);
    assert_eq!(d.flush(), blk::S_OK);
    assert_eq!(d.dev.backend_mut().flushes, 1);
    let (st, id) = d.get_id();
    assert_eq!(st, blk::S_OK);
    assert_eq!(&id[..], &SERIAL.as_bytes()[..20]);

    // Short serials are NUL-padded.
    let mut d = Driver::with(
        MemDisk::new(8),
        DeviceConfig::new().with_serial("vda"),
        4096,
    );
    d.init(8);
    assert_eq!(d.get_id().1, b"vda\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
}

#[test]
fn large_transfers_go_through_the_scratch_buffer_in_chunks() {
    // 1 KiB + 100 bytes of scratch: used as 1 KiB (whole sectors).
    let mut d = Driver::with(MemDisk::new(2048), DeviceConfig::new(), 1124);
    d.init(256);
    assert_eq!(d.read_sectors(7, 300), (blk::S_OK, pattern(7, 300)));
    assert_eq!(d.dev.backend_mut().max_io, 1024);
    let data: Vec<u8> = (0..257 * 512).map(|i| (i / 3) as u8).collect();
    assert_eq!(d.write_sectors(1000, &data), blk::S_OK);
    assert_eq!(d.read_sectors(1000, 257).1, data);
}

#[test]
fn scattered_buffers_and_arbitrary_framing() {
    // §2.6.4: the header may be split, and data buffers need not be
    // sector-sized; a sector may straddle buffers.
    let mut d = ready(64);
    let mut hdr = [0u8; 16];
    hdr[..4].copy_from_slice(&blk::T_IN.to_le_bytes());
    hdr[8..].copy_from_slice(&5u64.to_le_bytes());
    let h1 = d.alloc(3, 0);
    let h2 = d.alloc(13, 0);
    d.ram.put(h1, &hdr[..3]);
    d.ram.put(h2, &hdr[3..]);
    let a = d.alloc(100, 0);
    let b = d.alloc(700, 0);
    // Last writable buffer holds 224 data bytes plus the status byte.
    let c = d.alloc(225, 0xff);
    let (len, _) = d.submit(&[r(h1, 3), r(h2, 13), w(a, 100), w(b, 700), w(c, 225)]);
    assert_eq!(len, 1025);
    let mut got = d.ram.get(a, 100);
    got.extend(d.ram.get(b, 700));
    got.extend(d.ram.get(c, 224));
    assert_eq!(got, pattern(5, 2));
    assert_eq!(d.ram.get(c + 224, 1)[0], blk::S_OK);

    // OUT with header and data in one buffer, status sharing nothing.
    let mut out = vec![0u8; 16 + 512];
    out[..4].copy_from_slice(&blk::T_OUT.to_le_bytes());
    out[8..16].copy_from_slice(&9u64.to_le_bytes());
    out[16..].fill(0x5a);
    let o = d.alloc(out.len(), 0);
    d.ram.put(o, &out);
    let st = d.alloc(1, 0xff);
    d.submit(&[r(o, out.len() as u32), w(st, 1)]);
    assert_eq!(d.ram.get(st, 1)[0], blk::S_OK);
    assert_eq!(d.read_sectors(9, 1).1, vec![0x5a; 512]);

    // Zero-length descriptors anywhere are harmless.
    let hdr = d.header(blk::T_IN, 1);
    let buf = d.alloc(512, 0);
    let st = d.alloc(1, 0xff);
    d.submit(&[
        r(hdr, 16),
        r(DATA, 0),
        w(buf, 512),
        w(DATA, 0),
        w(st, 1),
        w(DATA, 0),
    ]);
    assert_eq!(d.ram.get(st, 1)[0], blk::S_OK);
    assert_eq!(d.ram.get(buf, 512), pattern(1, 1));
}

#[test]
fn several_chains_per_kick_complete_in_order() {
    let mut d = ready(64);
    let mut expect = Vec::new();
    for i in 0..10u64 {
        let hdr = d.header(blk::T_IN, i);
        let buf = d.alloc(512, 0);
        let st = d.alloc(1, 0xff);
        let head = d.add_chain(&[r(hdr, 16), w(buf, 512), w(st, 1)]);
        expect.push((head, buf, st, i));
    }
    assert_eq!(d.kick(), Notify::Interrupt);
    assert_eq!(d.used_idx(), 10);
    for (n, (head, buf, st, sector)) in expect.into_iter().enumerate() {
        assert_eq!(d.used_elem(n as u16), (u32::from(head), 513));
        assert_eq!(d.ram.get(st, 1)[0], blk::S_OK);
        assert_eq!(d.ram.get(buf, 512), pattern(sector, 1));
    }
    // A second kick with nothing new does nothing.
    assert_eq!(d.kick(), Notify::None);
    assert_eq!(d.dev.stats().notifies, 2);
}

#[test]
fn indices_wrap_around_16_bits() {
    let mut d = Driver::new(MemDisk::new(8));
    d.init(4);
    for _ in 0..70_000u32 {
        assert_eq!(d.flush(), blk::S_OK);
        d.ack();
    }
    assert_eq!(d.dev.backend_mut().flushes, 70_000);
    assert_eq!(d.used_idx(), (70_000u32 % 65_536) as u16);
}

#[test]
fn no_interrupt_flag_is_honoured() {
    let mut d = ready(8);
    d.set_no_interrupt(true);
    let hdr = d.header(blk::T_FLUSH, 0);
    let st = d.alloc(1, 0xff);
    let (_, n) = d.submit(&[r(hdr, 16), w(st, 1)]);
    assert_eq!(n, Notify::None);
    assert!(!d.dev.interrupt_line());
    d.set_no_interrupt(false);
    let (_, n) = d.submit(&[r(hdr, 16), w(st, 1)]);
    assert_eq!(n, Notify::Interrupt);
}

#[test]
fn out_of_range_and_misaligned_requests_get_ioerr() {
    let mut d = ready(16);
    assert_eq!(d.read_sectors(16, 1).0, blk::S_IOERR);
    assert_eq!(d.read_sectors(15, 2).0, blk::S_IOERR);
    assert_eq!(d.read_sectors(u64::MAX, 1).0, blk::S_IOERR);
    assert_eq!(d.write_sectors(u64::MAX - 1, &[0; 1024]), blk::S_IOERR);
    // Odd lengths.
    assert_eq!(d.write_sectors(0, &[1; 511]), blk::S_IOERR);
    let hdr = d.header(blk::T_IN, 0);
    let buf = d.alloc(513, 0xee);
    let st = d.alloc(1, 0xff);
    d.submit(&[r(hdr, 16), w(buf, 513), w(st, 1)]);
    assert_eq!(d.ram.get(st, 1)[0], blk::S_IOERR);
    assert_eq!(d.ram.get(buf, 513), vec![0xee; 513], "no data on IOERR");
    // Nothing reached the disk.
    assert_eq!(d.read_sectors(0, 16).1, pattern(0, 16));
    let s = d.dev.stats();
    assert_eq!(s.io_errors, 6);
    assert_eq!(
        s.last_error,
        Some(RequestError::UnalignedLength { len: 513 })
    );
    assert!(!d.needs_reset());
}

#[test]
fn short_header_gets_ioerr() {
    let mut d = ready(16);
    let hdr = d.header(blk::T_IN, 0);
    let st = d.alloc(1, 0xff);
    let (len, _) = d.submit(&[r(hdr, 15), w(st, 1)]);
    assert_eq!(len, 1);
    assert_eq!(d.ram.get(st, 1)[0], blk::S_IOERR);
    // No readable part at all.
    let (len, _) = d.submit(&[w(st, 1)]);
    assert_eq!(len, 1);
    assert_eq!(d.ram.get(st, 1)[0], blk::S_IOERR);
    assert_eq!(
        d.dev.stats().last_error,
        Some(RequestError::HeaderTooShort { len: 0 })
    );
}

#[test]
fn unsupported_types_get_unsupp() {
    let mut d = ready(16);
    // GET_LIFETIME, DISCARD, WRITE_ZEROES, SECURE_ERASE, nonsense.
    for t in [10u32, 11, 13, 14, 2, 0xdead_beef] {
        let hdr = d.header(t, 0);
        let buf = d.alloc(512, 0);
        let st = d.alloc(1, 0xff);
        let (len, _) = d.submit(&[r(hdr, 16), r(buf, 512), w(st, 1)]);
        assert_eq!(len, 1);
        assert_eq!(d.ram.get(st, 1)[0], blk::S_UNSUPP, "type {t}");
    }
    assert_eq!(d.dev.stats().unsupported, 6);
}

#[test]
fn read_only_backend_refuses_writes_without_touching_data() {
    let mut disk = MemDisk::new(16);
    disk.read_only = true;
    let mut d = Driver::new(disk);
    d.init(8);
    // MemDisk::write asserts if called at all.
    assert_eq!(d.write_sectors(0, &[0; 512]), blk::S_IOERR);
    assert_eq!(
        d.dev.stats().last_error,
        Some(RequestError::WriteToReadOnly)
    );
    assert_eq!(d.read_sectors(0, 1), (blk::S_OK, pattern(0, 1)));
}

#[test]
fn backend_errors_become_ioerr() {
    let mut d = ready(16);
    d.dev.backend_mut().fail = Some(BackendError::Io);
    assert_eq!(d.read_sectors(0, 1).0, blk::S_IOERR);
    assert_eq!(d.write_sectors(0, &[0; 512]), blk::S_IOERR);
    assert_eq!(d.flush(), blk::S_IOERR);
    assert_eq!(
        d.dev.stats().last_error.map(|e| e.to_string()),
        Some("backend I/O error".to_string())
    );
    d.dev.backend_mut().fail = None;
    assert_eq!(d.read_sectors(0, 1), (blk::S_OK, pattern(0, 1)));
    assert!(!d.needs_reset());
}

#[test]
fn requests_before_driver_ok_wait_for_it() {
    let mut d = Driver::new(MemDisk::new(16));
    d.negotiate();
    d.setup_queue(8);
    let hdr = d.header(blk::T_IN, 2);
    let buf = d.alloc(512, 0);
    let st = d.alloc(1, 0xff);
    d.add_chain(&[r(hdr, 16), w(buf, 512), w(st, 1)]);
    // §2.1.2: no buffer is consumed before DRIVER_OK.
    assert_eq!(d.kick(), Notify::None);
    assert_eq!(d.used_idx(), 0);
    assert_eq!(d.ram.get(st, 1)[0], 0xff);
    d.driver_ok();
    assert_eq!(d.kick(), Notify::Interrupt);
    assert_eq!(d.used_idx(), 1);
    assert_eq!(d.ram.get(buf, 512), pattern(2, 1));
}

#[test]
fn failed_status_stops_processing() {
    let mut d = ready(16);
    let s = d.status() | virtio::spec::status::FAILED;
    d.wr(reg::STATUS, u32::from(s));
    d.add_chain(&[r(DATA, 16), w(DATA + 16, 1)]);
    assert_eq!(d.kick(), Notify::None);
    assert_eq!(d.used_idx(), 0);
}
