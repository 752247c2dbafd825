//! MMIO access-shape checks shared by the device models.
//!
//! A trapped access arrives as (offset, size) decoded from the stage-2 abort
//! syndrome. Device memory requires natural alignment, so a well-behaved
//! guest never produces anything else; the checks here turn the rest into a
//! typed error instead of a silent mis-emulation.

use crate::AccessError;

/// Accepts 1, 2, 4 or 8-byte accesses at a multiple of their size.
pub(crate) fn check(offset: u64, size: u8) -> Result<(), AccessError> {
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(AccessError::BadWidth { offset, size });
    }
    if !offset.is_multiple_of(u64::from(size)) {
        return Err(AccessError::Misaligned { offset, size });
    }
    Ok(())
}

/// Fails unless `size` is one of `allowed`.
pub(crate) fn require(offset: u64, size: u8, allowed: &[u8]) -> Result<(), AccessError> {
    if allowed.contains(&size) {
        Ok(())
    } else {
        Err(AccessError::BadWidth { offset, size })
    }
}

/// All-ones mask for an access of `size` bytes (at most 8).
pub(crate) fn width_mask(size: u8) -> u64 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        4 => 0xffff_ffff,
        _ => u64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(check(0x10, 4).is_ok());
        assert!(check(0x11, 1).is_ok());
        assert_eq!(
            check(0x12, 4),
            Err(AccessError::Misaligned {
                offset: 0x12,
                size: 4
            })
        );
        assert_eq!(
            check(0, 3),
            Err(AccessError::BadWidth { offset: 0, size: 3 })
        );
        assert!(require(0, 4, &[4, 8]).is_ok());
        assert!(require(0, 1, &[4]).is_err());
        assert_eq!(width_mask(2), 0xffff);
    }
}
