//! Split virtqueue walking (§2.7) from the device side.
//!
//! Everything read from the rings is guest-controlled and may change under
//! our feet (other vCPUs keep running), so each chain is read exactly once
//! into a [`Chain`] snapshot and validated there: indices below the queue
//! size, at most `size` descriptors (so a `next` loop terminates), no
//! indirect descriptors, readable-before-writable, total under 4 GiB. Data
//! buffers are not checked here; their accesses go through
//! [`GuestMemory`] when the request runs.

use core::sync::atomic::{fence, Ordering};

use crate::error::RequestError;
use crate::guest_memory::{offset_ipa, read_le16, write_le16, GuestMemory};
use crate::spec::{desc, ring, MAX_QUEUE_SIZE};

/// One non-empty buffer of a chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Segment {
    pub addr: u64,
    pub len: u32,
}

/// A validated descriptor chain: device-readable segments first, then
/// device-writable ones (§2.7.4.2). Zero-length descriptors are dropped.
pub(crate) struct Chain {
    /// Descriptor index of the head: the `id` of the used element.
    pub head: u16,
    segs: [Segment; MAX_QUEUE_SIZE as usize],
    len: usize,
    readable: usize,
}

impl Chain {
    pub(crate) const fn new() -> Self {
        Self {
            head: 0,
            segs: [Segment { addr: 0, len: 0 }; MAX_QUEUE_SIZE as usize],
            len: 0,
            readable: 0,
        }
    }

    /// Device-readable segments, in chain order.
    pub(crate) fn readable(&self) -> &[Segment] {
        self.segs.get(..self.readable).unwrap_or(&[])
    }

    /// Device-writable segments, in chain order.
    pub(crate) fn writable(&self) -> &[Segment] {
        self.segs.get(self.readable..self.len).unwrap_or(&[])
    }

    fn clear(&mut self, head: u16) {
        self.head = head;
        self.len = 0;
        self.readable = 0;
    }

    fn push(&mut self, seg: Segment, writable: bool, size: u16) -> Result<(), RequestError> {
        if seg.len == 0 {
            return Ok(());
        }
        let slot = self
            .segs
            .get_mut(self.len)
            .ok_or(RequestError::ChainTooLong { size })?;
        *slot = seg;
        self.len += 1;
        if !writable {
            self.readable = self.len;
        }
        Ok(())
    }
}

/// Sum of segment lengths (at most 2^32 - 1 after validation).
pub(crate) fn total_len(segs: &[Segment]) -> u64 {
    segs.iter().map(|s| u64::from(s.len)).sum()
}

/// State of one split virtqueue as programmed through the MMIO registers.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SplitQueue {
    /// QueueNum; 0 until the driver writes a valid size.
    pub size: u16,
    /// QueueReady.
    pub ready: bool,
    /// QueueDesc: descriptor table.
    pub desc: u64,
    /// QueueDriver: available ring.
    pub avail: u64,
    /// QueueDevice: used ring.
    pub used: u64,
    /// Next available-ring slot to consume (free-running, §2.7.6).
    last_avail: u16,
    /// Our copy of used->idx (free-running, §2.7.8).
    used_idx: u16,
}

impl SplitQueue {
    /// QueueReady = 1. Refused (returns `false`, QueueReady stays 0) when
    /// the size was never validly set or a ring violates the §2.7
    /// alignment table; otherwise starts from index 0 like a fresh ring.
    pub(crate) fn enable(&mut self) -> bool {
        let aligned = self.desc.is_multiple_of(ring::DESC_ALIGN)
            && self.avail.is_multiple_of(ring::AVAIL_ALIGN)
            && self.used.is_multiple_of(ring::USED_ALIGN);
        if self.size == 0 || !aligned {
            return false;
        }
        self.ready = true;
        self.last_avail = 0;
        self.used_idx = 0;
        true
    }

    /// Number of chains the driver made available since the last call:
    /// reads avail->idx. More than `size` outstanding is impossible for a
    /// correct driver (§2.7.6) and is treated as a broken ring.
    pub(crate) fn pending(&self, mem: &impl GuestMemory) -> Result<u16, RequestError> {
        let idx_ipa =
            offset_ipa(self.avail, ring::IDX_OFFSET, 2).map_err(RequestError::RingMemory)?;
        let avail = read_le16(mem, idx_ipa).map_err(RequestError::RingMemory)?;
        // §2.7.13.3.1 (driver) pairs its barrier before the idx store with
        // this one: ring entries and descriptors are read only after idx.
        fence(Ordering::Acquire);
        let n = avail.wrapping_sub(self.last_avail);
        if n > self.size {
            return Err(RequestError::AvailIndexJump {
                last: self.last_avail,
                avail,
                size: self.size,
            });
        }
        Ok(n)
    }

    /// Takes the next available chain into `chain` (§2.7.6, §2.7.5).
    pub(crate) fn pop(
        &mut self,
        mem: &impl GuestMemory,
        chain: &mut Chain,
    ) -> Result<(), RequestError> {
        let slot = u64::from(self.last_avail & (self.size.wrapping_sub(1)));
        let slot_ipa = offset_ipa(
            self.avail,
            ring::RING_OFFSET + slot * ring::AVAIL_ELEM_SIZE,
            2,
        )
        .map_err(RequestError::RingMemory)?;
        let head = read_le16(mem, slot_ipa).map_err(RequestError::RingMemory)?;
        self.last_avail = self.last_avail.wrapping_add(1);
        self.walk(mem, head, chain)
    }

    fn walk(
        &self,
        mem: &impl GuestMemory,
        head: u16,
        chain: &mut Chain,
    ) -> Result<(), RequestError> {
        chain.clear(head);
        let size = self.size;
        let mut index = head;
        let mut count: u16 = 0;
        let mut total: u64 = 0;
        let mut seen_writable = false;
        loop {
            if index >= size {
                return Err(RequestError::DescriptorIndex { index, size });
            }
            // A chain visits each descriptor at most once, so more than
            // `size` of them means `next` loops (§2.7.5.2).
            if count == size {
                return Err(RequestError::ChainTooLong { size });
            }
            count += 1;
            let d = self.read_desc(mem, index)?;
            if d.flags & desc::F_INDIRECT != 0 {
                return Err(RequestError::IndirectDescriptor);
            }
            let writable = d.flags & desc::F_WRITE != 0;
            if !writable && seen_writable {
                return Err(RequestError::ReadableAfterWritable);
            }
            seen_writable |= writable;
            total += u64::from(d.len);
            if total > u64::from(u32::MAX) {
                return Err(RequestError::ChainTooLarge);
            }
            chain.push(
                Segment {
                    addr: d.addr,
                    len: d.len,
                },
                writable,
                size,
            )?;
            if d.flags & desc::F_NEXT == 0 {
                return Ok(());
            }
            index = d.next;
        }
    }

    fn read_desc(&self, mem: &impl GuestMemory, index: u16) -> Result<RawDesc, RequestError> {
        let ipa = offset_ipa(self.desc, u64::from(index) * desc::SIZE, 16)
            .map_err(RequestError::RingMemory)?;
        let mut b = [0u8; 16];
        mem.read(ipa, &mut b).map_err(RequestError::RingMemory)?;
        let [a0, a1, a2, a3, a4, a5, a6, a7, l0, l1, l2, l3, f0, f1, n0, n1] = b;
        Ok(RawDesc {
            addr: u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            len: u32::from_le_bytes([l0, l1, l2, l3]),
            flags: u16::from_le_bytes([f0, f1]),
            next: u16::from_le_bytes([n0, n1]),
        })
    }

    /// Returns chain `head` to the driver with `len` bytes written
    /// (§2.7.8): element first, then the index, with a barrier between so
    /// a driver polling idx on another vCPU never sees a stale element.
    pub(crate) fn push_used(
        &mut self,
        mem: &mut impl GuestMemory,
        head: u16,
        len: u32,
    ) -> Result<(), RequestError> {
        let slot = u64::from(self.used_idx & (self.size.wrapping_sub(1)));
        let elem_ipa = offset_ipa(
            self.used,
            ring::RING_OFFSET + slot * ring::USED_ELEM_SIZE,
            8,
        )
        .map_err(RequestError::RingMemory)?;
        let mut elem = [0u8; 8];
        elem[..4].copy_from_slice(&u32::from(head).to_le_bytes());
        elem[4..].copy_from_slice(&len.to_le_bytes());
        mem.write(elem_ipa, &elem)
            .map_err(RequestError::RingMemory)?;
        // §2.7.13 / §2.7.8.2: data and element before the index.
        fence(Ordering::Release);
        self.used_idx = self.used_idx.wrapping_add(1);
        let idx_ipa =
            offset_ipa(self.used, ring::IDX_OFFSET, 2).map_err(RequestError::RingMemory)?;
        write_le16(mem, idx_ipa, self.used_idx).map_err(RequestError::RingMemory)
    }

    /// §2.7.7.2 without VIRTIO_F_EVENT_IDX: interrupt unless the driver set
    /// VIRTQ_AVAIL_F_NO_INTERRUPT. An unreadable flags word errs towards
    /// interrupting (a spurious interrupt is harmless, a lost one hangs).
    pub(crate) fn wants_interrupt(&self, mem: &impl GuestMemory) -> bool {
        // The used idx store must be visible before the flags load, or we
        // could miss a driver that just re-enabled interrupts (§2.7.7.2).
        fence(Ordering::SeqCst);
        match read_le16(mem, self.avail) {
            Ok(flags) => flags & ring::AVAIL_F_NO_INTERRUPT == 0,
            Err(_) => true,
        }
    }
}

struct RawDesc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}
