//! The hypervisor's platform layer: what differs between the machines it
//! boots on (QEMU `virt` and the Raspberry Pi 5's BCM2712), expressed as a
//! [`Platform`] trait whose answers all come from the host device tree.
//!
//! Pure logic, host-tested: nothing here touches hardware. The hypervisor
//! calls [`entry::classify`] on its entry registers to find the DTB,
//! [`detect`] on the parsed tree to pick the platform, then asks the
//! platform for its console, GIC frames, usable RAM and timer frequency.
//!
//! Sources for the Raspberry Pi 5 facts used here and in `xtask rpi5`:
//! - Linux `arch/arm64/boot/dts/broadcom/bcm2712.dtsi` and
//!   `bcm2712-rpi-5-b.dts` (the tree in `dtb/tests/fixtures`), binding
//!   `arm/bcm/brcm,bcm2835.yaml` for the root compatible `brcm,bcm2712`;
//! - Raspberry Pi documentation, `config.txt` "Boot options"
//!   (github.com/raspberrypi/documentation,
//!   `documentation/asciidoc/computers/config_txt/boot.adoc`);
//! - Linux `Documentation/arch/arm64/booting.rst` for the entry state.

#![cfg_attr(not(test), no_std)]

pub mod bcm2712;
pub mod entry;
mod error;
pub mod gic;
pub mod initrd;
pub mod memory;
mod platform;
pub mod qemu_virt;
pub mod timer;

pub use error::PlatformError;
pub use gic::{GicFrames, GicV2Frames, GicV3Frames, Stage2Window};
pub use memory::{UsableRam, MAX_USABLE_REGIONS};
pub use platform::{detect, root_compatible_matches, Platform, PLATFORMS};
