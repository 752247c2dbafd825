//! The only crate of the hypervisor that talks to the CPU directly.
//!
//! Everything here is either a pure description of an architectural format
//! (page-table descriptors, PSCI function IDs, register layouts), which is
//! unit-tested on the host, or a thin `unsafe` wrapper around one instruction
//! sequence, compiled only for AArch64. Crates above this one are safe Rust.
#![cfg_attr(not(test), no_std)]

pub mod debug;
pub mod el2;
pub mod gic;
pub mod irq_mutex;
pub mod mmio;
pub mod mmu;
pub mod psci;
pub mod s1walk;
pub mod smccc;
pub mod stage2;
pub mod sysreg;
pub mod time;

#[cfg(target_arch = "aarch64")]
pub mod cache;
#[cfg(target_arch = "aarch64")]
pub mod exception;
#[cfg(target_arch = "aarch64")]
pub mod pl011;
