//! Reads the guest's files from partition 1 into guest RAM and decides the
//! guest's memory layout (Linux arm64 boot protocol, booting.rst).

use crate::guest_ram::GuestRam;
use crate::storage::HostDisk;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use core::fmt;
use file::cpio::CpioSource;
use file::loader::{FatLoader, FileSource, LoadError};

/// The configuration file on partition 1.
pub const CONFIG_FILE: &str = "hypervisor.cfg";
const MIB2: u64 = 2 << 20;

/// What the configuration asks for, owned (the file buffer is dropped).
pub struct GuestConfig {
    pub kernel: String,
    pub initrd: Option<String>,
    pub bootargs: String,
    pub memory: u64,
    pub vcpus: usize,
}

#[derive(Debug)]
pub enum LoaderError {
    Fat(LoadError),
    Config(file::config::Error),
    ConfigNotUtf8,
    Image(elf::ImageError),
    /// The files do not fit the guest's RAM.
    NoRoom {
        what: &'static str,
        need: u64,
        have: u64,
    },
}

impl fmt::Display for LoaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fat(e) => write!(f, "{e}"),
            Self::Config(e) => write!(f, "{CONFIG_FILE}: {e}"),
            Self::ConfigNotUtf8 => write!(f, "{CONFIG_FILE} is not UTF-8 text"),
            Self::Image(e) => write!(f, "kernel: {e}"),
            Self::NoRoom { what, need, have } => {
                write!(
                    f,
                    "{what} needs {} KiB but only {} KiB of guest RAM are left",
                    need >> 10,
                    have >> 10
                )
            }
        }
    }
}

impl From<LoadError> for LoaderError {
    fn from(e: LoadError) -> Self {
        Self::Fat(e)
    }
}

/// Where the guest's files come from: partition 1 of the host disk, or an
/// archive the firmware loaded into memory (the Raspberry Pi route).
pub enum Files<'b> {
    // Boxed: the FAT state is ~1.3 KiB, the archive view two words.
    Fat(Box<FatLoader<'b, HostDisk>>),
    Archive(CpioSource<'static>),
}

impl<'b> Files<'b> {
    pub fn open_fat(disk: HostDisk, window: &'b mut [u8]) -> Result<Self, LoaderError> {
        Ok(Self::Fat(Box::new(FatLoader::open(disk, window)?)))
    }

    fn source(&mut self) -> &mut dyn FileSource {
        match self {
            Self::Fat(f) => f.as_mut(),
            Self::Archive(a) => a,
        }
    }

    pub fn config(&mut self, max_vcpus: usize) -> Result<GuestConfig, LoaderError> {
        let size = self.source().size(CONFIG_FILE)? as usize;
        let mut buf = vec![0u8; size];
        self.source().read_into(CONFIG_FILE, &mut buf)?;
        let text = core::str::from_utf8(&buf).map_err(|_| LoaderError::ConfigNotUtf8)?;
        let c = file::config::parse(text).map_err(LoaderError::Config)?;
        if c.dtb.is_some() {
            log::warn!(
                "{CONFIG_FILE}: `dtb` ignored: the hypervisor builds the guest DTB from the host's"
            );
        }
        Ok(GuestConfig {
            kernel: c.kernel.into(),
            initrd: c.initrd.map(String::from),
            bootargs: c.bootargs.unwrap_or("console=ttyAMA0").into(),
            memory: c.memory.unwrap_or(512 << 20),
            vcpus: c
                .vcpus
                .map_or(max_vcpus, |v| v as usize)
                .clamp(1, max_vcpus),
        })
    }

    /// Loads `name` at `ipa`; returns its size.
    pub fn load(
        &mut self,
        name: &str,
        ram: &mut GuestRam,
        ipa: u64,
        what: &'static str,
    ) -> Result<u64, LoaderError> {
        let size = self.source().size(name)?;
        let have = (ram.ipa + ram.size).saturating_sub(ipa);
        let dest = ram
            .slice_mut(ipa, size as usize)
            .ok_or(LoaderError::NoRoom {
                what,
                need: size,
                have,
            })?;
        self.source().read_into(name, dest)?;
        Ok(size)
    }

    /// Disk requests made (0 for an archive in memory).
    pub fn disk_requests(&self) -> u64 {
        match self {
            Self::Fat(f) => f.stats().backend_calls,
            Self::Archive(_) => 0,
        }
    }

    /// The host disk back, once loading is done.
    pub fn into_disk(self) -> Option<HostDisk> {
        match self {
            Self::Fat(f) => Some((*f).into_inner()),
            Self::Archive(_) => None,
        }
    }
}

/// Where things go in guest RAM.
#[derive(Clone, Copy, Debug)]
pub struct GuestLayout {
    pub kernel: u64,
    pub dtb: u64,
    pub initrd: u64,
}

/// Kernel at the 2 MiB-aligned RAM base + text_offset; the DTB on the
/// next 2 MiB boundary after the kernel's footprint (its own 2 MiB block,
/// booting.rst §2); the initrd after that.
pub fn layout(ram_ipa: u64, text_offset: u64, footprint: u64) -> GuestLayout {
    let kernel = ram_ipa + text_offset;
    let dtb = align_up(kernel + footprint, MIB2);
    GuestLayout {
        kernel,
        dtb,
        initrd: dtb + MIB2,
    }
}

fn align_up(x: u64, a: u64) -> u64 {
    (x + a - 1) & !(a - 1)
}
