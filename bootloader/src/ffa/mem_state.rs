//! The SPMC's memory transactions (DEN0077A §10.10): what is shared, lent
//! or donated, to whom, and who holds it now. Pure bookkeeping; the SPMC
//! changes the partitions' Stage-2 mappings as these calls allow.
//!
//! Life of a handle: SHARE/LEND/DONATE → (receivers) RETRIEVE_REQ →
//! RELINQUISH → (sender) RECLAIM. A donation is complete once retrieved:
//! the memory then belongs to the receiver and cannot be reclaimed.

use super::abi::FfaError;
use super::mem_desc::{Access, Kind, Range, Transaction, MAX_CONSTITUENTS, MAX_RECEIVERS};

/// Bit 63 set: handles the SPMC allocates (§10.11.1, "handle allocator").
const HANDLE_SPMC: u64 = 1 << 63;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder {
    pub id: u16,
    pub access: Access,
    /// Retrieved and not yet relinquished.
    pub holding: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub handle: u64,
    pub kind: Kind,
    pub sender: u16,
    receivers: [Option<Holder>; MAX_RECEIVERS],
    ranges: [Option<Range>; MAX_CONSTITUENTS],
}

impl Entry {
    pub fn ranges(&self) -> impl Iterator<Item = Range> + '_ {
        self.ranges.iter().flatten().copied()
    }

    pub fn receivers(&self) -> impl Iterator<Item = Holder> + '_ {
        self.receivers.iter().flatten().copied()
    }

    fn holder_mut(&mut self, id: u16) -> Option<&mut Holder> {
        self.receivers.iter_mut().flatten().find(|h| h.id == id)
    }
}

/// At most `N` transactions in flight.
pub struct Transactions<const N: usize> {
    slots: [Option<Entry>; N],
    next: u64,
}

impl<const N: usize> Default for Transactions<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Transactions<N> {
    pub const fn new() -> Self {
        Self {
            slots: [None; N],
            next: 1,
        }
    }

    /// Whether any page of `r` is part of a transaction in flight (it may
    /// then not be given away again, §10.10.2).
    pub fn busy(&self, r: &Range) -> bool {
        self.slots
            .iter()
            .flatten()
            .any(|e| e.ranges().any(|o| o.overlaps(r)))
    }

    /// Records a validated transaction; returns its new handle.
    pub fn start(&mut self, t: &Transaction<'_>) -> Result<u64, FfaError> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.is_none())
            .ok_or(FfaError::NoMemory)?;
        let handle = HANDLE_SPMC | self.next;
        self.next += 1;
        let mut entry = Entry {
            handle,
            kind: t.kind,
            sender: t.sender,
            receivers: [None; MAX_RECEIVERS],
            ranges: [None; MAX_CONSTITUENTS],
        };
        for (dst, r) in entry.receivers.iter_mut().zip(t.receivers()) {
            *dst = Some(Holder {
                id: r.id,
                access: r.access,
                holding: false,
            });
        }
        for (dst, r) in entry.ranges.iter_mut().zip(t.ranges()) {
            *dst = Some(r);
        }
        *slot = Some(entry);
        Ok(handle)
    }

    fn find_mut(&mut self, handle: u64) -> Result<&mut Option<Entry>, FfaError> {
        self.slots
            .iter_mut()
            .find(|s| s.is_some_and(|e| e.handle == handle))
            .ok_or(FfaError::InvalidParameters)
    }

    /// `receiver` maps the memory (RETRIEVE_REQ). Returns the transaction
    /// as it was; a completed donation leaves the table.
    pub fn retrieve(&mut self, handle: u64, receiver: u16) -> Result<Entry, FfaError> {
        let slot = self.find_mut(handle)?;
        let entry = slot.as_mut().ok_or(FfaError::InvalidParameters)?;
        let holder = entry.holder_mut(receiver).ok_or(FfaError::Denied)?;
        if holder.holding {
            return Err(FfaError::Denied);
        }
        holder.holding = true;
        let done = *entry;
        if done.kind == Kind::Donate {
            *slot = None;
        }
        Ok(done)
    }

    /// `receiver` gives the memory back (RELINQUISH).
    pub fn relinquish(&mut self, handle: u64, receiver: u16) -> Result<Entry, FfaError> {
        let slot = self.find_mut(handle)?;
        let entry = slot.as_mut().ok_or(FfaError::InvalidParameters)?;
        let holder = entry.holder_mut(receiver).ok_or(FfaError::Denied)?;
        if !holder.holding {
            return Err(FfaError::Denied);
        }
        holder.holding = false;
        Ok(*entry)
    }

    /// The sender takes the memory back (RECLAIM): only once no receiver
    /// holds it. The handle is then gone.
    pub fn reclaim(&mut self, handle: u64, caller: u16) -> Result<Entry, FfaError> {
        let slot = self.find_mut(handle)?;
        let entry = slot.ok_or(FfaError::InvalidParameters)?;
        if entry.sender != caller {
            return Err(FfaError::InvalidParameters);
        }
        if entry.receivers().any(|h| h.holding) {
            return Err(FfaError::Denied);
        }
        *slot = None;
        Ok(entry)
    }
}
