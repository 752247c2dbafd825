//! The generic timer's frequency.

use dtb::HostInfo;

use crate::error::PlatformError;

/// As Linux `arch_timer_of_configure_rate()`: the timer node's
/// `clock-frequency` wins (it exists for firmware that cannot program
/// CNTFRQ_EL0), else `CNTFRQ_EL0[31:0]` (Arm ARM D23.8.1; 54 MHz on the Pi 5,
/// 62.5 MHz on QEMU 7.2), else an error.
pub fn frequency(host: &HostInfo, cntfrq_el0: u64) -> Result<u64, PlatformError> {
    if let Some(hz) = host.timer.and_then(|t| t.clock_frequency) {
        if hz != 0 {
            return Ok(u64::from(hz));
        }
    }
    match cntfrq_el0 & 0xffff_ffff {
        0 => Err(PlatformError::NoTimerFrequency),
        hz => Ok(hz),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dtb::{Region, Regions, TimerInfo};

    fn host(clock_frequency: Option<u32>) -> HostInfo {
        let mut memory = Regions::new();
        memory.push(Region::new(0, 0x1000)).unwrap();
        HostInfo {
            memory,
            reserved: Regions::new(),
            cpu_count: 1,
            cpu_mpidrs: [0; dtb::MAX_CPUS],
            psci: None,
            uart: None,
            gic: None,
            timer: Some(TimerInfo {
                secure_phys_intid: 29,
                phys_intid: 30,
                virt_intid: 27,
                hyp_intid: 26,
                hyp_virt_intid: None,
                clock_frequency,
            }),
            virtio_mmio: dtb::BoundedList::new(),
        }
    }

    #[test]
    fn dtb_overrides_cntfrq() {
        assert_eq!(
            frequency(&host(Some(19_200_000)), 54_000_000),
            Ok(19_200_000)
        );
        assert_eq!(frequency(&host(None), 54_000_000), Ok(54_000_000));
        assert_eq!(frequency(&host(Some(0)), 62_500_000), Ok(62_500_000));
        // Bits above 31 are RES0.
        assert_eq!(frequency(&host(None), (1 << 40) | 1000), Ok(1000));
        assert_eq!(
            frequency(&host(None), 0),
            Err(PlatformError::NoTimerFrequency)
        );
    }
}
