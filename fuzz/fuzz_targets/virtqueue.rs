//! The emulated virtio-blk device (`virtio` crate) under a malicious
//! driver: raw register writes, descriptor tables and rings anywhere
//! (outside RAM, across its end, near 2^64), `next` loops, huge chains and
//! lengths, interleaved with well-formed requests.
//!
//! Every guest-memory access the device makes during a QueueNotify is
//! logged (`virtqueue_model.rs`) and checked against the split-ring rules
//! (virtio 1.2 §2.7): the device writes only the used ring (elements and
//! index) and the device-writable buffers of descriptors it read, and reads
//! only the available ring, the descriptor table and device-readable
//! buffers; a kick does bounded work (so it terminates); used elements
//! return exactly the heads taken from the available ring, in order; the
//! disk only ever sees whole in-range sectors; the interrupt line follows
//! InterruptStatus. Guest RAM itself refuses anything outside it, with the
//! hypervisor's own bounds checks.
#![no_main]

use fuzz_support::virtqueue_model::{
    self as model, address, CheckedDisk, LoggedRam, ACCESS_SIZES, AVAIL, DATA, DESC, OPS, OP_ACK,
    OP_AVAIL, OP_DESC, OP_KICK, OP_POKE, OP_REG_READ, OP_REG_WRITE, OP_REQUEST, OP_SETUP,
    QUEUE_MAX, QUEUE_SIZES, RAM_BASE, RAM_SIZE, SCRATCH, USED,
};
use fuzz_support::Input;
use libfuzzer_sys::fuzz_target;
use virtio::spec::{blk, desc, feature, reg, status};
use virtio::{DeviceConfig, VirtioBlkMmio};

/// The largest queue the device supports (virtio::spec::MAX_QUEUE_SIZE).
const MAX_QUEUE: u64 = 256;

fuzz_target!(
    init: fuzz_support::seed_corpus("virtqueue", model::seeds),
    |data: &[u8]| {
        let mut input = Input::new(data);
        let scratch_len = input.pick(&SCRATCH);
        let sectors = 1 + u64::from(input.u8() % 128);
        let read_only = input.bool();
        let queue_max = input.pick(&QUEUE_MAX);
        let mut scratch = vec![0u8; scratch_len];
        let config = DeviceConfig::new().with_queue_max_size(queue_max);
        let dev = VirtioBlkMmio::new(CheckedDisk::new(sectors, read_only), &mut scratch[..], config)
            .expect("valid device configuration");
        let mut g = Guest {
            dev,
            ram: LoggedRam::default(),
            rings: Rings::default(),
            qsize: 8,
            next_desc: 0,
            next_data: DATA,
            sectors,
        };
        while !input.is_empty() {
            match input.u8() % OPS {
                OP_REG_WRITE => {
                    let offset = u64::from(input.u16() % 0x200);
                    let size = input.pick(&ACCESS_SIZES);
                    let value = input.u32();
                    g.write_reg(offset, size, value);
                }
                OP_REG_READ => {
                    let offset = u64::from(input.u16() % 0x200);
                    let size = input.pick(&ACCESS_SIZES);
                    let _ = g.dev.mmio_read(offset, size);
                }
                OP_POKE => {
                    let at = RAM_BASE + u64::from(input.u16());
                    let n = usize::from(input.u8());
                    g.ram.put(at, input.bytes(n));
                }
                OP_DESC => {
                    let index = u64::from(input.u8());
                    let addr = address(&mut input);
                    let (len, flags, next) = (input.u32(), input.u16(), input.u16());
                    g.write_desc(index, addr, len, flags, next);
                }
                OP_AVAIL => {
                    let head = input.u16();
                    g.push_avail(head);
                }
                OP_KICK => {
                    let q = input.u8();
                    g.kick(if q >= 240 { u32::from(q) } else { 0 });
                }
                OP_SETUP => g.setup(&mut input),
                OP_REQUEST => g.request(&mut input),
                OP_ACK => {
                    let pending = g.dev.mmio_read(reg::INTERRUPT_STATUS, 4).expect("readable");
                    g.write_reg(reg::INTERRUPT_ACK, 4, pending);
                }
                _ => unreachable!(),
            }
            let pending = g.dev.mmio_read(reg::INTERRUPT_STATUS, 4).expect("readable");
            assert_eq!(g.dev.interrupt_line(), pending != 0);
        }
    }
);

/// The ring addresses as the device holds them, mirrored from register
/// writes the device accepted.
#[derive(Clone, Copy, Default, Debug)]
struct Rings {
    desc: u64,
    avail: u64,
    used: u64,
}

struct Guest<'s> {
    dev: VirtioBlkMmio<CheckedDisk, &'s mut [u8]>,
    ram: LoggedRam,
    rings: Rings,
    /// The queue size the driver believes in (for its ring slots).
    qsize: u16,
    next_desc: u16,
    next_data: u64,
    sectors: u64,
}

impl Guest<'_> {
    fn rd(&mut self, offset: u64) -> u32 {
        self.dev.mmio_read(offset, 4).expect("readable register")
    }

    /// A register write, mirroring the ring addresses: the device takes
    /// them only while the selected queue exists and is not ready
    /// (QueueNumMax reads 0 for another queue), and a Status of 0 resets.
    fn write_reg(&mut self, offset: u64, size: u8, value: u32) {
        let writable = self.rd(reg::QUEUE_NUM_MAX) != 0 && self.rd(reg::QUEUE_READY) == 0;
        self.ram.log.borrow_mut().clear();
        if self
            .dev
            .mmio_write(offset, size, value, &mut self.ram)
            .is_err()
        {
            return;
        }
        let set = |field: &mut u64, high: bool| {
            *field = if high {
                (*field & 0xffff_ffff) | (u64::from(value) << 32)
            } else {
                (*field & !0xffff_ffff) | u64::from(value)
            }
        };
        let r = &mut self.rings;
        match offset {
            reg::STATUS if value == 0 => *r = Rings::default(),
            reg::QUEUE_DESC_LOW if writable => set(&mut r.desc, false),
            reg::QUEUE_DESC_HIGH if writable => set(&mut r.desc, true),
            reg::QUEUE_DRIVER_LOW if writable => set(&mut r.avail, false),
            reg::QUEUE_DRIVER_HIGH if writable => set(&mut r.avail, true),
            reg::QUEUE_DEVICE_LOW if writable => set(&mut r.used, false),
            reg::QUEUE_DEVICE_HIGH if writable => set(&mut r.used, true),
            reg::QUEUE_NOTIFY => self.check_kick_log(),
            _ => {}
        }
    }

    fn write_desc(&mut self, index: u64, addr: u64, len: u32, flags: u16, next: u16) {
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&addr.to_le_bytes());
        d[8..12].copy_from_slice(&len.to_le_bytes());
        d[12..14].copy_from_slice(&flags.to_le_bytes());
        d[14..].copy_from_slice(&next.to_le_bytes());
        self.ram.put(self.rings.desc.wrapping_add(16 * index), &d);
    }

    fn push_avail(&mut self, head: u16) {
        let avail = self.rings.avail;
        let idx = self.ram.get_u16(avail.wrapping_add(2));
        let slot = u64::from(idx & self.qsize.wrapping_sub(1));
        self.ram
            .put(avail.wrapping_add(4 + 2 * slot), &head.to_le_bytes());
        self.ram
            .put(avail.wrapping_add(2), &idx.wrapping_add(1).to_le_bytes());
    }

    fn kick(&mut self, queue: u32) {
        self.write_reg(reg::QUEUE_NOTIFY, 4, queue);
    }

    /// §3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, the
    /// queue, DRIVER_OK.
    fn setup(&mut self, input: &mut Input) {
        let size = input.pick(&QUEUE_SIZES);
        let feature_mask = input.u8();
        let rings = match input.u8() {
            0 => Rings {
                desc: DESC,
                avail: AVAIL,
                used: USED,
            },
            _ => Rings {
                desc: address(input),
                avail: address(input),
                used: address(input),
            },
        };
        self.write_reg(reg::STATUS, 4, 0);
        self.write_reg(
            reg::STATUS,
            4,
            u32::from(status::ACKNOWLEDGE | status::DRIVER),
        );
        let mut offered = 0u64;
        for sel in 0..2 {
            self.write_reg(reg::DEVICE_FEATURES_SEL, 4, sel);
            offered |= u64::from(self.rd(reg::DEVICE_FEATURES)) << (32 * sel);
        }
        // Some of what is offered (the mask spreads over the feature bits
        // the device knows), always VERSION_1.
        let known = [
            feature::BLK_SIZE_MAX,
            feature::BLK_SEG_MAX,
            feature::BLK_RO,
            feature::BLK_BLK_SIZE,
            feature::BLK_FLUSH,
            feature::RING_INDIRECT_DESC,
            feature::RING_EVENT_IDX,
        ];
        let wanted = known
            .iter()
            .enumerate()
            .filter(|&(i, _)| feature_mask & (1 << i) != 0)
            .fold(feature::VERSION_1, |acc, (_, &f)| acc | f);
        // A driver asking for more than offered is refused FEATURES_OK.
        let accepted = if feature_mask & 0x80 != 0 {
            wanted
        } else {
            wanted & offered
        };
        for sel in 0..2u32 {
            self.write_reg(reg::DRIVER_FEATURES_SEL, 4, sel);
            self.write_reg(reg::DRIVER_FEATURES, 4, (accepted >> (32 * sel)) as u32);
        }
        let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK;
        self.write_reg(reg::STATUS, 4, u32::from(s));
        let features_ok = self.rd(reg::STATUS) & u32::from(status::FEATURES_OK) != 0;
        assert_eq!(
            features_ok,
            accepted & !offered == 0,
            "FEATURES_OK decision"
        );
        self.write_reg(reg::QUEUE_SEL, 4, 0);
        self.write_reg(reg::QUEUE_NUM, 4, size);
        for (low, value) in [
            (reg::QUEUE_DESC_LOW, rings.desc),
            (reg::QUEUE_DRIVER_LOW, rings.avail),
            (reg::QUEUE_DEVICE_LOW, rings.used),
        ] {
            self.write_reg(low, 4, value as u32);
            self.write_reg(low + 4, 4, (value >> 32) as u32);
        }
        self.write_reg(reg::QUEUE_READY, 4, 1);
        self.write_reg(reg::STATUS, 4, u32::from(s | status::DRIVER_OK));
        self.qsize = size.clamp(1, 256) as u16;
        self.next_desc = 0;
        self.next_data = DATA;
        // A fresh ring: both indices zero.
        self.ram.put(self.rings.avail, &[0; 4]);
        self.ram.put(self.rings.used, &[0; 4]);
    }

    /// A correctly framed request: header, data in 1..4 pieces, status.
    fn request(&mut self, input: &mut Input) {
        let kind = input.u8();
        let request_type = match kind % 5 {
            0 => blk::T_IN,
            1 => blk::T_OUT,
            2 => blk::T_FLUSH,
            3 => blk::T_GET_ID,
            _ => input.u32(),
        };
        let sector = if kind & 0x80 != 0 {
            input.u64()
        } else {
            u64::from(input.u8()) % (self.sectors + 4)
        };
        let count = u64::from(input.u8() % 8);
        let pieces = 1 + u64::from(input.u8() % 4);
        let data_len = match request_type {
            blk::T_GET_ID => 20,
            blk::T_FLUSH => 0,
            _ => count * 512,
        };
        // Buffers: header (16), data, status (1), from the data area.
        let total = 16 + data_len + 1;
        if self.next_data + total > RAM_BASE + RAM_SIZE as u64 {
            self.next_data = DATA;
        }
        let base = self.next_data;
        self.next_data += total.next_multiple_of(16);
        let mut header = [0u8; 16];
        header[..4].copy_from_slice(&request_type.to_le_bytes());
        header[8..].copy_from_slice(&sector.to_le_bytes());
        self.ram.put(base, &header);
        let device_writes_data = matches!(request_type, blk::T_IN | blk::T_GET_ID);
        let mut parts = vec![(base, 16u32, false)];
        let step = data_len.div_ceil(pieces).max(1);
        let mut at = 0;
        while at < data_len {
            let n = step.min(data_len - at);
            parts.push((base + 16 + at, n as u32, device_writes_data));
            at += n;
        }
        parts.push((base + 16 + data_len, 1, true));
        let size = self.qsize;
        let head = self.next_desc % size;
        for (k, &(addr, len, write)) in parts.iter().enumerate() {
            let i = (head + k as u16) % size;
            let last = k + 1 == parts.len();
            let flags = if write { desc::F_WRITE } else { 0 } | if last { 0 } else { desc::F_NEXT };
            self.write_desc(u64::from(i), addr, len, flags, (i + 1) % size);
        }
        self.next_desc = self.next_desc.wrapping_add(parts.len() as u16);
        self.push_avail(head);
    }

    /// Checks what the device did to guest memory during the QueueNotify
    /// that just returned. A kick is, in order: the available index read;
    /// per chain the head read from the available ring, the descriptor
    /// reads (the whole chain is read before it runs), the request's
    /// buffer accesses, then the used element and the used index writes;
    /// finally the available flags read (interrupt suppression). A chain
    /// that breaks the device ends the kick early.
    fn check_kick_log(&mut self) {
        let log = std::mem::take(&mut *self.ram.log.borrow_mut());
        // Bounded work: per chain one available-ring read, at most
        // MAX_QUEUE descriptors, a header of at most 16 one-byte pieces,
        // the status byte twice, data pieces (one per segment or scratch
        // chunk; the data is bounded by the disk for reads and writes),
        // the used element and index; at most MAX_QUEUE chains per kick.
        let per_chain = 1 + MAX_QUEUE + 16 + 2 + (MAX_QUEUE + self.sectors + 2) + 2;
        let bound = 4 + MAX_QUEUE * per_chain;
        assert!(
            log.len() as u64 <= bound,
            "{} guest accesses in one kick",
            log.len()
        );
        let Some(first) = log.first() else {
            return;
        };
        let Rings { desc, avail, used } = self.rings;
        let at = |a: &model::Access, write: bool, ipa: Option<u64>, len: usize| {
            a.write == write && Some(a.ipa) == ipa && a.len == len
        };
        let slot = |ipa: u64, base: Option<u64>, stride: u64| {
            base.and_then(|b| ipa.checked_sub(b))
                .is_some_and(|off| off % stride == 0 && off / stride < MAX_QUEUE)
        };
        let within = |a: &model::Access, bufs: &[(u64, u64)]| {
            bufs.iter().any(|&(addr, len)| {
                a.ipa
                    .checked_sub(addr)
                    .is_some_and(|off| off.checked_add(a.len as u64).is_some_and(|end| end <= len))
            })
        };
        let flags_read = |a: &model::Access| at(a, false, Some(avail), 2);
        let broken = || self.dev.status() & status::DEVICE_NEEDS_RESET != 0;

        assert!(
            at(first, false, avail.checked_add(2), 2),
            "kick starts with {first:x?}"
        );
        let mut i = 1;
        let mut complete = first.ok;
        let mut last_used_idx: Option<u16> = None;
        while complete && i < log.len() {
            if i + 1 == log.len() && flags_read(&log[i]) {
                break;
            }
            // The head.
            let a = &log[i];
            assert!(
                !a.write && a.len == 2 && slot(a.ipa, avail.checked_add(4), 2),
                "expected an available-ring read, got {a:x?}"
            );
            i += 1;
            if !a.ok {
                complete = false;
                break;
            }
            let head = u16::from_le_bytes([a.bytes[0], a.bytes[1]]);
            // The chain's descriptors.
            let (mut readable, mut writable) = (Vec::new(), Vec::new());
            while let Some(a) = log
                .get(i)
                .filter(|a| !a.write && a.len == 16 && slot(a.ipa, Some(desc), 16))
            {
                i += 1;
                if !a.ok {
                    break;
                }
                let b = &a.bytes;
                let addr = u64::from_le_bytes(b[..8].try_into().unwrap());
                let len = u64::from(u32::from_le_bytes(b[8..12].try_into().unwrap()));
                let flags = u16::from_le_bytes([b[12], b[13]]);
                if flags & desc::F_WRITE != 0 {
                    writable.push((addr, len));
                } else {
                    readable.push((addr, len));
                }
            }
            // The request, up to the used element + index pair.
            complete = false;
            while let Some(a) = log.get(i) {
                let next = log.get(i + 1);
                let elem = a.write && a.len == 8 && slot(a.ipa, used.checked_add(4), 8);
                if elem && !a.ok {
                    // The used ring is not in RAM: the device breaks.
                    i += 1;
                    break;
                }
                if elem && next.is_some_and(|n| at(n, true, used.checked_add(2), 2)) {
                    let idx = next.map(|n| u16::from_le_bytes([n.bytes[0], n.bytes[1]]));
                    let id = u32::from_le_bytes(a.bytes[..4].try_into().unwrap());
                    assert_eq!(id, u32::from(head), "used id is not the chain's head");
                    if let (Some(prev), Some(idx)) = (last_used_idx, idx) {
                        assert_eq!(idx, prev.wrapping_add(1), "used index skipped");
                    }
                    last_used_idx = idx;
                    i += 2;
                    complete = a.ok && next.is_some_and(|n| n.ok);
                    break;
                }
                if i + 1 == log.len() && flags_read(a) {
                    break;
                }
                if a.write {
                    assert!(
                        within(a, &writable),
                        "device wrote {} bytes at {:#x} outside the chain's writable \
                         buffers {writable:x?}",
                        a.len,
                        a.ipa
                    );
                } else {
                    assert!(
                        within(a, &readable),
                        "device read {} bytes at {:#x} outside the chain's readable \
                         buffers {readable:x?}",
                        a.len,
                        a.ipa
                    );
                }
                i += 1;
            }
        }
        // Whatever is left is at most the final flags read.
        match &log[i..] {
            [] => {}
            [a] => assert!(flags_read(a), "unexpected trailing access {a:x?}"),
            rest => panic!(
                "{} accesses after the kick ended: {:x?}",
                rest.len(),
                &rest[..1]
            ),
        }
        if !complete {
            assert!(
                broken(),
                "a chain was abandoned without breaking the device"
            );
        }
    }
}
