//! FF-A v1.1 memory transaction descriptors (DEN0077A §10.11), parsed and
//! validated from a buffer the other world wrote: every offset, size and
//! count is checked against the buffer and every address range against
//! what the sender owns before anything else looks at it. No allocation:
//! the validated descriptor borrows the buffer and iterates over it.

use super::abi::FfaError;

/// Table 10.20: the memory transaction descriptor header.
const HEADER_SIZE: usize = 48;
/// Table 10.16: one endpoint memory access descriptor.
const ACCESS_SIZE: usize = 16;
/// Table 10.13: the composite memory region descriptor header.
const COMPOSITE_SIZE: usize = 16;
/// Table 10.14: one constituent memory region descriptor.
const CONSTITUENT_SIZE: usize = 16;
/// FF-A page granularity for address ranges (§10.11.2).
pub const PAGE: u64 = 4096;

/// Limits that keep the SPMC's bookkeeping fixed-size.
pub const MAX_RECEIVERS: usize = 4;
pub const MAX_CONSTITUENTS: usize = 16;

/// Which transaction a descriptor came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Share,
    Lend,
    Donate,
}

/// Data access permission in a receiver's access descriptor (Table 10.15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    NotSpecified,
    ReadOnly,
    ReadWrite,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receiver {
    pub id: u16,
    pub access: Access,
}

/// One constituent: `pages` 4 KiB pages from `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub addr: u64,
    pub pages: u32,
}

impl Range {
    pub fn end(&self) -> u64 {
        self.addr + u64::from(self.pages) * PAGE
    }

    pub fn overlaps(&self, other: &Range) -> bool {
        self.addr < other.end() && other.addr < self.end()
    }
}

/// A validated descriptor (it borrows the buffer it was read from).
#[derive(Clone, Copy, Debug)]
pub struct Transaction<'a> {
    pub kind: Kind,
    pub sender: u16,
    pub attributes: u16,
    pub flags: u32,
    pub tag: u64,
    pub total_pages: u32,
    buf: &'a [u8],
    receivers: usize,
    constituents_at: usize,
    constituents: usize,
}

impl Transaction<'_> {
    pub fn receivers(&self) -> impl Iterator<Item = Receiver> + '_ {
        (0..self.receivers).map(|i| {
            let at = HEADER_SIZE + i * ACCESS_SIZE;
            Receiver {
                id: u16_at(self.buf, at),
                access: access(self.buf[at + 2]).unwrap_or(Access::NotSpecified),
            }
        })
    }

    pub fn ranges(&self) -> impl Iterator<Item = Range> + '_ {
        (0..self.constituents).map(|i| {
            let at = self.constituents_at + i * CONSTITUENT_SIZE;
            Range {
                addr: u64_at(self.buf, at),
                pages: u32_at(self.buf, at + 8),
            }
        })
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

/// Bits [1:0] of the permissions byte; 0b11 is reserved.
fn access(perm: u8) -> Option<Access> {
    match perm & 0b11 {
        0 => Some(Access::NotSpecified),
        1 => Some(Access::ReadOnly),
        2 => Some(Access::ReadWrite),
        _ => None,
    }
}

/// Validates `buf` (exactly the transaction's total length) sent by
/// `caller` for `kind`. `owns(range)` says whether the sender may give
/// that memory away (its own RAM, not already shared, lent or donated).
pub fn parse<'a>(
    buf: &'a [u8],
    kind: Kind,
    caller: u16,
    owns: impl Fn(&Range) -> bool,
) -> Result<Transaction<'a>, FfaError> {
    use FfaError::InvalidParameters as Bad;
    if buf.len() < HEADER_SIZE {
        return Err(Bad);
    }
    let sender = u16_at(buf, 0);
    let attributes = u16_at(buf, 2);
    let flags = u32_at(buf, 4);
    let handle = u64_at(buf, 8);
    let tag = u64_at(buf, 16);
    let access_size = u32_at(buf, 24) as usize;
    let receivers = u32_at(buf, 28) as usize;
    let access_at = u32_at(buf, 32) as usize;
    // §10.11.1: the sender speaks for itself; the handle is ours to
    // allocate; v1.1 fixes the access descriptor size and places the array
    // right after the header.
    if sender != caller || handle != 0 || access_size != ACCESS_SIZE || access_at != HEADER_SIZE {
        return Err(Bad);
    }
    if buf[36..HEADER_SIZE].iter().any(|&b| b != 0) {
        return Err(Bad);
    }
    // Flags (Table 10.21): bit 0 "zero memory" is not allowed for share
    // (the sender keeps access); bit 1 time slicing; the rest MBZ.
    if flags & !0b11 != 0 || (kind == Kind::Share && flags & 1 != 0) {
        return Err(Bad);
    }
    // Attributes (Table 10.18): type in [5:4] (3 reserved), bits [15:6]
    // MBZ; lend and donate leave the type to the receiver or specify it,
    // share must specify it.
    let mem_type = (attributes >> 4) & 0b11;
    if attributes >> 6 != 0 || mem_type == 3 || (kind == Kind::Share && mem_type == 0) {
        return Err(Bad);
    }
    if receivers == 0 || receivers > MAX_RECEIVERS || (kind == Kind::Donate && receivers != 1) {
        return Err(Bad);
    }
    let access_end = receivers
        .checked_mul(ACCESS_SIZE)
        .and_then(|n| n.checked_add(HEADER_SIZE))
        .filter(|&end| end <= buf.len())
        .ok_or(Bad)?;
    // Every receiver: a distinct endpoint, not the sender, a valid
    // permission, and the same composite descriptor (§10.11.3).
    let mut composite_at = None;
    for i in 0..receivers {
        let at = HEADER_SIZE + i * ACCESS_SIZE;
        let id = u16_at(buf, at);
        let perm = access(buf[at + 2]).ok_or(Bad)?;
        // Permissions byte (Table 10.15): data access [1:0], instruction
        // access [3:2] (0b11 reserved), [7:4] MBZ; flags byte: bit 0 only.
        let (p, f) = (buf[at + 2], buf[at + 3]);
        let duplicate = (0..i).any(|j| u16_at(buf, HEADER_SIZE + j * ACCESS_SIZE) == id);
        if id == sender || duplicate || p >> 4 != 0 || (p >> 2) & 0b11 == 0b11 || f & !1 != 0 {
            return Err(Bad);
        }
        if kind == Kind::Donate && perm != Access::NotSpecified {
            // §10.10.1: a donor has no say in the receiver's access.
            return Err(Bad);
        }
        let offset = u32_at(buf, at + 4) as usize;
        if *composite_at.get_or_insert(offset) != offset || u64_at(buf, at + 8) != 0 {
            return Err(Bad);
        }
    }
    let composite_at = composite_at.ok_or(Bad)?;
    if composite_at < access_end
        || composite_at % 8 != 0
        || composite_at + COMPOSITE_SIZE > buf.len()
    {
        return Err(Bad);
    }
    let total_pages = u32_at(buf, composite_at);
    let constituents = u32_at(buf, composite_at + 4) as usize;
    let constituents_at = composite_at + COMPOSITE_SIZE;
    if constituents == 0 || constituents > MAX_CONSTITUENTS {
        return Err(Bad);
    }
    let end = constituents
        .checked_mul(CONSTITUENT_SIZE)
        .and_then(|n| n.checked_add(constituents_at))
        .ok_or(Bad)?;
    if end > buf.len() {
        return Err(Bad);
    }
    let t = Transaction {
        kind,
        sender,
        attributes,
        flags,
        tag,
        total_pages,
        buf,
        receivers,
        constituents_at,
        constituents,
    };
    // Ranges: page aligned, non-empty, no wrap, no overlap, adding up to
    // the total, and all the sender's to give.
    let mut sum: u64 = 0;
    for (i, r) in t.ranges().enumerate() {
        let size = u64::from(r.pages) * PAGE;
        if r.addr % PAGE != 0 || r.pages == 0 || r.addr.checked_add(size).is_none() {
            return Err(Bad);
        }
        if t.ranges().take(i).any(|o| o.overlaps(&r)) {
            return Err(Bad);
        }
        if !owns(&r) {
            return Err(FfaError::Denied);
        }
        sum += u64::from(r.pages);
    }
    if sum != u64::from(total_pages) {
        return Err(Bad);
    }
    Ok(t)
}
