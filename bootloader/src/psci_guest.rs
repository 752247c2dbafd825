//! PSCI as the guest sees it (Arm DEN0022E), answered by the hypervisor
//! over HVC (and SMC, which HCR_EL2.TSC traps). Pure decoding and policy:
//! the caller carries out the returned action.

use arch_hal::psci as ids;

/// PSCI 1.1 (DEN0022E §5.1.1): major in bits [30:16], minor in [15:0].
pub const VERSION_1_1: u64 = (1 << 16) | 1;

pub const NOT_SUPPORTED: i64 = -1;
pub const INVALID_PARAMETERS: i64 = -2;
pub const ALREADY_ON: i64 = -4;
pub const ON_PENDING: i64 = -5;
/// CPU_ON's entry point is not in memory the caller owns (§5.6.2).
pub const INVALID_ADDRESS: i64 = -9;

/// AFFINITY_INFO states (§5.1.5).
pub const AFF_ON: u64 = 0;
pub const AFF_OFF: u64 = 1;
pub const AFF_ON_PENDING: u64 = 2;

/// MIGRATE_INFO_TYPE: "Trusted OS not present or does not require migration".
pub const MIGRATE_NOT_REQUIRED: u64 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuPower {
    Off,
    OnPending,
    On,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Put this value in x0 and resume the caller.
    Return(u64),
    /// Start vCPU `vcpu` at `entry` with x0 = `context`; the caller returns
    /// the result of doing so.
    CpuOn {
        vcpu: usize,
        entry: u64,
        context: u64,
    },
    /// Stop the calling vCPU (its pCPU goes to the firmware's CPU_OFF).
    CpuOff,
    SystemOff,
    SystemReset,
}

/// Decides what a guest PSCI call does. `mpidr_to_vcpu` maps a target
/// affinity to a vCPU index; `power` gives each vCPU's state;
/// `entry_in_ram` says whether a CPU_ON entry point is guest RAM.
pub fn handle(
    function: u64,
    args: [u64; 3],
    mpidr_to_vcpu: impl Fn(u64) -> Option<usize>,
    power: impl Fn(usize) -> VcpuPower,
    entry_in_ram: impl Fn(u64) -> bool,
) -> Action {
    let ret = |v: i64| Action::Return(v as u64);
    // SMC32 and SMC64 variants differ in bit 30; both are accepted where the
    // call exists in both forms.
    let fid = function as u32;
    match fid {
        ids::PSCI_VERSION => Action::Return(VERSION_1_1),
        ids::PSCI_FEATURES => {
            let queried = args[0] as u32;
            let known = [
                ids::PSCI_VERSION,
                ids::CPU_OFF,
                ids::CPU_ON_64,
                ids::CPU_ON_64 & !(1 << 30),
                ids::AFFINITY_INFO_64,
                ids::AFFINITY_INFO_64 & !(1 << 30),
                ids::MIGRATE_INFO_TYPE,
                ids::SYSTEM_OFF,
                ids::SYSTEM_RESET,
                ids::PSCI_FEATURES,
            ];
            if known.contains(&queried) {
                ret(0)
            } else {
                ret(NOT_SUPPORTED)
            }
        }
        f if f == ids::CPU_ON_64 || f == ids::CPU_ON_64 & !(1 << 30) => {
            let Some(vcpu) = mpidr_to_vcpu(args[0]) else {
                return ret(INVALID_PARAMETERS);
            };
            // A vCPU started outside its RAM would only fault forever:
            // refuse it up front, as DEN0022E §5.6.2 allows.
            if !entry_in_ram(args[1]) {
                return ret(INVALID_ADDRESS);
            }
            match power(vcpu) {
                VcpuPower::On => ret(ALREADY_ON),
                VcpuPower::OnPending => ret(ON_PENDING),
                VcpuPower::Off => Action::CpuOn {
                    vcpu,
                    entry: args[1],
                    context: args[2],
                },
            }
        }
        ids::CPU_OFF => Action::CpuOff,
        f if f == ids::AFFINITY_INFO_64 || f == ids::AFFINITY_INFO_64 & !(1 << 30) => {
            // Only affinity level 0 (individual CPUs) is meaningful here.
            if args[1] != 0 {
                return ret(INVALID_PARAMETERS);
            }
            match mpidr_to_vcpu(args[0]) {
                None => ret(INVALID_PARAMETERS),
                Some(v) => Action::Return(match power(v) {
                    VcpuPower::On => AFF_ON,
                    VcpuPower::Off => AFF_OFF,
                    VcpuPower::OnPending => AFF_ON_PENDING,
                }),
            }
        }
        ids::MIGRATE_INFO_TYPE => Action::Return(MIGRATE_NOT_REQUIRED),
        ids::SYSTEM_OFF => Action::SystemOff,
        ids::SYSTEM_RESET => Action::SystemReset,
        _ => ret(NOT_SUPPORTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(fid: u32, args: [u64; 3]) -> Action {
        let power = |v: usize| match v {
            0 => VcpuPower::On,
            1 => VcpuPower::OnPending,
            _ => VcpuPower::Off,
        };
        handle(
            fid as u64,
            args,
            |m| (m < 4).then_some(m as usize),
            power,
            |entry| entry >= 0x4000_0000,
        )
    }

    #[test]
    fn version_and_features() {
        assert_eq!(call(ids::PSCI_VERSION, [0; 3]), Action::Return(VERSION_1_1));
        assert_eq!(
            call(ids::PSCI_FEATURES, [ids::CPU_ON_64 as u64, 0, 0]),
            Action::Return(0)
        );
        assert_eq!(
            call(ids::PSCI_FEATURES, [0x8400_0001, 0, 0]),
            Action::Return(NOT_SUPPORTED as u64)
        );
        assert_eq!(
            call(0xC400_00FF, [0; 3]),
            Action::Return(NOT_SUPPORTED as u64)
        );
        assert_eq!(call(0x1234, [0; 3]), Action::Return(NOT_SUPPORTED as u64));
    }

    #[test]
    fn cpu_on_states() {
        assert_eq!(
            call(ids::CPU_ON_64, [2, 0x4020_0000, 7]),
            Action::CpuOn {
                vcpu: 2,
                entry: 0x4020_0000,
                context: 7
            }
        );
        assert_eq!(
            call(ids::CPU_ON_64 & !(1 << 30), [3, 0x4000_0000, 2]),
            Action::CpuOn {
                vcpu: 3,
                entry: 0x4000_0000,
                context: 2
            }
        );
        assert_eq!(
            call(ids::CPU_ON_64, [3, 0x1000, 0]),
            Action::Return(INVALID_ADDRESS as u64)
        );
        assert_eq!(
            call(ids::CPU_ON_64, [0, 0x4000_0000, 0]),
            Action::Return(ALREADY_ON as u64)
        );
        assert_eq!(
            call(ids::CPU_ON_64, [1, 0x4000_0000, 0]),
            Action::Return(ON_PENDING as u64)
        );
        assert_eq!(
            call(ids::CPU_ON_64, [9, 0, 0]),
            Action::Return(INVALID_PARAMETERS as u64)
        );
    }

    #[test]
    fn affinity_and_power() {
        assert_eq!(
            call(ids::AFFINITY_INFO_64, [0, 0, 0]),
            Action::Return(AFF_ON)
        );
        assert_eq!(
            call(ids::AFFINITY_INFO_64, [3, 0, 0]),
            Action::Return(AFF_OFF)
        );
        assert_eq!(
            call(ids::AFFINITY_INFO_64, [1, 0, 0]),
            Action::Return(AFF_ON_PENDING)
        );
        assert_eq!(
            call(ids::AFFINITY_INFO_64, [1, 1, 0]),
            Action::Return(INVALID_PARAMETERS as u64)
        );
        assert_eq!(call(ids::SYSTEM_OFF, [0; 3]), Action::SystemOff);
        assert_eq!(call(ids::SYSTEM_RESET, [0; 3]), Action::SystemReset);
        assert_eq!(call(ids::CPU_OFF, [0; 3]), Action::CpuOff);
        assert_eq!(
            call(ids::MIGRATE_INFO_TYPE, [0; 3]),
            Action::Return(MIGRATE_NOT_REQUIRED)
        );
    }
}
