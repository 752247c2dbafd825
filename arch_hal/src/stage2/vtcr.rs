//! VTCR_EL2 and VTTBR_EL2 values (Arm ARM D19.2, "VTCR_EL2" and
//! "VTTBR_EL2"; start level and concatenation rules in D8.2, "Concatenated
//! translation tables at the initial lookup level").
//!
//! IPA size choice: 40 bits (1 TiB) by default, or less if the CPU's PARange
//! is smaller (T0SZ may not describe an IPA space wider than the PA size).
//! With a 4 KiB granule a 40-bit IPA starts at level 1 with two concatenated
//! tables: three lookups to a 4 KiB page instead of four with a level-0
//! start. 1 TiB holds QEMU `virt`'s whole memory map (RAM from 1 GiB,
//! the high PCIe windows at 256/512 GiB) and the Pi 5's. Wider spaces can
//! be requested with [`vtcr_el2_for`]; above 42 bits they start at level 0.

use super::Stage2Error;
use crate::mmu::pa_bits;

/// IPA bits [`vtcr_el2`] uses when the CPU's PA size allows.
pub const DEFAULT_IPA_BITS: u32 = 40;

/// A VTCR_EL2 value and the table geometry it implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vtcr {
    /// The register value.
    pub value: u64,
    /// Size of the IPA space (64 - T0SZ).
    pub ipa_bits: u32,
    /// Output address size from PS, clamped to 48 (no FEAT_LPA).
    pub pa_bits: u32,
    /// Initial lookup level (from SL0): 0 or 1.
    pub start_level: u8,
    /// Concatenated tables at the initial level (1, 2, 4 or 8).
    pub root_tables: usize,
}

/// VTCR_EL2 for the default IPA size: `min(PA size, 40)` bits.
pub fn vtcr_el2(id_aa64mmfr0: u64) -> Vtcr {
    let pa = pa_bits(id_aa64mmfr0).min(48);
    // PARange's smallest size is 32 bits, so this is always 32..=40.
    encode(pa.min(DEFAULT_IPA_BITS), pa, id_aa64mmfr0)
}

/// VTCR_EL2 for an explicit IPA size (32..=48 bits, at most the PA size).
pub fn vtcr_el2_for(id_aa64mmfr0: u64, ipa_bits: u32) -> Result<Vtcr, Stage2Error> {
    let pa = pa_bits(id_aa64mmfr0).min(48);
    if !(32..=48).contains(&ipa_bits) || ipa_bits > pa {
        return Err(Stage2Error::UnsupportedGeometry {
            ipa_bits,
            pa_bits: pa,
        });
    }
    Ok(encode(ipa_bits, pa, id_aa64mmfr0))
}

/// Encodes a geometry; `ipa_bits` must be 32..=48.
fn encode(ipa_bits: u32, pa_bits: u32, id_aa64mmfr0: u64) -> Vtcr {
    // Level 1 resolves IPA bits [38:30]; up to 3 extra bits are taken by
    // concatenating 2, 4 or 8 tables (T0SZ 21..=33 is legal for SL0 =
    // level 1). Beyond 42 bits, a level-0 start (T0SZ 16..=24) keeps the
    // root to a single 4 KiB table.
    let (start_level, root_tables, sl0) = match ipa_bits {
        32..=39 => (1u8, 1usize, 0b01u64),
        40..=42 => (1, 1 << (ipa_bits - 39), 0b01),
        _ => (0, 1, 0b10),
    };
    let t0sz = u64::from(64 - ipa_bits);
    // Walks are Normal inner/outer write-back read/write-allocate and inner
    // shareable, matching how the hypervisor maps the tables' memory.
    let irgn0 = 0b01 << 8;
    let orgn0 = 0b01 << 10;
    let sh0 = 0b11 << 12;
    let tg0_4k = 0b00 << 14;
    // PS: the PARange encoding, clamped to 48 bits (0b101).
    let ps = (id_aa64mmfr0 & 0xf).min(0b101) << 16;
    // VS (bit 19) = 0: 8-bit VMIDs. Bit 31 is RES1.
    let res1 = 1 << 31;
    let value = t0sz | (sl0 << 6) | irgn0 | orgn0 | sh0 | tg0_4k | ps | res1;
    Vtcr {
        value,
        ipa_bits,
        pa_bits,
        start_level,
        root_tables,
    }
}

/// VTTBR_EL2: BADDR = `root_pa` (bits [47:1], CnP = 0) and VMID in bits
/// [63:48]. With VTCR_EL2.VS = 0 only VMID[7:0] is used and VMID[15:8] must
/// be zero, so keep `vmid` below 256. `root_pa` must be aligned to the root's
/// size ([`crate::stage2::Stage2::root_pa`] is).
pub const fn vttbr_el2(root_pa: u64, vmid: u16) -> u64 {
    ((vmid as u64) << 48) | (root_pa & 0x0000_ffff_ffff_fffe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: u64) -> (u64, u64, u64, u64, u64, u64, u64, u64) {
        (
            v & 0x3f,
            (v >> 6) & 0b11,
            (v >> 8) & 0b11,
            (v >> 10) & 0b11,
            (v >> 12) & 0b11,
            (v >> 14) & 0b11,
            (v >> 16) & 0b111,
            (v >> 19) & 1,
        )
    }

    #[test]
    fn parange_40_bits() {
        let v = vtcr_el2(0x2);
        assert_eq!(
            (v.ipa_bits, v.pa_bits, v.start_level, v.root_tables),
            (40, 40, 1, 2)
        );
        //                    T0SZ SL0 IRGN ORGN SH  TG0 PS VS
        assert_eq!(fields(v.value), (24, 1, 1, 1, 3, 0, 2, 0));
        assert_ne!(v.value & (1 << 31), 0);
    }

    #[test]
    fn parange_48_bits_is_clamped_to_40_ipa() {
        let v = vtcr_el2(0x5);
        assert_eq!(
            (v.ipa_bits, v.pa_bits, v.start_level, v.root_tables),
            (40, 48, 1, 2)
        );
        assert_eq!(fields(v.value), (24, 1, 1, 1, 3, 0, 5, 0));
        // 52-bit PARange: PS stays at 48 bits.
        assert_eq!(fields(vtcr_el2(0x6).value).6, 5);
    }

    #[test]
    fn small_and_wide_spaces() {
        let v = vtcr_el2(0x0);
        assert_eq!((v.ipa_bits, v.start_level, v.root_tables), (32, 1, 1));
        assert_eq!(fields(v.value).0, 32);
        let v = vtcr_el2(0x1);
        assert_eq!((v.ipa_bits, v.root_tables), (36, 1));
        let v = vtcr_el2_for(0x5, 42).expect("42 bits fit");
        assert_eq!((v.start_level, v.root_tables), (1, 8));
        let v = vtcr_el2_for(0x5, 48).expect("48 bits fit");
        assert_eq!((v.start_level, v.root_tables), (0, 1));
        assert_eq!(fields(v.value).0, 16);
        assert_eq!(fields(v.value).1, 0b10);
        assert_eq!(
            vtcr_el2_for(0x2, 44),
            Err(Stage2Error::UnsupportedGeometry {
                ipa_bits: 44,
                pa_bits: 40
            })
        );
    }

    #[test]
    fn vttbr_layout() {
        assert_eq!(vttbr_el2(0x4100_2000, 1), (1 << 48) | 0x4100_2000);
        assert_eq!(vttbr_el2(0x4100_2001, 0xff) & 1, 0, "CnP stays clear");
    }
}
