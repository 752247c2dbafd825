//! A file the firmware loaded next to the kernel: `/chosen`
//! `linux,initrd-start` / `linux,initrd-end` (DTSpec v0.4 §3.6 leaves them
//! to Linux: `Documentation/devicetree/bindings/chosen.txt`; each is a 32-
//! or 64-bit big-endian number, the end exclusive).
//!
//! The Raspberry Pi firmware sets both when `config.txt` has an
//! `initramfs <file> <address>|followkernel` line; U-Boot `booti` sets them
//! for its ramdisk argument. This is how the hypervisor finds its guest
//! payload on the Pi 5 without an SD-card driver.

use dtb::fdt::Fdt;
use dtb::Region;

use crate::error::PlatformError;

/// The initrd's physical range, `None` when `/chosen` does not name one.
/// The tree must come from `dtb::open`/`dtb::open_at` (validated).
pub fn find(fdt: &Fdt<'_>) -> Result<Option<Region>, PlatformError> {
    let Some(chosen) = fdt.find_node("/chosen") else {
        return Ok(None);
    };
    let start = chosen.property("linux,initrd-start").map(|p| p.value);
    let end = chosen.property("linux,initrd-end").map(|p| p.value);
    match (start, end) {
        (None, None) => Ok(None),
        (Some(s), Some(e)) => {
            let (s, e) = (number(s)?, number(e)?);
            if e <= s {
                return Err(PlatformError::Initrd(
                    "linux,initrd-end is not after -start",
                ));
            }
            Ok(Some(Region::new(s, e - s)))
        }
        _ => Err(PlatformError::Initrd(
            "only one of linux,initrd-start/-end is present",
        )),
    }
}

/// A 1- or 2-cell big-endian number.
fn number(v: &[u8]) -> Result<u64, PlatformError> {
    match v.len() {
        4 | 8 => Ok(v.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b))),
        _ => Err(PlatformError::Initrd("value is neither 4 nor 8 bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(&[0, 0, 0x10, 0]), Ok(0x1000));
        assert_eq!(number(&[0, 0, 0, 1, 0, 0, 0, 2]), Ok(0x1_0000_0002));
        assert!(number(&[1, 2, 3]).is_err());
    }
}
