//! Host tests for the virtual GIC, grouped by scenario.

mod lifecycle;
mod linux_v2;
mod linux_v3;
mod registers;
mod sgi;

use super::*;

/// MPIDRs of a 4-vCPU guest laid out like QEMU virt (Aff0 = CPU number).
pub(super) const MPIDRS4: [u64; 4] = [0x8000_0000, 0x8000_0001, 0x8000_0002, 0x8000_0003];

pub(super) fn v3(vcpus: usize) -> VGic {
    VGic::new(Version::V3, vcpus, 96, &MPIDRS4[..vcpus]).unwrap()
}

pub(super) fn v2(vcpus: usize) -> VGic {
    VGic::new(Version::V2, vcpus, 96, &[]).unwrap()
}
