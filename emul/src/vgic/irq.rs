//! The state of one virtual interrupt and its lifecycle transitions.
//!
//! The model follows the interrupt state machine of IHI 0069H §4.1
//! ("Interrupt lifecycle": inactive, pending, active, active and pending) with
//! the two pending sources the architecture distinguishes for level-sensitive
//! interrupts (§4.1 and the `GICD_ISPENDR<n>` description in §12.9): the
//! input *line* and a software *latch* set by `ISPENDR` writes. For edge
//! interrupts the latch is the whole pending state.
//!
//! While an interrupt sits in a list register, the list register is the
//! authority on its pending/active state (IHI 0069H chapter 6, "Virtual
//! Interrupt Handling and Prioritization"): [`Irq::hand_off`] moves the pending edge into the list
//! register and [`Irq::retire`] folds the list register state back.

use super::lr::LrState;

/// Marker for "not in any list register".
pub(crate) const NOT_IN_LR: u8 = u8::MAX;

/// Priority bits kept by `IPRIORITYR`. Five bits is the minimum a GICv3
/// virtual CPU interface implements (IHI 0069H §12.4, `ICH_VTR_EL2.PRIbits`
/// is at least 4 → 5 bits) and exactly what a GICv2 `GICH_LR` can carry
/// (IHI 0048B §5.3, Priority[27:23]); unimplemented low bits are RAZ/WI
/// (IHI 0069H chapter 4, "Interrupt prioritization").
pub(crate) const PRIORITY_MASK: u8 = 0xf8;

/// One interrupt's architectural state plus list-register bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Irq {
    pub priority: u8,
    pub enabled: bool,
    /// Group 1 (`IGROUPR` bit set); group 0 otherwise.
    pub group1: bool,
    /// Edge-triggered (`ICFGR` field 0b10); level-sensitive otherwise.
    pub edge: bool,
    /// Level of the input line as last reported by `set_level`.
    pub line: bool,
    /// Software/edge pending latch.
    pub latch: bool,
    pub active: bool,
    /// vCPU whose list register currently holds this interrupt.
    pub lr_vcpu: u8,
    /// Linked physical INTID (`HW = 1` in the list register), 0 if none.
    /// 0 is free as a sentinel because SGIs can never be hardware-linked.
    pub hw: u16,
}

impl Irq {
    /// Reset state of PPIs and SPIs: level-sensitive, disabled, group 0,
    /// priority 0 (IHI 0069H §12.9/§12.11 give these registers UNKNOWN or
    /// zero reset values; Linux programs all of them before use).
    pub const RESET: Self = Self {
        priority: 0,
        enabled: false,
        group1: false,
        edge: false,
        line: false,
        latch: false,
        active: false,
        lr_vcpu: NOT_IN_LR,
        hw: 0,
    };

    /// SGIs are always edge-triggered (IHI 0069H §12.11, `GICR_ICFGR0`:
    /// "SGIs ... the field is read-only, 0b10").
    pub const SGI_RESET: Self = Self {
        edge: true,
        ..Self::RESET
    };

    /// Pending as seen by the distributor: a latched edge or software pend,
    /// or an asserted line of a level-sensitive interrupt.
    pub fn pending(&self) -> bool {
        self.latch || (!self.edge && self.line)
    }

    pub fn in_lr(&self) -> bool {
        self.lr_vcpu != NOT_IN_LR
    }

    pub fn hw_pintid(&self) -> Option<u32> {
        (self.hw != 0).then_some(u32::from(self.hw))
    }

    /// Drives the input line. Returns whether a new pending state was
    /// created (a rising edge, or a level going high).
    ///
    /// A hardware-linked interrupt has no line of its own here: each report
    /// is one physical activation, which cannot recur until the guest
    /// deactivates it, so it latches like an edge. That also keeps a
    /// report that races ahead of [`Irq::retire`] (the physical interrupt
    /// re-fires right after the guest's EOI, before the glue has folded
    /// the list register) from being lost.
    pub fn set_line(&mut self, level: bool) -> bool {
        if self.hw != 0 {
            self.latch = level;
            return level;
        }
        let rising = level && !self.line;
        self.line = level;
        if self.edge && rising {
            self.latch = true;
        }
        rising
    }

    /// Moves the interrupt into `vcpu`'s list register. `with_pending` says
    /// whether its pending state may be delivered (it is enabled and its
    /// group is enabled); an active interrupt goes back regardless so the
    /// guest can still deactivate it. Returns the list register state.
    pub fn hand_off(&mut self, vcpu: u8, with_pending: bool) -> LrState {
        let mut pending = with_pending && self.pending();
        // A hardware-linked interrupt must not be listed as active and
        // pending (IHI 0069H §12.4, ICH_LR<n>_EL2.State: with HW == 1 the
        // pending-and-active state is not supported); the pending half stays
        // with the distributor until the active one retires.
        if self.hw != 0 && self.active {
            pending = false;
        }
        // The list register now carries this edge (or physical
        // activation); a new one while it is there is a new event.
        if pending && (self.edge || self.hw != 0) {
            self.latch = false;
        }
        self.lr_vcpu = vcpu;
        LrState::from_flags(pending, self.active)
    }

    /// Folds back the state read from the list register.
    pub fn retire(&mut self, state: LrState) {
        if self.edge || self.hw != 0 {
            // Still pending in the LR: merge with any edge latched since.
            if state.pending() {
                self.latch = true;
            }
        } else if !state.pending() {
            // The guest acknowledged it, which consumes a software pend
            // (IHI 0069H §12.9, GICD_ISPENDR<n>: for level-sensitive
            // interrupts a software pend clears on acknowledge).
            self.latch = false;
        }
        // For a hardware-linked interrupt, leaving the list register as
        // Invalid means the guest's deactivation also deactivated the
        // physical interrupt (IHI 0069H §12.4, ICH_LR<n>_EL2.HW); if the
        // source is still asserted it fires again and the glue reports it.
        self.active = state.active();
        self.lr_vcpu = NOT_IN_LR;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_latches_on_rising_only() {
        let mut irq = Irq {
            edge: true,
            ..Irq::RESET
        };
        assert!(irq.set_line(true));
        assert!(irq.pending());
        assert!(!irq.set_line(true));
        assert_eq!(irq.hand_off(0, true), LrState::Pending);
        assert!(!irq.pending());
        irq.set_line(false);
        irq.set_line(true);
        // New edge while in the LR, guest EOIs the first: one more pending.
        irq.retire(LrState::Invalid);
        assert!(irq.pending());
        assert!(!irq.in_lr());
    }

    #[test]
    fn level_follows_line_and_latch() {
        let mut irq = Irq::RESET;
        irq.set_line(true);
        assert_eq!(irq.hand_off(1, true), LrState::Pending);
        assert!(irq.pending(), "level stays pending while the line is high");
        irq.retire(LrState::Active);
        assert!(irq.active);
        irq.set_line(false);
        assert!(!irq.pending());
        // Software pend is consumed by the acknowledge.
        irq.latch = true;
        irq.hand_off(1, true);
        irq.retire(LrState::Active);
        assert!(!irq.pending());
    }

    #[test]
    fn disabled_active_goes_back_active_only() {
        let mut irq = Irq {
            active: true,
            latch: true,
            edge: true,
            ..Irq::RESET
        };
        assert_eq!(irq.hand_off(0, false), LrState::Active);
        assert!(irq.latch, "pending half not delivered");
    }

    #[test]
    fn hw_never_pending_and_active() {
        let mut irq = Irq {
            hw: 27,
            active: true,
            ..Irq::RESET
        };
        assert!(irq.set_line(true));
        assert_eq!(irq.hand_off(0, true), LrState::Active);
        irq.retire(LrState::Invalid);
        assert!(irq.pending() && !irq.active, "the pending half waited");
        assert_eq!(irq.hand_off(0, true), LrState::Pending);
        irq.retire(LrState::Invalid);
        assert!(!irq.pending());
    }

    #[test]
    fn hw_report_racing_the_fold_is_kept() {
        let mut irq = Irq {
            hw: 27,
            ..Irq::RESET
        };
        irq.set_line(true);
        irq.hand_off(0, true);
        // Guest EOIs; the physical interrupt fires again before the glue
        // folds the now-invalid list register.
        assert!(irq.set_line(true));
        irq.retire(LrState::Invalid);
        assert!(irq.pending());
    }
}
