//! The §4.2.2 register file, §3.1.1 initialization and §2.2 negotiation.

mod common;

use common::*;
use virtio::spec::{feature, interrupt, reg, status};
use virtio::{AccessError, ConfigError, DeviceConfig, Notify, VirtioBlkMmio};

#[test]
fn identification_registers() {
    let mut d = Driver::new(MemDisk::new(64));
    assert_eq!(d.rd(reg::MAGIC_VALUE), 0x7472_6976);
    assert_eq!(d.rd(reg::MAGIC_VALUE).to_le_bytes(), *b"virt");
    assert_eq!(d.rd(reg::VERSION), 2);
    assert_eq!(d.rd(reg::DEVICE_ID), 2);
    assert_eq!(d.rd(reg::VENDOR_ID).to_le_bytes(), *b"ELFH");
    assert_eq!(d.rd(reg::STATUS), 0);
    assert_eq!(d.rd(reg::INTERRUPT_STATUS), 0);
    assert_eq!(d.rd(reg::CONFIG_GENERATION), 0);
    assert_eq!(d.rd(reg::QUEUE_NUM_MAX), 256);
    assert_eq!(d.rd(reg::QUEUE_READY), 0);
    assert_eq!(d.rd(reg::SHM_LEN_LOW), u32::MAX);
    assert_eq!(d.rd(reg::SHM_LEN_HIGH), u32::MAX);
}

#[test]
fn offered_features() {
    let mut d = Driver::new(MemDisk::new(64));
    let f = d.features();
    assert_eq!(
        f,
        feature::VERSION_1 | feature::BLK_SEG_MAX | feature::BLK_BLK_SIZE | feature::BLK_FLUSH
    );
    assert_eq!(
        f & (feature::RING_INDIRECT_DESC | feature::RING_EVENT_IDX),
        0
    );
    d.wr(reg::DEVICE_FEATURES_SEL, 2);
    assert_eq!(d.rd(reg::DEVICE_FEATURES), 0);

    let mut disk = MemDisk::new(64);
    disk.read_only = true;
    let mut ro = Driver::new(disk);
    assert_ne!(ro.features() & feature::BLK_RO, 0);
}

#[test]
fn config_space_reads_at_every_width() {
    let mut d = Driver::new(MemDisk::new(0x1234));
    let cap = 0x1234u64;
    assert_eq!(d.dev.mmio_read(0x100, 4), Ok(cap as u32));
    assert_eq!(d.dev.mmio_read(0x104, 4), Ok(0));
    assert_eq!(d.dev.mmio_read(0x100, 1), Ok(0x34));
    assert_eq!(d.dev.mmio_read(0x101, 1), Ok(0x12));
    assert_eq!(d.dev.mmio_read(0x100, 2), Ok(0x1234));
    assert_eq!(d.dev.mmio_read(0x10c, 4), Ok(254), "seg_max");
    assert_eq!(d.dev.mmio_read(0x114, 4), Ok(512), "blk_size");
    assert_eq!(d.dev.mmio_read(0x1fc, 4), Ok(0), "past the struct");
    assert_eq!(
        d.dev.mmio_read(0x100, 8),
        Err(AccessError::BadSize {
            offset: 0x100,
            size: 8
        })
    );
    let smaller = DeviceConfig::new().with_queue_max_size(16);
    let mut d = Driver::with(MemDisk::new(8), smaller, 4096);
    assert_eq!(d.rd(reg::QUEUE_NUM_MAX), 16);
    assert_eq!(d.dev.mmio_read(0x10c, 4), Ok(14));
}

#[test]
fn registers_reject_wrong_widths_and_directions() {
    let mut d = Driver::new(MemDisk::new(8));
    let mut ram = Ram::new();
    for size in [1u8, 2, 8] {
        assert!(matches!(
            d.dev.mmio_read(reg::STATUS, size),
            Err(AccessError::BadSize { .. })
        ));
        assert!(matches!(
            d.dev.mmio_write(reg::STATUS, size, 1, &mut ram),
            Err(AccessError::BadSize { .. })
        ));
    }
    assert!(matches!(
        d.dev.mmio_write(reg::MAGIC_VALUE, 4, 0, &mut ram),
        Err(AccessError::ReadOnly { .. })
    ));
    assert!(matches!(
        d.dev.mmio_read(reg::QUEUE_NOTIFY, 4),
        Err(AccessError::WriteOnly { .. })
    ));
    assert!(matches!(
        d.dev.mmio_write(0x100, 4, 0, &mut ram),
        Err(AccessError::ReadOnly { .. })
    ));
    assert!(matches!(
        d.dev.mmio_read(0x040, 4),
        Err(AccessError::NoRegister { .. })
    ));
    assert!(matches!(
        d.dev.mmio_read(0x200, 4),
        Err(AccessError::OutOfWindow { .. })
    ));
    // Refused accesses change nothing.
    assert_eq!(d.rd(reg::STATUS), 0);
    // Every error prints.
    let e = d.dev.mmio_read(reg::STATUS, 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "virtio-mmio 2-byte access at 0x70 has an unsupported width"
    );
}

#[test]
fn full_initialization_sequence() {
    let mut d = Driver::new(MemDisk::new(64));
    d.init(256);
    let all = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK;
    assert_eq!(d.status(), all);
    assert_eq!(d.read_sectors(0, 1), (0, pattern(0, 1)));
}

#[test]
fn features_ok_refused_without_version_1_or_with_unoffered_bits() {
    for bad in [
        feature::BLK_FLUSH,                               // no VERSION_1
        feature::VERSION_1 | feature::RING_INDIRECT_DESC, // not offered
        feature::VERSION_1 | feature::RING_EVENT_IDX,     // not offered
        feature::VERSION_1 | 1 << 40,                     // not offered
    ] {
        let mut d = Driver::new(MemDisk::new(8));
        d.wr(reg::STATUS, 3);
        d.set_driver_features(bad);
        d.wr(reg::STATUS, 3 | u32::from(status::FEATURES_OK));
        assert_eq!(d.rd(reg::STATUS), 3, "accepted {bad:#x}");
    }
    // A 1 in a feature word beyond the second also fails negotiation.
    let mut d = Driver::new(MemDisk::new(8));
    d.wr(reg::STATUS, 3);
    d.set_driver_features(feature::VERSION_1);
    d.wr(reg::DRIVER_FEATURES_SEL, 2);
    d.wr(reg::DRIVER_FEATURES, 1);
    d.wr(reg::STATUS, 3 | u32::from(status::FEATURES_OK));
    assert_eq!(d.rd(reg::STATUS), 3);
    // The minimal set is fine.
    let mut d = Driver::new(MemDisk::new(8));
    d.wr(reg::STATUS, 3);
    d.set_driver_features(feature::VERSION_1);
    d.wr(reg::STATUS, 3 | u32::from(status::FEATURES_OK));
    assert_eq!(d.rd(reg::STATUS), 3 | u32::from(status::FEATURES_OK));
}

#[test]
fn features_frozen_after_features_ok() {
    let mut d = Driver::new(MemDisk::new(8));
    d.negotiate();
    // Try to sneak in an unoffered bit: ignored, device keeps working.
    d.wr(reg::DRIVER_FEATURES_SEL, 0);
    d.wr(reg::DRIVER_FEATURES, u32::MAX);
    d.setup_queue(8);
    d.driver_ok();
    assert_eq!(d.flush(), 0);
}

#[test]
fn driver_cannot_set_needs_reset() {
    let mut d = Driver::new(MemDisk::new(8));
    d.wr(reg::STATUS, 0xff);
    assert_eq!(d.status() & status::DEVICE_NEEDS_RESET, 0);
}

#[test]
fn queue_num_must_be_a_power_of_two_within_max() {
    for bad in [0u32, 3, 100, 257, 512, u32::MAX] {
        let mut d = Driver::new(MemDisk::new(8));
        d.negotiate();
        d.wr(reg::QUEUE_NUM, bad);
        d.wr(reg::QUEUE_DESC_LOW, DESC as u32);
        d.wr(reg::QUEUE_DRIVER_LOW, AVAIL as u32);
        d.wr(reg::QUEUE_DEVICE_LOW, USED as u32);
        d.wr(reg::QUEUE_READY, 1);
        assert_eq!(d.rd(reg::QUEUE_READY), 0, "size {bad} accepted");
    }
    // An invalid write after a valid one unconfigures the queue.
    let mut d = Driver::new(MemDisk::new(8));
    d.negotiate();
    d.wr(reg::QUEUE_NUM, 8);
    d.wr(reg::QUEUE_NUM, 7);
    d.wr(reg::QUEUE_READY, 1);
    assert_eq!(d.rd(reg::QUEUE_READY), 0);
    for good in [1u32, 2, 4, 256] {
        let mut d = Driver::new(MemDisk::new(8));
        d.negotiate();
        d.wr(reg::QUEUE_NUM, good);
        d.wr(reg::QUEUE_READY, 1);
        assert_eq!(d.rd(reg::QUEUE_READY), 1, "size {good} refused");
    }
}

#[test]
fn misaligned_rings_are_refused() {
    for (offset, addr) in [
        (reg::QUEUE_DESC_LOW, DESC + 8),
        (reg::QUEUE_DRIVER_LOW, AVAIL + 1),
        (reg::QUEUE_DEVICE_LOW, USED + 2),
    ] {
        let mut d = Driver::new(MemDisk::new(8));
        d.negotiate();
        d.wr(reg::QUEUE_NUM, 8);
        d.wr(reg::QUEUE_DESC_LOW, DESC as u32);
        d.wr(reg::QUEUE_DRIVER_LOW, AVAIL as u32);
        d.wr(reg::QUEUE_DEVICE_LOW, USED as u32);
        d.wr(offset, addr as u32);
        d.wr(reg::QUEUE_READY, 1);
        assert_eq!(d.rd(reg::QUEUE_READY), 0);
    }
}

#[test]
fn queue_registers_ignored_while_ready() {
    let mut d = Driver::new(MemDisk::new(64));
    d.init(8);
    // A hostile driver retargets the rings of a live queue at garbage.
    d.wr(reg::QUEUE_DESC_LOW, 0xdead_0000);
    d.wr(reg::QUEUE_DESC_HIGH, 0xffff_ffff);
    d.wr(reg::QUEUE_DRIVER_LOW, 0);
    d.wr(reg::QUEUE_DEVICE_LOW, 0);
    d.wr(reg::QUEUE_NUM, 2);
    // The queue still uses the original layout.
    assert_eq!(d.read_sectors(3, 2), (0, pattern(3, 2)));
    // QueueReady = 0 then reconfiguration is allowed again.
    d.wr(reg::QUEUE_READY, 0);
    assert_eq!(d.rd(reg::QUEUE_READY), 0);
}

#[test]
fn other_queues_do_not_exist() {
    let mut d = Driver::new(MemDisk::new(8));
    d.negotiate();
    d.wr(reg::QUEUE_SEL, 1);
    assert_eq!(d.rd(reg::QUEUE_NUM_MAX), 0);
    d.wr(reg::QUEUE_NUM, 8);
    d.wr(reg::QUEUE_READY, 1);
    assert_eq!(d.rd(reg::QUEUE_READY), 0);
    d.wr(reg::QUEUE_SEL, 0);
    assert_eq!(d.rd(reg::QUEUE_READY), 0);
    d.setup_queue(8);
    d.driver_ok();
    // A kick of queue 1 does nothing.
    d.add_chain(&[r(DATA, 16), w(DATA + 16, 1)]);
    assert_eq!(d.wr(reg::QUEUE_NOTIFY, 1), Notify::None);
    assert_eq!(d.used_idx(), 0);
}

#[test]
fn reset_returns_to_initial_state() {
    let mut d = Driver::new(MemDisk::new(64));
    d.init(8);
    d.read_sectors(0, 1);
    assert!(d.dev.interrupt_line());
    d.wr(reg::STATUS, 0);
    assert_eq!(d.rd(reg::STATUS), 0);
    assert_eq!(d.rd(reg::INTERRUPT_STATUS), 0);
    assert!(!d.dev.interrupt_line());
    assert_eq!(d.rd(reg::QUEUE_READY), 0);
    // One by init() (§3.1.1 step 1), one here.
    assert_eq!(d.dev.stats().resets, 2);
    // And the device can be brought up again from scratch.
    d.init(16);
    assert_eq!(d.read_sectors(5, 1), (0, pattern(5, 1)));
}

#[test]
fn interrupt_status_and_ack() {
    let mut d = Driver::new(MemDisk::new(64));
    d.init(8);
    let hdr = d.header(0, 0);
    let buf = d.alloc(512, 0);
    let st = d.alloc(1, 0xff);
    let (_, n) = d.submit(&[r(hdr, 16), w(buf, 512), w(st, 1)]);
    assert_eq!(n, Notify::Interrupt);
    assert!(d.dev.interrupt_line());
    assert_eq!(d.rd(reg::INTERRUPT_STATUS), interrupt::USED_BUFFER);
    // Acking a bit that is not set changes nothing; the right one lowers.
    d.wr(reg::INTERRUPT_ACK, interrupt::CONFIG_CHANGE);
    assert!(d.dev.interrupt_line());
    assert_eq!(d.ack(), interrupt::USED_BUFFER);
    assert!(!d.dev.interrupt_line());
}

#[test]
fn construction_errors() {
    let e = VirtioBlkMmio::new(MemDisk::new(1), vec![0u8; 511], DeviceConfig::new()).err();
    assert_eq!(e, Some(ConfigError::ScratchTooSmall(511)));
    let e = VirtioBlkMmio::new(
        MemDisk::new(1),
        vec![0u8; 4096],
        DeviceConfig::new().with_queue_max_size(512),
    )
    .err();
    assert_eq!(e, Some(ConfigError::QueueSize(512)));
    assert_eq!(
        ConfigError::QueueSize(512).to_string(),
        "queue size 512 is not a power of two in 4..=256"
    );
    // A static buffer works too (the hypervisor's case); 1000 rounds down.
    let scratch: &'static mut [u8] = Box::leak(vec![0u8; 1000].into_boxed_slice());
    let dev: VirtioBlkMmio<MemDisk> =
        VirtioBlkMmio::new(MemDisk::new(1), scratch, DeviceConfig::default()).unwrap();
    assert_eq!(dev.status(), 0);
}
