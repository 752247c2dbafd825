#![cfg_attr(not(test), no_std)]

pub mod blockdev;
pub mod config;
pub mod cpio;
pub mod fat;
pub mod loader;
