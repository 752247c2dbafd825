//! The arm64 Linux `Image` header and where to place the kernel.
//!
//! Layout and placement rules are from Linux
//! `Documentation/arch/arm64/booting.rst`, section "Call the kernel image".
//! The 64-byte header, all fields little-endian:
//!
//! | offset | field        | meaning                                           |
//! |--------|--------------|---------------------------------------------------|
//! | 0      | code0        | executable code (an `MZ` no-op for EFI stubs)     |
//! | 4      | code1        | executable code                                   |
//! | 8      | text_offset  | image load offset from a 2 MiB aligned base       |
//! | 16     | image_size   | effective image size, BSS included                |
//! | 24     | flags        | endianness, page size, physical placement         |
//! | 32     | res2         | reserved                                          |
//! | 40     | res3         | reserved                                          |
//! | 48     | res4         | reserved                                          |
//! | 56     | magic        | `0x644d5241` (`"ARM\x64"`)                        |
//! | 60     | res5         | reserved (PE header offset for EFI stubs)         |

use core::fmt;

/// Size of the header at the start of every arm64 `Image`.
pub const HEADER_SIZE: usize = 64;
/// `"ARM\x64"` read as a little-endian u32 (booting.rst, "magic").
pub const IMAGE_MAGIC: u32 = 0x644d_5241;
/// Offset of the magic within the header.
pub const MAGIC_OFFSET: usize = 56;
/// The base the Image is placed relative to must be 2 MiB aligned.
pub const BASE_ALIGN: u64 = 2 * 1024 * 1024;
/// booting.rst: "Where image_size is zero, text_offset can be assumed to be
/// 0x80000" — the value every kernel before v3.17 used.
pub const LEGACY_TEXT_OFFSET: u64 = 0x8_0000;

/// `flags` bit 0: 1 = big-endian kernel.
pub const FLAG_BE: u64 = 1 << 0;
/// `flags` bits 1-2: kernel page size (0 unspecified, 1 4K, 2 16K, 3 64K).
pub const FLAG_PAGE_SIZE_SHIFT: u32 = 1;
pub const FLAG_PAGE_SIZE_MASK: u64 = 0b11 << FLAG_PAGE_SIZE_SHIFT;
/// `flags` bit 3: 1 = the 2 MiB aligned base may be anywhere in RAM; 0 = it
/// should be as close as possible to the start of DRAM.
pub const FLAG_PHYS_ANYWHERE: u64 = 1 << 3;

/// The fields of an arm64 `Image` header the loader needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// Offset of the kernel from a 2 MiB aligned base.
    pub text_offset: u64,
    /// Bytes the kernel occupies once running, BSS included (so usually more
    /// than the file). Never 0: for pre-3.17 kernels it is the file size.
    pub image_size: u64,
    /// Endianness, page size and placement bits (see `FLAG_*`).
    pub flags: u64,
}

impl ImageHeader {
    /// The kernel's page size in bytes, `None` when the header leaves it
    /// unspecified.
    pub const fn page_size(&self) -> Option<u64> {
        match (self.flags & FLAG_PAGE_SIZE_MASK) >> FLAG_PAGE_SIZE_SHIFT {
            1 => Some(4 << 10),
            2 => Some(16 << 10),
            3 => Some(64 << 10),
            _ => None,
        }
    }

    /// Whether the kernel may sit anywhere in RAM (flags bit 3). When not,
    /// booting.rst asks for the base to be as close to DRAM start as possible.
    pub const fn placement_anywhere(&self) -> bool {
        self.flags & FLAG_PHYS_ANYWHERE != 0
    }
}

/// Why a buffer is not a bootable arm64 `Image`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Shorter than the 64-byte header.
    TooShort { len: usize },
    /// The magic at offset 56 is wrong (value as read, little-endian).
    BadMagic(u32),
    /// flags bit 0 is set: a big-endian kernel, which we do not run.
    BigEndian,
    /// A non-zero `image_size` too small to hold even the header.
    ImageSizeTooSmall(u64),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooShort { len } => write!(
                f,
                "not an arm64 Image: {len} bytes, shorter than the {HEADER_SIZE}-byte header"
            ),
            Self::BadMagic(m) => write!(
                f,
                "not an arm64 Image: magic {m:#010x} at offset {MAGIC_OFFSET}, \
                 expected {IMAGE_MAGIC:#010x} (\"ARM\\x64\")"
            ),
            Self::BigEndian => f.write_str("big-endian arm64 Image (flags bit 0) is unsupported"),
            Self::ImageSizeTooSmall(s) => write!(
                f,
                "arm64 Image header: image_size {s:#x} is smaller than the header itself"
            ),
        }
    }
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        v.copy_from_slice(src);
    }
    u64::from_le_bytes(v)
}

/// Parses the header at the start of `bytes` (the whole file, so that a
/// pre-3.17 kernel's size can be taken from it).
///
/// `image_size == 0` marks a kernel older than v3.17, whose header had no
/// size, flags or meaningful text_offset: booting.rst says text_offset is
/// then 0x80000, and the kernel occupies at least its file. Such a header
/// comes back with `text_offset = 0x80000` and `image_size = bytes.len()`;
/// the kernel's BSS is then not covered, so leave room after it.
///
/// A file shorter than `image_size` is normal (BSS is not in the file), so
/// it is not an error.
pub fn parse_image(bytes: &[u8]) -> Result<ImageHeader, ImageError> {
    if bytes.len() < HEADER_SIZE {
        return Err(ImageError::TooShort { len: bytes.len() });
    }
    let magic = u32::from_le_bytes([
        bytes[MAGIC_OFFSET],
        bytes[MAGIC_OFFSET + 1],
        bytes[MAGIC_OFFSET + 2],
        bytes[MAGIC_OFFSET + 3],
    ]);
    if magic != IMAGE_MAGIC {
        return Err(ImageError::BadMagic(magic));
    }
    let text_offset = le_u64(bytes, 8);
    let image_size = le_u64(bytes, 16);
    let flags = le_u64(bytes, 24);
    if image_size == 0 {
        return Ok(ImageHeader {
            text_offset: LEGACY_TEXT_OFFSET,
            image_size: bytes.len() as u64,
            flags: 0,
        });
    }
    if flags & FLAG_BE != 0 {
        return Err(ImageError::BigEndian);
    }
    if image_size < HEADER_SIZE as u64 {
        return Err(ImageError::ImageSizeTooSmall(image_size));
    }
    Ok(ImageHeader {
        text_offset,
        image_size,
        flags,
    })
}

/// Where to copy the Image when RAM starts at `ram_base`: the first 2 MiB
/// aligned address at or above it, plus `text_offset` (booting.rst: "The
/// Image must be placed text_offset bytes from a 2MB aligned base address
/// anywhere in usable system RAM"). Choosing the lowest such base also
/// satisfies kernels without flags bit 3, which want to be near DRAM start.
///
/// Saturates at `u64::MAX` instead of wrapping; callers check the result
/// plus [`footprint`] against RAM anyway.
pub const fn load_address(ram_base: u64, hdr: &ImageHeader) -> u64 {
    let base = match ram_base.checked_add(BASE_ALIGN - 1) {
        Some(v) => v & !(BASE_ALIGN - 1),
        None => return u64::MAX,
    };
    base.saturating_add(hdr.text_offset)
}

/// Bytes of RAM the kernel needs from its load address: the larger of
/// `image_size` (which includes BSS) and the file itself.
pub const fn footprint(hdr: &ImageHeader, file_len: u64) -> u64 {
    if hdr.image_size > file_len {
        hdr.image_size
    } else {
        file_len
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn header(text_offset: u64, image_size: u64, flags: u64, magic: u32) -> [u8; 64] {
        let mut h = [0u8; 64];
        // code0: "MZ" + branch, as an EFI-stub kernel has.
        h[0..4].copy_from_slice(&0xfa40_5a4du32.to_le_bytes());
        h[8..16].copy_from_slice(&text_offset.to_le_bytes());
        h[16..24].copy_from_slice(&image_size.to_le_bytes());
        h[24..32].copy_from_slice(&flags.to_le_bytes());
        h[56..60].copy_from_slice(&magic.to_le_bytes());
        h
    }

    #[test]
    fn modern_header() {
        let h = header(0, 0x2b3_0000, 0xa, IMAGE_MAGIC);
        let hdr = parse_image(&h).unwrap();
        assert_eq!(
            hdr,
            ImageHeader {
                text_offset: 0,
                image_size: 0x2b3_0000,
                flags: 0xa
            }
        );
        assert_eq!(hdr.page_size(), Some(4096));
        assert!(hdr.placement_anywhere());
    }

    #[test]
    fn page_sizes() {
        for (bits, size) in [
            (0, None),
            (1, Some(4096)),
            (2, Some(16384)),
            (3, Some(65536)),
        ] {
            let h = header(0, 0x10000, bits << 1, IMAGE_MAGIC);
            assert_eq!(parse_image(&h).unwrap().page_size(), size);
        }
    }

    #[test]
    fn legacy_zero_size() {
        let mut file = header(0x1234, 0, 0, IMAGE_MAGIC).to_vec();
        file.resize(5000, 0);
        let hdr = parse_image(&file).unwrap();
        assert_eq!(hdr.text_offset, LEGACY_TEXT_OFFSET);
        assert_eq!(hdr.image_size, 5000);
        assert_eq!(hdr.flags, 0);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_image(&[0u8; 63]),
            Err(ImageError::TooShort { len: 63 })
        );
        assert_eq!(parse_image(&[]), Err(ImageError::TooShort { len: 0 }));
        let bad = header(0, 0x1000, 0, 0x464c_457f);
        let err = parse_image(&bad).unwrap_err();
        assert_eq!(err, ImageError::BadMagic(0x464c_457f));
        assert_eq!(
            err.to_string(),
            "not an arm64 Image: magic 0x464c457f at offset 56, expected 0x644d5241 (\"ARM\\x64\")"
        );
        assert_eq!(
            parse_image(&header(0, 0x1000, FLAG_BE | 0xa, IMAGE_MAGIC)),
            Err(ImageError::BigEndian)
        );
        assert_eq!(
            parse_image(&header(0, 8, 0, IMAGE_MAGIC)),
            Err(ImageError::ImageSizeTooSmall(8))
        );
        for e in [
            ImageError::TooShort { len: 1 },
            ImageError::BadMagic(0),
            ImageError::BigEndian,
            ImageError::ImageSizeTooSmall(1),
        ] {
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn never_panics_on_noise() {
        // Small xorshift so the test needs no crate.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..200usize {
            let mut buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = parse_image(&buf);
            if len >= 64 {
                buf[56..60].copy_from_slice(&IMAGE_MAGIC.to_le_bytes());
                let _ = parse_image(&buf);
            }
        }
    }

    #[test]
    fn placement() {
        let hdr = ImageHeader {
            text_offset: 0,
            image_size: 0x100_0000,
            flags: 0xa,
        };
        assert_eq!(load_address(0x4000_0000, &hdr), 0x4000_0000);
        assert_eq!(load_address(0x4000_0001, &hdr), 0x4020_0000);
        assert_eq!(load_address(0x401f_ffff, &hdr), 0x4020_0000);
        let legacy = ImageHeader {
            text_offset: LEGACY_TEXT_OFFSET,
            ..hdr
        };
        assert_eq!(load_address(0x4000_0000, &legacy), 0x4008_0000);
        assert_eq!(load_address(u64::MAX - 5, &hdr), u64::MAX);
        assert_eq!(footprint(&hdr, 0x80_0000), 0x100_0000);
        assert_eq!(footprint(&hdr, 0x200_0000), 0x200_0000);
    }

    /// The Debian kernels the payload step caches, when they are present.
    #[test]
    fn real_debian_kernels() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../build/cache/payload/pkg");
        let Ok(pkgs) = std::fs::read_dir(root) else {
            std::eprintln!("skipped: no {root}");
            return;
        };
        let mut seen = 0;
        for pkg in pkgs.flatten() {
            let Ok(boot) = std::fs::read_dir(pkg.path().join("boot")) else {
                continue;
            };
            for f in boot.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if !name.starts_with("vmlinuz-") {
                    continue;
                }
                let bytes = std::fs::read(f.path()).unwrap();
                let hdr = parse_image(&bytes).unwrap();
                // Debian 6.12: text_offset 0 (since v5.8), 4K pages, anywhere.
                assert_eq!(hdr.text_offset, 0, "{name}");
                assert_eq!(hdr.page_size(), Some(4096), "{name}");
                assert!(hdr.placement_anywhere(), "{name}");
                assert!(hdr.image_size >= bytes.len() as u64, "{name}: BSS included");
                assert_eq!(
                    footprint(&hdr, bytes.len() as u64),
                    hdr.image_size,
                    "{name}"
                );
                seen += 1;
            }
        }
        if seen == 0 {
            std::eprintln!("skipped: no vmlinuz-* under {root}");
        }
    }
}
