//! The hypervisor's pure logic: no registers, no raw pointers, so it builds
//! and is unit-tested on the host (`cargo test -p elf-hypervisor --lib`).
//! The binary (`main.rs`) wires it to the hardware.
#![cfg_attr(not(test), no_std)]

pub mod debug_tables;
pub mod ffa;
pub mod mbr;
pub mod plan;
pub mod psci_guest;
pub mod ring;
