//! Descriptor validation and transaction-state tests. `Desc` writes a
//! well-formed v1.1 descriptor that each test then breaks one way.

use super::abi::FfaError;
use super::mem_desc::{parse, Access, Kind, Range, PAGE};

struct Desc {
    sender: u16,
    attributes: u16,
    flags: u32,
    handle: u64,
    receivers: Vec<(u16, u8)>,
    ranges: Vec<(u64, u32)>,
    total: Option<u32>,
}

impl Desc {
    fn share() -> Self {
        Desc {
            sender: 1,
            attributes: 0x2f, // normal, write-back, inner shareable
            flags: 0,
            handle: 0,
            receivers: vec![(0x8001, 0b0110)], // RW, non-executable
            ranges: vec![(0x4080_0000, 2)],
            total: None,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        b[0..2].copy_from_slice(&self.sender.to_le_bytes());
        b[2..4].copy_from_slice(&self.attributes.to_le_bytes());
        b[4..8].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&self.handle.to_le_bytes());
        b[24..28].copy_from_slice(&16u32.to_le_bytes());
        b[28..32].copy_from_slice(&(self.receivers.len() as u32).to_le_bytes());
        b[32..36].copy_from_slice(&48u32.to_le_bytes());
        let composite = 48 + 16 * self.receivers.len() as u32;
        for (id, perm) in &self.receivers {
            let mut a = [0u8; 16];
            a[0..2].copy_from_slice(&id.to_le_bytes());
            a[2] = *perm;
            a[4..8].copy_from_slice(&composite.to_le_bytes());
            b.extend_from_slice(&a);
        }
        let total = self.total.unwrap_or(self.ranges.iter().map(|r| r.1).sum());
        let mut c = [0u8; 16];
        c[0..4].copy_from_slice(&total.to_le_bytes());
        c[4..8].copy_from_slice(&(self.ranges.len() as u32).to_le_bytes());
        b.extend_from_slice(&c);
        for (addr, pages) in &self.ranges {
            let mut r = [0u8; 16];
            r[0..8].copy_from_slice(&addr.to_le_bytes());
            r[8..12].copy_from_slice(&pages.to_le_bytes());
            b.extend_from_slice(&r);
        }
        b
    }
}

/// The sender owns 0x4000_0000..0x5000_0000.
fn owns(r: &Range) -> bool {
    r.addr >= 0x4000_0000 && r.end() <= 0x5000_0000
}

fn check(d: &Desc, kind: Kind) -> Result<(), FfaError> {
    parse(&d.bytes(), kind, 1, owns).map(|_| ())
}

#[test]
fn a_good_share_parses() {
    let bytes = Desc::share().bytes();
    let t = parse(&bytes, Kind::Share, 1, owns).unwrap();
    assert_eq!((t.sender, t.total_pages), (1, 2));
    let rx: Vec<_> = t.receivers().collect();
    assert_eq!((rx[0].id, rx[0].access), (0x8001, Access::ReadWrite));
    let ranges: Vec<_> = t.ranges().collect();
    assert_eq!(
        ranges,
        vec![Range {
            addr: 0x4080_0000,
            pages: 2
        }]
    );
    assert_eq!(ranges[0].end(), 0x4080_0000 + 2 * PAGE);
}

#[test]
fn header_and_sender_errors() {
    let bad = Err(FfaError::InvalidParameters);
    assert_eq!(parse(&[0u8; 47], Kind::Share, 1, owns).map(|_| ()), bad);
    let mut d = Desc::share();
    d.sender = 2;
    assert_eq!(check(&d, Kind::Share), bad, "spoofed sender");
    let mut d = Desc::share();
    d.handle = 5;
    assert_eq!(check(&d, Kind::Share), bad, "handle given by the sender");
    let mut d = Desc::share();
    d.flags = 1;
    assert_eq!(check(&d, Kind::Share), bad, "zero-memory flag on share");
    assert_eq!(check(&d, Kind::Lend), Ok(()), "zero-memory flag on lend");
    let mut d = Desc::share();
    d.attributes = 0x3f;
    assert_eq!(check(&d, Kind::Share), bad, "reserved memory type");
    d.attributes = 0;
    assert_eq!(check(&d, Kind::Share), bad, "share without a type");
    assert_eq!(check(&d, Kind::Lend), Ok(()));
    // Truncated: the constituent array runs past the buffer.
    let bytes = Desc::share().bytes();
    assert_eq!(
        parse(&bytes[..bytes.len() - 1], Kind::Share, 1, owns).map(|_| ()),
        bad
    );
    // Access descriptor size other than 16.
    let mut bytes = Desc::share().bytes();
    bytes[24] = 32;
    assert_eq!(parse(&bytes, Kind::Share, 1, owns).map(|_| ()), bad);
    // A receiver count that would overflow the arithmetic.
    let mut bytes = Desc::share().bytes();
    bytes[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(parse(&bytes, Kind::Share, 1, owns).map(|_| ()), bad);
}

#[test]
fn receiver_errors() {
    let bad = Err(FfaError::InvalidParameters);
    let mut d = Desc::share();
    d.receivers = vec![];
    assert_eq!(check(&d, Kind::Share), bad, "no receiver");
    d.receivers = vec![(1, 2)];
    assert_eq!(check(&d, Kind::Share), bad, "sender as receiver");
    d.receivers = vec![(0x8001, 2), (0x8001, 1)];
    assert_eq!(check(&d, Kind::Share), bad, "duplicate receiver");
    d.receivers = vec![(0x8001, 3)];
    assert_eq!(check(&d, Kind::Share), bad, "reserved data access");
    d.receivers = vec![(0x8001, 0b1110)];
    assert_eq!(check(&d, Kind::Share), bad, "reserved instruction access");
    d.receivers = vec![(0x8001, 2), (0x8002, 1)];
    assert_eq!(check(&d, Kind::Share), Ok(()));
    assert_eq!(check(&d, Kind::Donate), bad, "donate to two");
    d.receivers = vec![(0x8001, 2)];
    assert_eq!(check(&d, Kind::Donate), bad, "donor sets access");
    d.receivers = vec![(0x8001, 0)];
    assert_eq!(check(&d, Kind::Donate), Ok(()));
    // Two receivers pointing at different composites.
    let mut bytes = Desc {
        receivers: vec![(0x8001, 2), (0x8002, 2)],
        ..Desc::share()
    }
    .bytes();
    bytes[48 + 16 + 4] = 0x70;
    assert_eq!(parse(&bytes, Kind::Share, 1, owns).map(|_| ()), bad);
}

#[test]
fn range_errors() {
    let bad = Err(FfaError::InvalidParameters);
    let mut d = Desc::share();
    d.ranges = vec![(0x4080_0800, 1)];
    assert_eq!(check(&d, Kind::Share), bad, "unaligned");
    d.ranges = vec![(0x4080_0000, 0)];
    assert_eq!(check(&d, Kind::Share), bad, "empty");
    d.ranges = vec![(0x4080_0000, 2), (0x4080_1000, 1)];
    assert_eq!(check(&d, Kind::Share), bad, "overlap");
    d.ranges = vec![(0x4080_0000, 2)];
    d.total = Some(3);
    assert_eq!(check(&d, Kind::Share), bad, "total disagrees");
    d.total = None;
    d.ranges = vec![(!0xfff, 2)];
    assert_eq!(check(&d, Kind::Share), bad, "wraps");
    d.ranges = vec![(0x6000_0000, 1)];
    assert_eq!(
        check(&d, Kind::Share),
        Err(FfaError::Denied),
        "not the sender's"
    );
}

mod transactions {
    use super::*;
    use crate::ffa::mem_state::Transactions;

    fn start(t: &mut Transactions<2>, d: &Desc, kind: Kind) -> Result<u64, FfaError> {
        let bytes = d.bytes();
        let desc = parse(&bytes, kind, 1, |r| owns(r) && !t.busy(r))?;
        t.start(&desc)
    }

    #[test]
    fn share_retrieve_relinquish_reclaim() {
        let mut t = Transactions::<2>::new();
        let h = start(&mut t, &Desc::share(), Kind::Share).unwrap();
        assert!(h >> 63 == 1);
        // The same pages cannot be given away twice while in flight.
        assert_eq!(
            start(&mut t, &Desc::share(), Kind::Share),
            Err(FfaError::Denied)
        );
        assert_eq!(t.reclaim(h, 1).map(|_| ()), Ok(()), "never retrieved");
        let h = start(&mut t, &Desc::share(), Kind::Share).unwrap();
        assert_eq!(
            t.retrieve(h, 0x8002).map(|_| ()),
            Err(FfaError::Denied),
            "not a receiver"
        );
        let e = t.retrieve(h, 0x8001).unwrap();
        assert_eq!(e.ranges().count(), 1);
        assert_eq!(
            t.retrieve(h, 0x8001).map(|_| ()),
            Err(FfaError::Denied),
            "twice"
        );
        assert_eq!(
            t.reclaim(h, 1).map(|_| ()),
            Err(FfaError::Denied),
            "still held"
        );
        assert_eq!(
            t.reclaim(h, 0x8001).map(|_| ()),
            Err(FfaError::InvalidParameters),
            "not the sender"
        );
        t.relinquish(h, 0x8001).unwrap();
        assert_eq!(
            t.relinquish(h, 0x8001).map(|_| ()),
            Err(FfaError::Denied),
            "twice"
        );
        assert_eq!(t.reclaim(h, 1).map(|e| e.sender), Ok(1));
        assert_eq!(
            t.reclaim(h, 1).map(|_| ()),
            Err(FfaError::InvalidParameters),
            "gone"
        );
        assert!(!t.busy(&Range {
            addr: 0x4080_0000,
            pages: 1
        }));
    }

    #[test]
    fn donation_completes_on_retrieve() {
        let mut t = Transactions::<2>::new();
        let d = Desc {
            receivers: vec![(0x8001, 0)],
            attributes: 0,
            ..Desc::share()
        };
        let h = start(&mut t, &d, Kind::Donate).unwrap();
        assert_eq!(t.retrieve(h, 0x8001).map(|e| e.kind), Ok(Kind::Donate));
        assert_eq!(
            t.reclaim(h, 1).map(|_| ()),
            Err(FfaError::InvalidParameters)
        );
    }

    #[test]
    fn lend_and_table_limits() {
        let mut t = Transactions::<2>::new();
        let lend = |addr| Desc {
            ranges: vec![(addr, 1)],
            ..Desc::share()
        };
        let a = start(&mut t, &lend(0x4100_0000), Kind::Lend).unwrap();
        let b = start(&mut t, &lend(0x4200_0000), Kind::Lend).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            start(&mut t, &lend(0x4300_0000), Kind::Lend),
            Err(FfaError::NoMemory)
        );
        t.reclaim(a, 1).unwrap();
        assert!(start(&mut t, &lend(0x4300_0000), Kind::Lend).is_ok());
    }
}
