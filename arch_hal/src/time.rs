//! Time since boot from the generic timer's counter.

use crate::sysreg::SysRegs;

/// Milliseconds between two counter readings at `frequency` Hz.
/// A zero frequency (firmware forgot CNTFRQ) yields 0 rather than a fault.
pub fn ticks_to_ms(start: u64, now: u64, frequency: u64) -> u64 {
    if frequency == 0 {
        return 0;
    }
    let ticks = now.wrapping_sub(start) as u128;
    (ticks * 1000 / frequency as u128) as u64
}

/// A fixed point in time, used as "hypervisor entry" for the boot log.
#[derive(Clone, Copy, Debug)]
pub struct Epoch {
    start: u64,
    frequency: u64,
}

impl Epoch {
    pub fn now(regs: &impl SysRegs) -> Self {
        Self {
            start: regs.counter(),
            frequency: regs.counter_frequency(),
        }
    }

    pub fn elapsed_ms(&self, regs: &impl SysRegs) -> u64 {
        ticks_to_ms(self.start, regs.counter(), self.frequency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysreg::FakeSysRegs;

    #[test]
    fn converts_ticks() {
        assert_eq!(ticks_to_ms(0, 62_500_000, 62_500_000), 1000);
        assert_eq!(ticks_to_ms(100, 100 + 62_500, 62_500_000), 1);
        assert_eq!(ticks_to_ms(5, 10, 0), 0);
    }

    #[test]
    fn epoch_measures_from_start() {
        let mut regs = FakeSysRegs {
            counter: 1_000,
            ..Default::default()
        };
        let epoch = Epoch::now(&regs);
        regs.counter += 125_000_000;
        assert_eq!(epoch.elapsed_ms(&regs), 2000);
    }
}
