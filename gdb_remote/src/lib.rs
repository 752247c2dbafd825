//! GDB remote serial protocol on the hypervisor's only UART.
//!
//! - [`demux`]: the per-byte rule that splits the serial stream between the
//!   GDB stub and the guest console. The hypervisor (no_std) and the host
//!   bridge (`cargo xtask`) run the same code.
//! - [`encode`]: `$…#xx` framing and `O` console-output packets.
//! - [`target`]: the [`GuestDebug`](target::GuestDebug) trait the hypervisor
//!   implements and [`GdbSession`](target::GdbSession), which drives
//!   gdbstub's byte-fed state machine (each vCPU is a GDB thread).
//!
//! Nothing here allocates; `gdbstub` is built without `alloc`.
#![cfg_attr(not(test), no_std)]

pub mod demux;
pub mod encode;
pub mod target;

pub use demux::{Demux, Event, Output};
pub use target::{
    ConsoleRoute, DebugError, GdbSession, GuestDebug, RegId, Regs, ResumeMode, ResumePlan,
    SerialTx, StopCause, WatchKind,
};
