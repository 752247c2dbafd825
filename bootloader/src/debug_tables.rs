//! The GDB stub's bookkeeping, free of hardware so that it is tested on the
//! host: software breakpoints (the instruction each one replaced),
//! hardware breakpoint/watchpoint slots, and the clock that keeps guest time
//! from jumping while the guest is stopped.

/// Why a breakpoint or watchpoint could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// Every slot is in use.
    Full,
}

/// A software breakpoint: the guest instruction at `pa` (the physical
/// address behind `va`) that `BRK` replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwBreak {
    pub va: u64,
    pub pa: u64,
    pub original: u32,
}

/// Software breakpoints GDB inserted (`Z0`).
pub struct SwBreakpoints<const N: usize> {
    slots: [Option<SwBreak>; N],
}

impl<const N: usize> Default for SwBreakpoints<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SwBreakpoints<N> {
    pub const fn new() -> Self {
        Self { slots: [None; N] }
    }

    /// The breakpoint at `va`, if GDB set one there.
    pub fn at_va(&self, va: u64) -> Option<SwBreak> {
        self.slots.iter().flatten().find(|b| b.va == va).copied()
    }

    /// The breakpoint whose instruction lives at `pa` (two VAs can alias
    /// one PA: the first one planted holds the original instruction).
    pub fn at_pa(&self, pa: u64) -> Option<SwBreak> {
        self.slots.iter().flatten().find(|b| b.pa == pa).copied()
    }

    pub fn insert(&mut self, b: SwBreak) -> Result<(), TableError> {
        if self.at_va(b.va).is_some() {
            return Ok(());
        }
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.is_none())
            .ok_or(TableError::Full)?;
        *slot = Some(b);
        Ok(())
    }

    pub fn remove(&mut self, va: u64) -> Option<SwBreak> {
        self.slots
            .iter_mut()
            .find(|s| s.is_some_and(|b| b.va == va))
            .and_then(Option::take)
    }

    /// Removes and returns one breakpoint (detach empties the table).
    pub fn pop(&mut self) -> Option<SwBreak> {
        self.slots
            .iter_mut()
            .find(|s| s.is_some())
            .and_then(Option::take)
    }

    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One hardware breakpoint or watchpoint: the range GDB asked for and the
/// register pair that implements it (value, control).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwSlot {
    pub addr: u64,
    pub len: u64,
    /// Caller-defined (the watch kind; 0 for breakpoints).
    pub kind: u8,
    pub value: u64,
    pub control: u64,
}

/// The hardware breakpoint or watchpoint registers, of which the CPU has
/// `available` (at most 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwSlots {
    slots: [Option<HwSlot>; 16],
    available: usize,
}

impl HwSlots {
    pub const fn new(available: usize) -> Self {
        Self {
            slots: [None; 16],
            available: if available > 16 { 16 } else { available },
        }
    }

    pub fn add(&mut self, s: HwSlot) -> Result<(), TableError> {
        if self
            .slots
            .iter()
            .flatten()
            .any(|x| x.addr == s.addr && x.len == s.len && x.kind == s.kind)
        {
            return Ok(());
        }
        let slot = self.slots[..self.available]
            .iter_mut()
            .find(|x| x.is_none())
            .ok_or(TableError::Full)?;
        *slot = Some(s);
        Ok(())
    }

    /// Removes the slot for exactly this range and kind; whether it existed.
    pub fn remove(&mut self, addr: u64, len: u64, kind: u8) -> bool {
        match self
            .slots
            .iter_mut()
            .find(|x| x.is_some_and(|x| x.addr == addr && x.len == len && x.kind == kind))
        {
            Some(x) => {
                *x = None;
                true
            }
            None => false,
        }
    }

    pub fn clear(&mut self) {
        self.slots = [None; 16];
    }

    /// The slot whose range holds `addr`.
    pub fn find(&self, addr: u64) -> Option<HwSlot> {
        self.slots
            .iter()
            .flatten()
            .find(|x| addr >= x.addr && addr - x.addr < x.len.max(1))
            .copied()
    }

    /// (index, register values) for every implemented slot; `None` for an
    /// empty one (to be disabled).
    pub fn registers(&self) -> impl Iterator<Item = (usize, Option<(u64, u64)>)> + '_ {
        self.slots[..self.available]
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.map(|s| (s.value, s.control))))
    }

    pub fn in_use(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

/// Guest time while stopped: the virtual counter is the physical one minus
/// CNTVOFF_EL2; every stop adds its length to the offset, so the guest's
/// clock resumes where it stopped (no timer storm, no RCU stall reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StopClock {
    offset: u64,
    stopped_at: Option<u64>,
}

impl StopClock {
    pub const fn new() -> Self {
        Self {
            offset: 0,
            stopped_at: None,
        }
    }

    /// The guest stops at physical count `now` (a second stop is ignored).
    pub fn stop(&mut self, now: u64) {
        if self.stopped_at.is_none() {
            self.stopped_at = Some(now);
        }
    }

    /// The guest resumes at `now`; returns the new CNTVOFF_EL2.
    pub fn resume(&mut self, now: u64) -> u64 {
        if let Some(t) = self.stopped_at.take() {
            self.offset = self.offset.wrapping_add(now.saturating_sub(t));
        }
        self.offset
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_breakpoints() {
        let mut t = SwBreakpoints::<2>::new();
        let a = SwBreak {
            va: 0xffff_8000_8000_1000,
            pa: 0x4100_1000,
            original: 0xd503_201f,
        };
        t.insert(a).unwrap();
        t.insert(a).unwrap(); // again: no second slot
        assert_eq!(t.len(), 1);
        assert_eq!(t.at_pa(0x4100_1000), Some(a));
        let b = SwBreak {
            va: 0x1000,
            pa: 0x4200_0000,
            original: 1,
        };
        t.insert(b).unwrap();
        let c = SwBreak { va: 0x2000, ..b };
        assert_eq!(t.insert(c), Err(TableError::Full));
        assert_eq!(t.remove(a.va), Some(a));
        assert_eq!(t.remove(a.va), None);
        assert_eq!(t.pop(), Some(b));
        assert!(t.is_empty());
    }

    #[test]
    fn hardware_slots_respect_the_implemented_count() {
        let mut s = HwSlots::new(2);
        let slot = |addr| HwSlot {
            addr,
            len: 8,
            kind: 1,
            value: addr,
            control: 0x1e7,
        };
        s.add(slot(0x1000)).unwrap();
        s.add(slot(0x1000)).unwrap();
        s.add(slot(0x2000)).unwrap();
        assert_eq!(s.add(slot(0x3000)), Err(TableError::Full));
        assert_eq!(s.in_use(), 2);
        assert_eq!(s.find(0x2004).map(|x| x.addr), Some(0x2000));
        assert_eq!(s.find(0x2008), None);
        let regs: Vec<_> = s.registers().collect();
        assert_eq!(regs.len(), 2);
        assert!(s.remove(0x1000, 8, 1));
        assert!(!s.remove(0x1000, 8, 1));
        assert_eq!(s.registers().next(), Some((0, None)));
        s.clear();
        assert_eq!(s.in_use(), 0);
        assert_eq!(HwSlots::new(40).registers().count(), 16);
    }

    #[test]
    fn stop_clock_accumulates_stopped_time() {
        let mut c = StopClock::new();
        c.stop(100);
        c.stop(150); // ignored: already stopped
        assert_eq!(c.resume(400), 300);
        assert_eq!(c.resume(500), 300); // not stopped: unchanged
        c.stop(1000);
        assert_eq!(c.resume(1010), 310);
        assert_eq!(c.offset(), 310);
    }
}
