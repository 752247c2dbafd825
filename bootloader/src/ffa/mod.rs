//! Arm Firmware Framework for A-profile (FF-A, DEN0077A v1.1): the ABI
//! numbers and the SPMC's request dispatch. Pure logic, host-tested; the
//! `elf-spmc` binary feeds it the registers of each SMC return.

pub mod abi;
pub mod discovery;
pub mod mem_desc;
pub mod mem_state;
pub mod partitions;
pub mod proxy;
pub mod rxtx;
pub mod spmc;

#[cfg(test)]
mod mem_tests;
#[cfg(test)]
mod tests;
