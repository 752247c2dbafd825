//! virtio for the hypervisor: an emulated virtio-mmio block device that a
//! Linux guest drives with its stock `virtio_mmio` + `virtio_blk` drivers.
//!
//! The guest sees a virtio-mmio **version 2** (virtio 1.2 §4.2) block
//! device (§5.2). Every guest access to the register window traps to the
//! hypervisor, which forwards it to [`VirtioBlkMmio::mmio_read`] /
//! [`VirtioBlkMmio::mmio_write`]. A QueueNotify write runs the pending
//! requests synchronously: chains are walked in guest memory through the
//! [`GuestMemory`] trait and served by a [`BlockBackend`], with data moved
//! through a fixed scratch buffer. Nothing allocates and nothing the guest
//! writes can panic the device; see [`RequestError`] for what is rejected.
//!
//! ```
//! # use virtio::*;
//! # struct Ram(Vec<u8>);
//! # impl GuestMemory for Ram {
//! #     fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> { Err(GuestMemoryError { ipa, len: buf.len() }) }
//! #     fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), GuestMemoryError> { Err(GuestMemoryError { ipa, len: data.len() }) }
//! # }
//! # struct Disk;
//! # impl BlockBackend for Disk {
//! #     fn capacity_sectors(&self) -> u64 { 8 }
//! #     fn read(&mut self, _: u64, _: &mut [u8]) -> Result<(), BackendError> { Ok(()) }
//! #     fn write(&mut self, _: u64, _: &[u8]) -> Result<(), BackendError> { Ok(()) }
//! #     fn flush(&mut self) -> Result<(), BackendError> { Ok(()) }
//! # }
//! # let mut ram = Ram(Vec::new());
//! let mut scratch = [0u8; 4096];
//! let mut dev = VirtioBlkMmio::new(Disk, &mut scratch[..], DeviceConfig::new())?;
//! assert_eq!(dev.mmio_read(0x000, 4)?, 0x7472_6976); // "virt"
//! // In the data-abort handler, for a trapped store:
//! if dev.mmio_write(0x050, 4, 0, &mut ram)? == Notify::Interrupt {
//!     // assert the SPI; keep it asserted while dev.interrupt_line()
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Scope, deliberately small: one request queue, split rings only, no
//! indirect descriptors, no event-index suppression, no discard/write
//! zeroes, configuration space read-only.

#![cfg_attr(not(test), no_std)]

mod backend;
mod blk;
mod config;
mod device;
mod error;
mod guest_memory;
mod mmio;
mod queue;
pub mod spec;
mod stats;
mod transfer;

pub use backend::BlockBackend;
pub use config::{serial_bytes, DeviceConfig};
pub use device::{Notify, VirtioBlkMmio};
pub use error::{AccessError, BackendError, ConfigError, GuestMemoryError, RequestError};
pub use guest_memory::GuestMemory;
pub use stats::Stats;
