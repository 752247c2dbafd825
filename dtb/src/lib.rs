//! Host device-tree queries for the hypervisor.
//!
//! Runs at EL2 right after U-Boot's `bootelf -p`, with the MMU off and no
//! heap, so nothing here allocates (results live in fixed-capacity lists)
//! and nothing panics on tree contents (everything is a typed
//! [`DtbError`]).
//!
//! Typical use:
//! ```no_run
//! # fn boot(argv0: Option<&[u8]>) -> Result<(), Box<dyn std::error::Error>> {
//! let addr = dtb::parse_dtb_address(argv0)?;
//! // SAFETY: U-Boot's control FDT is identity-mapped and left untouched.
//! let fdt = unsafe { dtb::open_at(addr)? };
//! let host = dtb::HostInfo::parse(&fdt)?;
//! # let _ = host.total_memory(); Ok(()) }
//! ```
//!
//! Layering: [`open`] checks the whole blob so that the `fdt` crate (0.1.5,
//! which trusts its input) can be used safely; the per-device modules decode
//! raw properties themselves where `fdt`'s helpers are lossy or panicky.

#![cfg_attr(not(test), no_std)]

mod arg;
mod blob;
mod cpus;
mod error;
mod gic;
pub mod guest;
mod host;
mod intc;
pub mod irq;
mod list;
mod memory;
mod props;
mod psci;
mod reg;
mod regions;
mod timer;
mod translate;
mod uart;
mod validate;
mod virtio;
mod walk;

pub use arg::{parse_dtb_address, DtbArgError, DTB_ALIGN, MAX_PHYS_ADDR_EXCLUSIVE};
pub use blob::{blob_size, open, open_at, FDT_MAGIC, HEADER_SIZE, MAX_DTB_SIZE};
pub use error::{DtbError, HeaderError, NodeName};
pub use host::{
    GicInfo, GicVersion, HostInfo, PsciConduit, TimerInfo, UartInfo, VirtioMmio, MAX_CPUS,
    MAX_GICR_REGIONS, MAX_MEMORY_REGIONS, MAX_RESERVED_REGIONS, MAX_VIRTIO_MMIO,
};
pub use intc::MAX_NODE_IRQS;
pub use list::{BoundedList, Full};
pub use regions::{Region, Regions};
pub use validate::MAX_DEPTH;

/// Re-exported so users need not depend on the same `fdt` version.
pub use fdt;

/// [`open`] then [`HostInfo::parse`]: any byte string in, a typed result
/// out, never a panic. The entry point for fuzzing.
pub fn parse_any(bytes: &[u8]) -> Result<HostInfo, DtbError> {
    let fdt = open(bytes)?;
    HostInfo::parse(&fdt)
}
