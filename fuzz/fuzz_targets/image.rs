//! The `elf` crate on arbitrary files: the arm64 Image header parser and
//! kernel placement (`image.rs`) and the AArch64 ELF loader (`elf64.rs`).
//!
//! Input: a mode byte (bit 0: Image or ELF), a little-endian u64 RAM base,
//! then the file. Both parsers are checked against the raw bytes decoded
//! independently here, so an accepted file is also a correctly read one.
#![no_main]

use fuzz_support::image_seeds::{self, MODE_ELF};
use fuzz_support::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: fuzz_support::seed_corpus("image", image_seeds::seeds),
    |data: &[u8]| {
        let mut input = Input::new(data);
        let mode = input.u8();
        let ram_base = input.u64();
        let file = input.rest();
        if mode & 1 == MODE_ELF {
            check_elf(file);
        } else {
            check_image(file, ram_base);
        }
    }
);

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn check_image(file: &[u8], ram_base: u64) {
    let result = elf::parse_image(file);
    if file.len() < elf::HEADER_SIZE {
        assert_eq!(result, Err(elf::ImageError::TooShort { len: file.len() }));
        return;
    }
    let magic = u32::from_le_bytes(file[56..60].try_into().unwrap());
    let (text_offset, image_size, flags) = (le64(file, 8), le64(file, 16), le64(file, 24));
    let hdr = match result {
        Ok(h) => h,
        Err(e) => {
            // Every rejection names a real defect of this header.
            match e {
                elf::ImageError::BadMagic(m) => assert!(m == magic && m != elf::IMAGE_MAGIC),
                elf::ImageError::BigEndian => assert!(image_size != 0 && flags & 1 == 1),
                elf::ImageError::ImageSizeTooSmall(s) => {
                    assert!(s == image_size && s != 0 && s < 64)
                }
                elf::ImageError::TooShort { .. } => panic!("{e:?} for a full header"),
            }
            assert!(!e.to_string().contains('\n'));
            return;
        }
    };
    assert_eq!(magic, elf::IMAGE_MAGIC);
    if image_size == 0 {
        // booting.rst: a pre-3.17 kernel, text_offset 0x80000, at least
        // its file size.
        assert_eq!(hdr.text_offset, elf::LEGACY_TEXT_OFFSET);
        assert_eq!(hdr.image_size, file.len() as u64);
        assert_eq!(hdr.flags, 0);
    } else {
        assert_eq!(
            (hdr.text_offset, hdr.image_size, hdr.flags),
            (text_offset, image_size, flags)
        );
        assert!(hdr.image_size >= 64 && hdr.flags & elf::FLAG_BE == 0);
    }

    // Placement: text_offset above the first 2 MiB boundary at or above
    // RAM, or saturated at u64::MAX (callers then fail their RAM check).
    let load = elf::load_address(ram_base, &hdr);
    if load != u64::MAX {
        let base = load - hdr.text_offset;
        assert_eq!(base % elf::BASE_ALIGN, 0);
        assert!(base >= ram_base && base - ram_base < elf::BASE_ALIGN);
    }
    let need = elf::footprint(&hdr, file.len() as u64);
    assert!(need >= hdr.image_size && need >= file.len() as u64);
    assert!(need == hdr.image_size || need == file.len() as u64);
}

fn check_elf(file: &[u8]) {
    let Ok(img) = elf::elf_entry_and_segments(file) else {
        return;
    };
    // Only what was asked for gets through: 64-bit LE, AArch64, ET_EXEC.
    assert_eq!(&file[..4], b"\x7fELF");
    assert_eq!((file[4], file[5]), (2, 1));
    assert_eq!(u16::from_le_bytes([file[18], file[19]]), 183);
    assert_eq!(u16::from_le_bytes([file[16], file[17]]), 2);
    assert_eq!(img.entry, le64(file, 24));
    for s in &img.segments {
        // A loader copies file_size bytes from file_offset, then zeroes up
        // to mem_size at paddr: all of it must be in bounds and not wrap.
        let end = s.file_offset.checked_add(s.file_size).unwrap();
        assert!(end <= file.len() as u64);
        assert!(s.mem_size > 0 && s.file_size <= s.mem_size);
        assert!(s.paddr.checked_add(s.mem_size).is_some());
        assert!(s.vaddr.checked_add(s.mem_size).is_some());
    }
    let home = img
        .segments
        .iter()
        .find(|s| img.entry >= s.vaddr && img.entry - s.vaddr < s.mem_size)
        .expect("the entry point lies in a segment");
    assert_eq!(img.entry_paddr, home.paddr + (img.entry - home.vaddr));
}
