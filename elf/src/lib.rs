//! Kernel image formats the hypervisor can boot as a guest.
//!
//! - [`parse_image`]: the arm64 Linux `Image` header (Linux
//!   `Documentation/arch/arm64/booting.rst`), dependency- and
//!   allocation-free, plus [`load_address`] / [`footprint`] for placement.
//! - [`elf_entry_and_segments`] (feature `goblin`, needs `alloc`): a
//!   bare-metal AArch64 ELF's entry point and `PT_LOAD` segments.
//!
//! Nothing here panics on file contents: malformed input is a typed error.

#![cfg_attr(not(test), no_std)]

#[cfg(feature = "goblin")]
mod elf64;
mod image;

#[cfg(feature = "goblin")]
pub use elf64::{elf_entry_and_segments, ElfError, ElfImage, Segment};
pub use image::{
    footprint, load_address, parse_image, ImageError, ImageHeader, BASE_ALIGN, FLAG_BE,
    FLAG_PAGE_SIZE_MASK, FLAG_PAGE_SIZE_SHIFT, FLAG_PHYS_ANYWHERE, HEADER_SIZE, IMAGE_MAGIC,
    LEGACY_TEXT_OFFSET, MAGIC_OFFSET,
};
