//! The hypervisor's own EL2 stage-1 translation (4K granule, 39-bit VA).
//!
//! We run identity-mapped: VA == PA. RAM (from the DTB) is Normal write-back
//! memory, everything else is Device-nGnRnE and execute-never, so that the
//! CPU never speculatively fetches from MMIO (Arm ARM B2.7.2). Running with
//! the MMU off is not an option: all data accesses would then be Device
//! accesses, where exclusives (our spin locks) are not guaranteed to work.

pub mod desc;
#[cfg(target_arch = "aarch64")]
mod hw;
pub mod identity;

#[cfg(target_arch = "aarch64")]
pub use hw::{enable_el2, enable_el2_at};

/// One translation table: 512 descriptors, 4 KiB, naturally aligned.
#[repr(C, align(4096))]
#[derive(Clone)]
pub struct Table(pub [u64; 512]);

impl Table {
    pub const fn empty() -> Self {
        Self([0; 512])
    }
}

impl Default for Table {
    fn default() -> Self {
        Self::empty()
    }
}

/// MAIR_EL2 attribute indices used by our descriptors (Arm ARM D19.2.97).
pub mod attr {
    /// Device-nGnRnE.
    pub const DEVICE: u64 = 0;
    /// Normal, inner/outer write-back, read/write-allocate, non-transient.
    pub const NORMAL: u64 = 1;
    /// Normal, non-cacheable.
    pub const NORMAL_NC: u64 = 2;
    /// MAIR_EL2 value giving the indices above their meaning.
    pub const MAIR: u64 = (0xff << 8) | (0x44 << 16); // index 0 = 0x00
}

/// Input-address bits we translate: T0SZ = 64 - 39 gives a level-1 start
/// with 512 entries of 1 GiB (Arm ARM D8.2.6, 4K granule).
pub const VA_BITS: u32 = 39;

/// TCR_EL2 for a non-VHE EL2 (HCR_EL2.E2H = 0, Arm ARM D19.2.139):
/// T0SZ, inner/outer WBWA walks, inner shareable, 4K granule, and PS taken
/// from ID_AA64MMFR0_EL1.PARange (clamped to 48 bits: we do not use LPA).
pub fn tcr_el2(id_aa64mmfr0: u64) -> u64 {
    let parange = (id_aa64mmfr0 & 0xf).min(0b101);
    let t0sz = (64 - VA_BITS) as u64;
    let irgn0 = 0b01 << 8;
    let orgn0 = 0b01 << 10;
    let sh0 = 0b11 << 12;
    let tg0_4k = 0b00 << 14;
    let res1 = (1 << 31) | (1 << 23);
    t0sz | irgn0 | orgn0 | sh0 | tg0_4k | (parange << 16) | res1
}

/// Physical address bits for an ID_AA64MMFR0_EL1.PARange value.
pub fn pa_bits(id_aa64mmfr0: u64) -> u32 {
    match id_aa64mmfr0 & 0xf {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        5 => 48,
        _ => 52,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcr_fields() {
        let tcr = tcr_el2(0x5);
        assert_eq!(tcr & 0x3f, 25);
        assert_eq!((tcr >> 16) & 0x7, 5);
        assert_eq!((tcr >> 14) & 0x3, 0, "4K granule");
        assert_ne!(tcr & (1 << 31), 0);
        assert_ne!(tcr & (1 << 23), 0);
        // PARange values above 48 bits are clamped.
        assert_eq!((tcr_el2(0x6) >> 16) & 0x7, 5);
        assert_eq!((tcr_el2(0x2) >> 16) & 0x7, 2);
    }

    #[test]
    fn parange_bits() {
        assert_eq!(pa_bits(0x2), 40);
        assert_eq!(pa_bits(0x1_0005), 48);
    }
}
