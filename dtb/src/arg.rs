//! Parsing the device-tree address handed over by U-Boot.
//!
//! The hypervisor is started with `bootelf -p <elf> ${fdtcontroladdr}`, so
//! `argv[0]` is U-Boot's control-FDT address printed by `env_set_hex()`: bare
//! lower-case hex without a `0x` prefix (e.g. `7ede7e50`). A hand-typed
//! command line may add `0x`, so that is accepted too.

use core::fmt;

/// Addresses at or above this are outside the 48-bit physical address space
/// (the largest `ID_AA64MMFR0_EL1.PARange` without FEAT_LPA), so they cannot
/// be the address of a blob in RAM.
pub const MAX_PHYS_ADDR_EXCLUSIVE: u64 = 1 << 48;

/// The FDT blob must start on an 8-byte boundary (DTSpec v0.4 §5.6: the
/// reservation block inside it must sit on an 8-byte boundary in memory).
pub const DTB_ALIGN: u64 = 8;

/// Why the DTB address argument was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtbArgError {
    /// No argument, or an empty one.
    Missing,
    /// Not a (optionally `0x`-prefixed) hexadecimal number.
    NotHex,
    /// The address is zero.
    Zero,
    /// The address is not 8-byte aligned; carries the address.
    Misaligned(u64),
    /// The address does not fit in the 48-bit physical address space.
    TooLarge,
}

impl fmt::Display for DtbArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Missing => f.write_str(
                "no device-tree address argument (boot with `bootelf -p <elf> ${fdtcontroladdr}`)",
            ),
            Self::NotHex => f.write_str("device-tree address argument is not a hexadecimal number"),
            Self::Zero => f.write_str("device-tree address argument is zero"),
            Self::Misaligned(addr) => {
                write!(
                    f,
                    "device-tree address {addr:#x} is not 8-byte aligned (DTSpec 5.6)"
                )
            }
            Self::TooLarge => {
                f.write_str("device-tree address is beyond the 48-bit physical address space")
            }
        }
    }
}

impl core::error::Error for DtbArgError {}

/// Parses U-Boot's `argv[0]` into the physical address of the FDT blob.
///
/// Accepts bare hex or hex with a `0x`/`0X` prefix, with surrounding ASCII
/// whitespace ignored. Leading zeros are fine; the value must be non-zero,
/// below 2^48 and 8-byte aligned.
pub fn parse_dtb_address(arg: Option<&[u8]>) -> Result<u64, DtbArgError> {
    let arg = arg.ok_or(DtbArgError::Missing)?.trim_ascii();
    if arg.is_empty() {
        return Err(DtbArgError::Missing);
    }
    let digits = match arg {
        [b'0', b'x' | b'X', rest @ ..] => rest,
        _ => arg,
    };
    if digits.is_empty() {
        return Err(DtbArgError::NotHex);
    }

    let mut value: u64 = 0;
    for &c in digits {
        let nibble = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(DtbArgError::NotHex),
        };
        // More than 16 significant digits overflows u64: certainly too large,
        // unless the rest of the argument is garbage anyway.
        value = match value.checked_mul(16) {
            Some(v) => v | u64::from(nibble),
            None => return Err(too_large_or_not_hex(digits)),
        };
    }

    if value == 0 {
        Err(DtbArgError::Zero)
    } else if value >= MAX_PHYS_ADDR_EXCLUSIVE {
        Err(DtbArgError::TooLarge)
    } else if !value.is_multiple_of(DTB_ALIGN) {
        Err(DtbArgError::Misaligned(value))
    } else {
        Ok(value)
    }
}

/// On overflow, report garbage as `NotHex` rather than `TooLarge`.
fn too_large_or_not_hex(digits: &[u8]) -> DtbArgError {
    if digits.iter().all(u8::is_ascii_hexdigit) {
        DtbArgError::TooLarge
    } else {
        DtbArgError::NotHex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<u64, DtbArgError> {
        parse_dtb_address(Some(s.as_bytes()))
    }

    #[test]
    fn accepts_uboot_and_prefixed_forms() {
        assert_eq!(p("40000000"), Ok(0x4000_0000));
        assert_eq!(p("0x40000000"), Ok(0x4000_0000));
        assert_eq!(p("0X40000000"), Ok(0x4000_0000));
        assert_eq!(p("7ede7e50"), Ok(0x7ede_7e50));
        assert_eq!(p("7EDE7E50"), Ok(0x7ede_7e50));
        assert_eq!(p("000000007ede7e50"), Ok(0x7ede_7e50));
        assert_eq!(p(" 7ede7e50\n"), Ok(0x7ede_7e50));
        assert_eq!(p("fffffffffff8"), Ok(0xffff_ffff_fff8));
    }

    #[test]
    fn missing_and_empty() {
        assert_eq!(parse_dtb_address(None), Err(DtbArgError::Missing));
        assert_eq!(p(""), Err(DtbArgError::Missing));
        assert_eq!(p("   "), Err(DtbArgError::Missing));
    }

    #[test]
    fn not_hex() {
        assert_eq!(p("zz"), Err(DtbArgError::NotHex));
        assert_eq!(p("0x"), Err(DtbArgError::NotHex));
        assert_eq!(p("40000000g"), Err(DtbArgError::NotHex));
        assert_eq!(p("-40000000"), Err(DtbArgError::NotHex));
        assert_eq!(p("0x0x40"), Err(DtbArgError::NotHex));
        assert_eq!(p("4000 0000"), Err(DtbArgError::NotHex));
        assert_eq!(p("ffffffffffffffffffzz"), Err(DtbArgError::NotHex));
    }

    #[test]
    fn zero_misaligned_and_huge() {
        assert_eq!(p("0"), Err(DtbArgError::Zero));
        assert_eq!(p("0x0000"), Err(DtbArgError::Zero));
        assert_eq!(p("40000004"), Err(DtbArgError::Misaligned(0x4000_0004)));
        assert_eq!(p("1"), Err(DtbArgError::Misaligned(1)));
        assert_eq!(p("1000000000000"), Err(DtbArgError::TooLarge)); // exactly 2^48
        assert_eq!(p("ffffffffffffffff"), Err(DtbArgError::TooLarge));
        assert_eq!(p("10000000000000000"), Err(DtbArgError::TooLarge)); // 2^64
        assert_eq!(p(&"f".repeat(100)), Err(DtbArgError::TooLarge));
    }

    #[test]
    fn display_is_one_line() {
        for e in [
            DtbArgError::Missing,
            DtbArgError::NotHex,
            DtbArgError::Zero,
            DtbArgError::Misaligned(0x4000_0004),
            DtbArgError::TooLarge,
        ] {
            let s = e.to_string();
            assert!(!s.is_empty() && !s.contains('\n'));
        }
        assert!(DtbArgError::Misaligned(0x4000_0004)
            .to_string()
            .contains("0x40000004"));
    }
}
