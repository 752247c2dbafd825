//! `cargo xrun rpi5`: the Raspberry Pi 5 boot files in `bin/rpi5/`.
//!
//! - `kernel_2712.img`: the hypervisor as a flat memory image. The Pi 5
//!   firmware (in the bootloader EEPROM) loads the file named by `kernel=`
//!   at `kernel_address` and enters its first byte at EL2, MMU off, with
//!   x0 = the DTB it loaded and patched (Linux arm64 boot protocol).
//! - `config.txt`: the firmware settings, with `kernel_address` taken from
//!   the ELF (see [`config_txt`]).
//! - `bcm2712-rpi-5-b.dtb`: Linux's (Debian's) tree for the board, the one
//!   `dtb/tests/rpi5.rs` tests; the firmware patches its memory node and
//!   `/chosen` before passing it.
//!
//! Load address. The hypervisor is linked (not position-independent:
//! `ldr x, =symbol` literals, absolute vector addresses) at 0x4100_0000 for
//! QEMU. Rather than a second link for the Pi, `config.txt` sets
//! `kernel_address=0x41000000`: the 2, 4, 8 and 16 GB boards have RAM
//! from physical 0 well past 0x4100_0000, the firmware keeps only
//! 0..0x80000 for TF-A (`/reserved-memory/atf@0`), and the address is an
//! ordinary `config.txt` setting (Raspberry Pi docs, "Boot options":
//! `kernel_address`, default 0x200000 for 64-bit kernels; Circle's
//! `boot/config64.txt` sets it too). A 1 GB board would have no RAM there:
//! it would need a second link (HYP_BASE below 1 GiB, e.g. 0x20_0000).
//! So one ELF serves QEMU and the Pi, and the flat image is byte-for-byte
//! its PT_LOAD segments. [`image_layout`] checks what makes that valid: the
//! entry is the first byte (offset 0) and segments are identity-placed
//! (paddr == vaddr).
//!
//! The image covers the whole footprint up to the end of .bss, stacks and
//! page tables (zero-filled), so anything the firmware places "after the
//! kernel" (`initramfs ... followkernel`, possibly the DTB) cannot land on
//! memory the hypervisor uses without it being in the file.
//!
//! Conversion is done here rather than with `llvm-objcopy -O binary`:
//! objcopy stops at the last file-backed byte (so the footprint would not be
//! covered), and this needs no tool lookup in the toolchain's sysroot.

use crate::hyp;
use crate::paths::Paths;
use anyhow::{bail, ensure, Context, Result};
use std::path::PathBuf;

/// The firmware's default kernel name on the Pi 5 (Raspberry Pi docs,
/// `kernel`: "The Raspberry Pi 5 firmware defaults to loading
/// `kernel_2712.img`"); also named explicitly in `config.txt`.
pub const KERNEL_IMAGE: &str = "kernel_2712.img";
/// The device tree the firmware loads for a Raspberry Pi 5 Model B.
pub const DTB_NAME: &str = "bcm2712-rpi-5-b.dtb";

const PT_LOAD: u32 = 1;
const PAGE: u64 = 0x1000;
/// A flat image larger than this means a stray segment far from the rest.
const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// Where the flat image goes in memory, from the ELF's PT_LOAD headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLayout {
    /// Lowest PT_LOAD physical address: `kernel_address`.
    pub load_address: u64,
    /// `e_entry - load_address`; must be 0 (the firmware enters byte 0).
    pub entry_offset: u64,
    /// One past the last file-backed byte.
    pub file_end: u64,
    /// One past the last byte of any segment in memory (.bss, stacks,
    /// page tables): the image's end.
    pub mem_end: u64,
}

impl ImageLayout {
    pub fn image_len(&self) -> u64 {
        self.mem_end - self.load_address
    }
}

#[derive(Clone, Copy, Debug)]
struct Segment {
    offset: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
}

fn read<const N: usize>(elf: &[u8], at: u64, what: &str) -> Result<[u8; N]> {
    let start = usize::try_from(at).context("offset overflows usize")?;
    elf.get(start..start.saturating_add(N))
        .and_then(|s| s.try_into().ok())
        .with_context(|| format!("ELF truncated: {what} at {at:#x}"))
}
fn u16_at(elf: &[u8], at: u64, what: &str) -> Result<u16> {
    Ok(u16::from_le_bytes(read(elf, at, what)?))
}
fn u32_at(elf: &[u8], at: u64, what: &str) -> Result<u32> {
    Ok(u32::from_le_bytes(read(elf, at, what)?))
}
fn u64_at(elf: &[u8], at: u64, what: &str) -> Result<u64> {
    Ok(u64::from_le_bytes(read(elf, at, what)?))
}

/// The non-empty PT_LOAD segments, sorted by address, checked to be
/// identity-placed, inside the file and non-overlapping.
fn segments(elf: &[u8]) -> Result<(u64, Vec<Segment>)> {
    hyp::check_loadable(elf)?;
    // ELF64 header: e_entry @0x18, e_phoff @0x20, e_phentsize @0x36,
    // e_phnum @0x38 (System V gABI, "ELF Header").
    let entry = u64_at(elf, 0x18, "e_entry")?;
    let phoff = u64_at(elf, 0x20, "e_phoff")?;
    let phentsize = u64::from(u16_at(elf, 0x36, "e_phentsize")?);
    let phnum = u64::from(u16_at(elf, 0x38, "e_phnum")?);
    ensure!(phentsize >= 56, "e_phentsize {phentsize} < 56");
    let mut out = Vec::new();
    for i in 0..phnum {
        let ph = phoff
            .checked_add(i * phentsize)
            .context("program header offset overflows")?;
        if u32_at(elf, ph, "p_type")? != PT_LOAD {
            continue;
        }
        // Elf64_Phdr: p_offset @8, p_vaddr @0x10, p_paddr @0x18,
        // p_filesz @0x20, p_memsz @0x28.
        let vaddr = u64_at(elf, ph + 0x10, "p_vaddr")?;
        let seg = Segment {
            offset: u64_at(elf, ph + 8, "p_offset")?,
            paddr: u64_at(elf, ph + 0x18, "p_paddr")?,
            filesz: u64_at(elf, ph + 0x20, "p_filesz")?,
            memsz: u64_at(elf, ph + 0x28, "p_memsz")?,
        };
        if seg.memsz == 0 {
            continue;
        }
        ensure!(
            vaddr == seg.paddr,
            "PT_LOAD {i}: vaddr {vaddr:#x} != paddr {:#x}; a flat image runs with the MMU off \
             at its physical address",
            seg.paddr
        );
        ensure!(seg.filesz <= seg.memsz, "PT_LOAD {i}: p_filesz > p_memsz");
        let file_end = seg.offset.checked_add(seg.filesz);
        ensure!(
            file_end.is_some_and(|e| e <= elf.len() as u64),
            "PT_LOAD {i}: file bytes beyond the end of the ELF"
        );
        ensure!(
            seg.paddr.checked_add(seg.memsz).is_some(),
            "PT_LOAD {i}: wraps the address space"
        );
        out.push(seg);
    }
    ensure!(!out.is_empty(), "the ELF has no PT_LOAD segment");
    out.sort_by_key(|s| s.paddr);
    for w in out.windows(2) {
        ensure!(
            w[0].paddr + w[0].memsz <= w[1].paddr,
            "PT_LOAD segments at {:#x} and {:#x} overlap",
            w[0].paddr,
            w[1].paddr
        );
    }
    Ok((entry, out))
}

/// ELF bytes → where the flat image loads and where it is entered.
///
/// Errors unless the entry point is the lowest PT_LOAD address (entry
/// offset 0), the load address is page aligned and the footprint is sane.
pub fn image_layout(elf: &[u8]) -> Result<ImageLayout> {
    let (entry, segs) = segments(elf)?;
    let load_address = segs[0].paddr;
    let mem_end = segs
        .iter()
        .map(|s| s.paddr + s.memsz)
        .max()
        .unwrap_or(load_address);
    let file_end = segs
        .iter()
        .map(|s| s.paddr + s.filesz)
        .max()
        .unwrap_or(load_address);
    let layout = ImageLayout {
        load_address,
        entry_offset: entry.wrapping_sub(load_address),
        file_end,
        mem_end,
    };
    ensure!(
        entry == load_address,
        "ELF entry {entry:#x} is not the lowest PT_LOAD address {load_address:#x}: the Pi \
         firmware enters the first byte of {KERNEL_IMAGE} (keep .text.boot first in link.ld)"
    );
    ensure!(
        load_address.is_multiple_of(PAGE),
        "load address {load_address:#x} is not 4 KiB aligned"
    );
    ensure!(
        layout.image_len() <= MAX_IMAGE_BYTES,
        "image spans {:#x} bytes from {load_address:#x}: a segment is far from the rest",
        layout.image_len()
    );
    Ok(layout)
}

/// The flat image: `[load_address, mem_end)` with each segment's file bytes
/// at `paddr - load_address` and zeros elsewhere.
pub fn flatten(elf: &[u8]) -> Result<(ImageLayout, Vec<u8>)> {
    let layout = image_layout(elf)?;
    let (_, segs) = segments(elf)?;
    let mut image = vec![0u8; usize::try_from(layout.image_len())?];
    for s in &segs {
        let dst = usize::try_from(s.paddr - layout.load_address)?;
        let src = usize::try_from(s.offset)?;
        let len = usize::try_from(s.filesz)?;
        // Bounds were checked in `segments` and `image_layout`.
        image[dst..dst + len].copy_from_slice(&elf[src..src + len]);
    }
    Ok((layout, image))
}

/// `config.txt` for the Pi 5 firmware; `load_address` is the ELF's link
/// address ([`ImageLayout::load_address`]).
///
/// Sources: Raspberry Pi documentation `config_txt/boot.adoc` (kernel,
/// arm_64bit, kernel_address, initramfs, uart_2ndstage, os_check), Linux
/// `bcm2712-rpi-5-b.dts` (`stdout-path = "serial10:115200n8"`).
pub fn config_txt(load_address: u64) -> String {
    format!(
        "\
# Raspberry Pi 5 boot configuration for elf-hypervisor, written by
# `cargo xrun rpi5` (xtask/src/rpi5.rs). Copy every file of bin/rpi5/ to the
# FAT boot partition. The Pi 5 firmware lives in the bootloader EEPROM: no
# start*.elf/fixup*.dat files are needed.
#
# Entry: the firmware loads {KERNEL_IMAGE} at kernel_address and starts its
# first byte on the boot CPU at EL2 (through TF-A BL31, which keeps physical
# 0..0x80000), MMU and caches off, x0 = physical address of the device tree
# it loaded and patched (real memory size, /chosen), x1..x3 = 0 (the Linux
# arm64 boot protocol). The other CPUs wait in firmware for PSCI CPU_ON.

# 64-bit is the only mode on the Pi 5; explicit for older firmware.
arm_64bit=1
kernel={KERNEL_IMAGE}
# The hypervisor is linked at this address (not relocatable): it must equal
# the ELF's lowest PT_LOAD address, which xtask checks.
kernel_address={load_address:#x}
# Linux's device tree for the board; the firmware passes it in x0.
device_tree={DTB_NAME}
# Bare metal: skip the firmware's check for an OS-compatible device tree.
os_check=0

# Console: the debug UART (3-pin JST connector), PL011 uart10 at
# 0x10_7d00_1000, stdout-path serial10. The firmware sets it up at 115200 8N1
# and logs its own boot there; the hypervisor keeps those settings. (The
# 40-pin header's UART is in RP1 behind PCIe: not used.)
enable_uart=1
uart_2ndstage=1

# Guest payload (once the hypervisor reads /chosen linux,initrd-*): the
# firmware loads it after the image and records where in the DTB.
#initramfs guest.cpio followkernel
"
    )
}

/// The `kernel_address` a `config.txt` sets (last assignment wins, as in
/// the firmware), `None` if absent or unparsable.
pub fn config_kernel_address(text: &str) -> Option<u64> {
    text.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("kernel_address="))
        .next_back()
        .and_then(|v| {
            let v = v.trim();
            match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => v.parse().ok(),
            }
        })
}

/// Builds the hypervisor and writes `bin/rpi5/{kernel_2712.img,
/// config.txt, bcm2712-rpi-5-b.dtb}`. Returns the directory.
pub fn build(paths: &Paths) -> Result<PathBuf> {
    let elf_path = hyp::build(paths, &hyp::BuildOptions::default())?;
    let elf =
        std::fs::read(&elf_path).with_context(|| format!("reading {}", elf_path.display()))?;
    let (layout, image) = flatten(&elf)?;
    let config = config_txt(layout.load_address);
    if config_kernel_address(&config) != Some(layout.load_address) {
        bail!("internal: config.txt does not load the image at its link address");
    }

    let dtb_src = paths.root.join("dtb/tests/fixtures").join(DTB_NAME);
    let dtb = std::fs::read(&dtb_src).with_context(|| format!("reading {}", dtb_src.display()))?;
    ensure!(
        dtb.starts_with(&0xd00d_feed_u32.to_be_bytes()),
        "{} is not a flattened device tree",
        dtb_src.display()
    );

    let dir = paths.bin().join("rpi5");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, bytes) in [
        (KERNEL_IMAGE, image.as_slice()),
        ("config.txt", config.as_bytes()),
        (DTB_NAME, dtb.as_slice()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "xtask: wrote {}/{{{KERNEL_IMAGE}, config.txt, {DTB_NAME}}}: image {} KiB at {:#x} \
         (entry +{:#x}, {} KiB file-backed, zero-filled to {:#x})",
        dir.display(),
        image.len() / 1024,
        layout.load_address,
        layout.entry_offset,
        (layout.file_end - layout.load_address) / 1024,
        layout.mem_end
    );
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian AArch64 ET_EXEC with `segs` = (paddr, vaddr, file
    /// bytes, memsz), laid out after the program headers.
    fn elf(entry: u64, segs: &[(u64, u64, &[u8], u64)]) -> Vec<u8> {
        let phoff = 64u64;
        let mut data_off = phoff + 56 * segs.len() as u64;
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[6] = 1;
        h[16..18].copy_from_slice(&2u16.to_le_bytes());
        h[18..20].copy_from_slice(&183u16.to_le_bytes());
        h[0x18..0x20].copy_from_slice(&entry.to_le_bytes());
        h[0x20..0x28].copy_from_slice(&phoff.to_le_bytes());
        h[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        h[0x38..0x3a].copy_from_slice(&(segs.len() as u16).to_le_bytes());
        let mut body = Vec::new();
        for &(paddr, vaddr, bytes, memsz) in segs {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&PT_LOAD.to_le_bytes());
            ph[8..16].copy_from_slice(&data_off.to_le_bytes());
            ph[0x10..0x18].copy_from_slice(&vaddr.to_le_bytes());
            ph[0x18..0x20].copy_from_slice(&paddr.to_le_bytes());
            ph[0x20..0x28].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
            ph[0x28..0x30].copy_from_slice(&memsz.to_le_bytes());
            h.extend(ph);
            body.extend_from_slice(bytes);
            data_off += bytes.len() as u64;
        }
        h.extend(body);
        h
    }

    /// Like the real hypervisor: text at 0x4100_0000 (entry), rodata, and
    /// data followed by NOLOAD bss/stacks/page tables in one RW segment.
    fn hypervisor_like() -> Vec<u8> {
        elf(
            0x4100_0000,
            &[
                (0x4100_0000, 0x4100_0000, &[0xaa; 0x10], 0x10),
                (0x4100_0010, 0x4100_0010, &[0xbb; 8], 8),
                (0x4100_0020, 0x4100_0020, &[0xcc; 4], 0x1000 - 0x20),
            ],
        )
    }

    #[test]
    fn entry_at_offset_zero_and_config_loads_at_link_address() {
        let elf = hypervisor_like();
        let (layout, image) = flatten(&elf).unwrap();
        assert_eq!(
            layout,
            ImageLayout {
                load_address: 0x4100_0000,
                entry_offset: 0,
                file_end: 0x4100_0024,
                mem_end: 0x4100_1000,
            }
        );
        // The image is the whole footprint: file bytes, then zeros.
        assert_eq!(image.len(), 0x1000);
        assert_eq!(&image[..0x10], &[0xaa; 0x10]);
        assert_eq!(&image[0x10..0x18], &[0xbb; 8]);
        assert_eq!(&image[0x18..0x20], &[0; 8]);
        assert_eq!(&image[0x20..0x24], &[0xcc; 4]);
        assert!(image[0x24..].iter().all(|&b| b == 0));
        // config.txt's kernel_address is the link address.
        let config = config_txt(layout.load_address);
        assert_eq!(config_kernel_address(&config), Some(0x4100_0000));
        assert!(config.contains("kernel_address=0x41000000\n"));
        assert!(config.contains("kernel=kernel_2712.img\n"));
        assert!(config.contains("arm_64bit=1\n"));
        assert!(config.contains("device_tree=bcm2712-rpi-5-b.dtb\n"));
    }

    #[test]
    fn segment_order_in_headers_does_not_matter() {
        let elf = elf(
            0x20_0000,
            &[
                (0x20_1000, 0x20_1000, &[2; 4], 4),
                (0x20_0000, 0x20_0000, &[1; 4], 4),
            ],
        );
        let (layout, image) = flatten(&elf).unwrap();
        assert_eq!(layout.load_address, 0x20_0000);
        assert_eq!(image.len(), 0x1004);
        assert_eq!(&image[0x1000..], &[2; 4]);
    }

    #[test]
    fn entry_elsewhere_is_refused() {
        let elf = elf(
            0x4100_0100,
            &[(0x4100_0000, 0x4100_0000, &[0; 0x200], 0x200)],
        );
        let err = image_layout(&elf).unwrap_err().to_string();
        assert!(err.contains("not the lowest PT_LOAD"), "{err}");
    }

    #[test]
    fn bad_layouts_are_refused() {
        // Virtual != physical.
        let e = elf(
            0x4100_0000,
            &[(0x4100_0000, 0xffff_0000_0000_0000, &[0; 4], 4)],
        );
        assert!(image_layout(&e).unwrap_err().to_string().contains("paddr"));
        // Overlapping segments.
        let e = elf(
            0x4100_0000,
            &[
                (0x4100_0000, 0x4100_0000, &[0; 8], 0x100),
                (0x4100_0080, 0x4100_0080, &[0; 8], 8),
            ],
        );
        assert!(image_layout(&e)
            .unwrap_err()
            .to_string()
            .contains("overlap"));
        // A stray segment 1 GiB away would make a 1 GiB file.
        let e = elf(
            0x4100_0000,
            &[
                (0x4100_0000, 0x4100_0000, &[0; 8], 8),
                (0x8100_0000, 0x8100_0000, &[0; 8], 8),
            ],
        );
        assert!(image_layout(&e).unwrap_err().to_string().contains("far"));
        // Unaligned load address.
        let e = elf(0x4100_0800, &[(0x4100_0800, 0x4100_0800, &[0; 8], 8)]);
        assert!(image_layout(&e)
            .unwrap_err()
            .to_string()
            .contains("aligned"));
        // Truncated file and non-ELF input.
        let mut e = hypervisor_like();
        e.truncate(100);
        assert!(image_layout(&e).is_err());
        assert!(image_layout(b"not an elf").is_err());
        // No PT_LOAD at all.
        assert!(image_layout(&elf(0, &[]))
            .unwrap_err()
            .to_string()
            .contains("no PT_LOAD"));
    }

    #[test]
    fn kernel_address_parsing() {
        assert_eq!(
            config_kernel_address("kernel_address=0x80000"),
            Some(0x8_0000)
        );
        assert_eq!(
            config_kernel_address("kernel_address=524288\n"),
            Some(0x8_0000)
        );
        assert_eq!(
            config_kernel_address("kernel_address=0x1\n  kernel_address=0x2000\n"),
            Some(0x2000)
        );
        assert_eq!(config_kernel_address("#kernel_address=0x1"), None);
        assert_eq!(config_kernel_address("kernel_address=zz"), None);
    }
}
