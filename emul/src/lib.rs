//! Emulated devices for the guest: the GIC distributor and redistributors
//! ([`vgic`]) and a PL011 console UART ([`pl011`]).
//!
//! Everything here is pure register-level logic with no hardware access, so
//! it runs unchanged at EL2 and in host unit tests. The hypervisor glue owns
//! the traps (stage-2 data aborts, `ICC_SGI1R_EL1` writes), the list
//! registers and the inter-processor kicks; this crate only answers "what
//! does the guest read here", "what changed after this write" and "what
//! should go into the next free list register".
//!
//! Nothing allocates (all state lives in fixed-size arrays) and nothing
//! panics on guest-controlled values: bad access widths or alignments come
//! back as an [`AccessError`], reserved registers read as zero and ignore
//! writes, as the architecture asks of reserved locations.

#![cfg_attr(not(test), no_std)]

mod access;
mod error;
pub mod pl011;
pub mod vgic;

pub use error::{AccessError, VgicError};
pub use pl011::VPl011;
pub use vgic::{Injection, LrState, Update, VGic, Version};
