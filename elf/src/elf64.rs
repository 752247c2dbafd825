//! Bare-metal AArch64 ELF guests: entry point and loadable segments.
//!
//! Only the ELF header and program headers are read (System V gABI,
//! "ELF Header" and "Program Header"); sections and symbols are irrelevant
//! to loading. Parsing goes through goblin, whose `endian_fd` parsers need
//! `alloc` (hence the `goblin` feature).

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use goblin::container::{Container, Ctx};
use goblin::elf::header::{EM_AARCH64, ET_EXEC};
use goblin::elf::program_header::{ProgramHeader, PT_LOAD};
use goblin::elf::Elf;

/// One `PT_LOAD` segment: copy `file_size` bytes from `file_offset` to
/// `paddr`, then zero up to `mem_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Physical (guest IPA) load address, `p_paddr`.
    pub paddr: u64,
    /// Virtual address the code was linked for, `p_vaddr`.
    pub vaddr: u64,
    pub file_offset: u64,
    pub file_size: u64,
    /// `>= file_size`; the rest is BSS.
    pub mem_size: u64,
    /// `PF_X`/`PF_W`/`PF_R` bits.
    pub flags: u32,
}

/// What a loader needs from an ELF file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfImage {
    /// `e_entry`, a virtual address.
    pub entry: u64,
    /// `entry` translated through the segment that contains it; the address
    /// to start a guest with its MMU off.
    pub entry_paddr: u64,
    /// `PT_LOAD` segments with a non-zero `mem_size`, in file order.
    pub segments: Vec<Segment>,
}

/// Why an ELF file cannot be loaded as an AArch64 guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// goblin rejected the header or program headers (its message, which
    /// is one line).
    Parse(alloc::string::String),
    /// Not ELFCLASS64 little-endian.
    NotElf64Le,
    /// `e_machine` is not EM_AARCH64 (value as read).
    WrongMachine(u16),
    /// `e_type` is not ET_EXEC (a PIE or object file has no fixed addresses).
    NotExecutable(u16),
    /// A segment's file bytes lie outside the file, or `filesz > memsz`, or
    /// its addresses wrap.
    BadSegment { index: usize },
    /// No `PT_LOAD` segment contains the entry point.
    EntryOutsideSegments(u64),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(msg) => write!(f, "malformed ELF: {msg}"),
            Self::NotElf64Le => f.write_str("ELF is not 64-bit little-endian"),
            Self::WrongMachine(m) => {
                write!(f, "ELF e_machine is {m}, expected {EM_AARCH64} (AArch64)")
            }
            Self::NotExecutable(t) => {
                write!(
                    f,
                    "ELF e_type is {t}, expected {ET_EXEC} (ET_EXEC, not PIE)"
                )
            }
            Self::BadSegment { index } => {
                write!(
                    f,
                    "ELF program header {index} lies outside the file or is inconsistent"
                )
            }
            Self::EntryOutsideSegments(e) => {
                write!(f, "ELF entry point {e:#x} is in no PT_LOAD segment")
            }
        }
    }
}

impl From<goblin::error::Error> for ElfError {
    fn from(e: goblin::error::Error) -> Self {
        use alloc::string::ToString;
        Self::Parse(e.to_string().replace('\n', " "))
    }
}

/// Reads the entry point and loadable segments of an AArch64 ET_EXEC ELF,
/// checking that every segment's file bytes are inside `bytes`.
pub fn elf_entry_and_segments(bytes: &[u8]) -> Result<ElfImage, ElfError> {
    let header = Elf::parse_header(bytes)?;
    if header.container()? != Container::Big || !header.endianness()?.is_little() {
        return Err(ElfError::NotElf64Le);
    }
    if header.e_machine != EM_AARCH64 {
        return Err(ElfError::WrongMachine(header.e_machine));
    }
    if header.e_type != ET_EXEC {
        return Err(ElfError::NotExecutable(header.e_type));
    }
    let ctx = Ctx::new(Container::Big, goblin::container::Endian::Little);
    let phoff = usize::try_from(header.e_phoff).map_err(|_| ElfError::BadSegment { index: 0 })?;
    let phdrs = ProgramHeader::parse(bytes, phoff, usize::from(header.e_phnum), ctx)?;

    let mut segments = Vec::new();
    for (index, ph) in phdrs.iter().enumerate() {
        if ph.p_type != PT_LOAD || ph.p_memsz == 0 {
            continue;
        }
        let in_file = ph
            .p_offset
            .checked_add(ph.p_filesz)
            .is_some_and(|end| end <= bytes.len() as u64);
        let addrs_ok = ph.p_paddr.checked_add(ph.p_memsz).is_some()
            && ph.p_vaddr.checked_add(ph.p_memsz).is_some();
        if !in_file || ph.p_filesz > ph.p_memsz || !addrs_ok {
            return Err(ElfError::BadSegment { index });
        }
        segments.push(Segment {
            paddr: ph.p_paddr,
            vaddr: ph.p_vaddr,
            file_offset: ph.p_offset,
            file_size: ph.p_filesz,
            mem_size: ph.p_memsz,
            flags: ph.p_flags,
        });
    }
    let entry = header.e_entry;
    let entry_paddr = segments
        .iter()
        .find(|s| entry >= s.vaddr && entry - s.vaddr < s.mem_size)
        .map(|s| s.paddr + (entry - s.vaddr))
        .ok_or(ElfError::EntryOutsideSegments(entry))?;
    Ok(ElfImage {
        entry,
        entry_paddr,
        segments,
    })
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::ToString;
    use std::vec;

    const PF_R: u32 = 4;
    const PF_X: u32 = 1;

    /// A minimal ELF64 LE file: header, `phdrs`, then `payload` at 0x1000.
    fn build(machine: u16, e_type: u16, entry: u64, phdrs: &[[u64; 6]]) -> Vec<u8> {
        let mut f = vec![0u8; 0x1000];
        f[0..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // ELFCLASS64
        f[5] = 1; // ELFDATA2LSB
        f[6] = 1; // EV_CURRENT
        f[16..18].copy_from_slice(&e_type.to_le_bytes());
        f[18..20].copy_from_slice(&machine.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&entry.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        for (i, &[ty, off, vaddr, paddr, filesz, memsz]) in phdrs.iter().enumerate() {
            let p = 64 + i * 56;
            f[p..p + 4].copy_from_slice(&(ty as u32).to_le_bytes());
            f[p + 4..p + 8].copy_from_slice(&(PF_R | PF_X).to_le_bytes());
            f[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
            f[p + 16..p + 24].copy_from_slice(&vaddr.to_le_bytes());
            f[p + 24..p + 32].copy_from_slice(&paddr.to_le_bytes());
            f[p + 32..p + 40].copy_from_slice(&filesz.to_le_bytes());
            f[p + 40..p + 48].copy_from_slice(&memsz.to_le_bytes());
            f[p + 48..p + 56].copy_from_slice(&0x1000u64.to_le_bytes());
        }
        f.resize(0x2000, 0xaa);
        f
    }

    const LOAD: u64 = PT_LOAD as u64;

    #[test]
    fn entry_and_segments() {
        let f = build(
            EM_AARCH64,
            ET_EXEC,
            0xffff_0000_0008_0010,
            &[
                [
                    LOAD,
                    0x1000,
                    0xffff_0000_0008_0000,
                    0x4008_0000,
                    0x800,
                    0x2000,
                ],
                [6 /* PT_PHDR */, 64, 0, 0, 56, 56],
                [LOAD, 0x1800, 0, 0x5000_0000, 0, 0],
            ],
        );
        let img = elf_entry_and_segments(&f).unwrap();
        assert_eq!(img.entry, 0xffff_0000_0008_0010);
        assert_eq!(img.entry_paddr, 0x4008_0010);
        assert_eq!(
            img.segments,
            vec![Segment {
                paddr: 0x4008_0000,
                vaddr: 0xffff_0000_0008_0000,
                file_offset: 0x1000,
                file_size: 0x800,
                mem_size: 0x2000,
                flags: PF_R | PF_X,
            }]
        );
    }

    #[test]
    fn rejects() {
        let seg = [LOAD, 0x1000, 0x4000_0000, 0x4000_0000, 0x100, 0x100];
        assert_eq!(
            elf_entry_and_segments(&build(62, ET_EXEC, 0x4000_0000, &[seg])),
            Err(ElfError::WrongMachine(62))
        );
        assert_eq!(
            elf_entry_and_segments(&build(EM_AARCH64, 3, 0x4000_0000, &[seg])),
            Err(ElfError::NotExecutable(3))
        );
        assert_eq!(
            elf_entry_and_segments(&build(EM_AARCH64, ET_EXEC, 0x1234, &[seg])),
            Err(ElfError::EntryOutsideSegments(0x1234))
        );
        let past_end = [LOAD, 0x1000, 0x4000_0000, 0x4000_0000, 0x1001, 0x2000];
        assert_eq!(
            elf_entry_and_segments(&build(EM_AARCH64, ET_EXEC, 0x4000_0000, &[past_end])),
            Err(ElfError::BadSegment { index: 0 })
        );
        let filesz_gt_memsz = [LOAD, 0x1000, 0x4000_0000, 0x4000_0000, 0x200, 0x100];
        assert!(elf_entry_and_segments(&build(
            EM_AARCH64,
            ET_EXEC,
            0x4000_0000,
            &[filesz_gt_memsz]
        ))
        .is_err());
        let mut be = build(EM_AARCH64, ET_EXEC, 0x4000_0000, &[seg]);
        be[5] = 2;
        assert!(elf_entry_and_segments(&be).is_err());
        let image = crate::image::IMAGE_MAGIC.to_le_bytes();
        let e = elf_entry_and_segments(&image).unwrap_err();
        assert!(matches!(e, ElfError::Parse(_)));
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn never_panics_on_mutations() {
        let base = build(
            EM_AARCH64,
            ET_EXEC,
            0x4000_0000,
            &[[LOAD, 0x1000, 0x4000_0000, 0x4000_0000, 0x100, 0x100]],
        );
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut f = base.clone();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = (x as usize >> 8) % 128;
                f[at] = x as u8;
            }
            let len = (x as usize >> 20) % f.len();
            let _ = elf_entry_and_segments(&f);
            let _ = elf_entry_and_segments(&f[..len]);
        }
    }

    /// The hypervisor's own ELF, when `cargo xbuild` has produced it.
    #[test]
    fn real_hypervisor_elf() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bin/elf-hypervisor.elf");
        let Ok(bytes) = std::fs::read(path) else {
            std::eprintln!("skipped: no {path}");
            return;
        };
        let img = elf_entry_and_segments(&bytes).unwrap();
        assert!(!img.segments.is_empty());
        // Linked at 0x4100_0000 (README, "Boot protocol notes").
        assert!(img.entry_paddr >= 0x4100_0000, "{:#x}", img.entry_paddr);
    }
}
