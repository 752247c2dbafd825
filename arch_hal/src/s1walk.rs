//! A software walk of a guest's stage-1 translation (VMSAv8-64, Arm ARM
//! D8.2), for the debugger: it translates a guest virtual address with the
//! translation registers a vCPU saved when it stopped, so any vCPU's view of
//! memory can be read from any CPU (`AT S12E1R` would only see the calling
//! CPU's own registers).
//!
//! Access permissions are deliberately ignored (a debugger reads what the
//! guest kernel could map); only validity and the output address matter.

/// The EL1&0 translation registers of one vCPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct S1Regs {
    pub sctlr: u64,
    pub tcr: u64,
    pub ttbr0: u64,
    pub ttbr1: u64,
}

/// Why a virtual address has no translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// Outside both TTBR0's and TTBR1's ranges, or that half is disabled
    /// (TCR_EL1.EPDx).
    OutOfRange,
    /// A descriptor on the way is invalid (a translation fault).
    NotMapped { level: i8 },
    /// A descriptor could not be read (its IPA is not guest RAM).
    TableUnreadable { ipa: u64 },
    /// TCR_EL1 holds a reserved granule or size.
    BadTcr,
}

/// A successful translation: the IPA and the size of the mapping (page or
/// block) that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub ipa: u64,
    pub block_size: u64,
}

impl Translation {
    /// Bytes from `ipa` to the end of its page or block.
    pub fn bytes_left(&self) -> u64 {
        self.block_size - (self.ipa & (self.block_size - 1))
    }
}

const SCTLR_M: u64 = 1;
const TCR_EPD0: u64 = 1 << 7;
const TCR_EPD1: u64 = 1 << 23;
const TCR_TBI0: u64 = 1 << 37;
const TCR_TBI1: u64 = 1 << 38;
/// FEAT_LPA2 descriptor format (TCR_EL1.DS, D8.3.1).
const TCR_DS: u64 = 1 << 59;

/// Translates `va`. `read` returns the 64-bit descriptor at an IPA (the
/// caller applies stage 2), or `None` if it cannot.
pub fn translate(
    regs: &S1Regs,
    va: u64,
    mut read: impl FnMut(u64) -> Option<u64>,
) -> Result<Translation, WalkError> {
    if regs.sctlr & SCTLR_M == 0 {
        // Stage 1 off: VA == IPA (D8.2.11).
        return Ok(Translation {
            ipa: va,
            block_size: 1 << 12,
        });
    }
    let tcr = regs.tcr;
    let upper = va & (1 << 55) != 0;
    let (tsz, granule_shift, tbi, disabled, ttbr) = if upper {
        let g = match (tcr >> 30) & 3 {
            1 => 14,
            2 => 12,
            3 => 16,
            _ => return Err(WalkError::BadTcr),
        };
        (
            (tcr >> 16) & 0x3f,
            g,
            tcr & TCR_TBI1 != 0,
            tcr & TCR_EPD1 != 0,
            regs.ttbr1,
        )
    } else {
        let g = match (tcr >> 14) & 3 {
            0 => 12,
            1 => 16,
            2 => 14,
            _ => return Err(WalkError::BadTcr),
        };
        (
            tcr & 0x3f,
            g,
            tcr & TCR_TBI0 != 0,
            tcr & TCR_EPD0 != 0,
            regs.ttbr0,
        )
    };
    if disabled {
        return Err(WalkError::OutOfRange);
    }
    let input_bits = 64u32.saturating_sub(tsz as u32);
    if !(16..=52).contains(&input_bits) {
        return Err(WalkError::BadTcr);
    }
    // Bits above the input size must all equal bit 55 (the top byte is
    // ignored when TBIx is set).
    let top = if tbi { 56 } else { 64 };
    let high = va >> input_bits;
    let width = top - input_bits;
    let expect = if upper { (1u64 << width) - 1 } else { 0 };
    if high & ((1u64 << width) - 1) != expect {
        return Err(WalkError::OutOfRange);
    }
    let lpa2 = tcr & TCR_DS != 0;
    let stride = granule_shift - 3;
    let levels = (input_bits - granule_shift).div_ceil(stride);
    let mut table = ttbr_base(ttbr, lpa2);
    let mut remaining = levels;
    let mut level = 4 - levels as i8;
    loop {
        let shift = granule_shift + stride * (remaining - 1);
        let index_bits = (input_bits - shift).min(stride);
        let index = (va >> shift) & ((1u64 << index_bits) - 1);
        let desc_ipa = table + index * 8;
        let desc = read(desc_ipa).ok_or(WalkError::TableUnreadable { ipa: desc_ipa })?;
        if desc & 1 == 0 {
            return Err(WalkError::NotMapped { level });
        }
        let is_table = desc & 2 != 0;
        let out = output_address(desc, lpa2);
        if remaining == 1 {
            // Last level: bit 1 set means a page; clear is reserved.
            if !is_table {
                return Err(WalkError::NotMapped { level });
            }
            let size = 1u64 << granule_shift;
            return Ok(Translation {
                ipa: (out & !(size - 1)) | (va & (size - 1)),
                block_size: size,
            });
        }
        if !is_table {
            let size = 1u64 << shift;
            return Ok(Translation {
                ipa: (out & !(size - 1)) | (va & (size - 1)),
                block_size: size,
            });
        }
        table = out & !((1u64 << granule_shift) - 1);
        remaining -= 1;
        level += 1;
    }
}

/// The table base in a TTBR (BADDR; ASID and CnP stripped).
fn ttbr_base(ttbr: u64, lpa2: bool) -> u64 {
    let base = ttbr & 0x0000_ffff_ffff_ffc0;
    if lpa2 {
        // BADDR[51:48] sits in TTBR bits [5:2] (D19.2.155).
        (base & !0x3f) | ((ttbr & 0x3c) << 46)
    } else {
        base
    }
}

/// The output address of a table, block or page descriptor.
fn output_address(desc: u64, lpa2: bool) -> u64 {
    let oa = desc & 0x0000_ffff_ffff_f000;
    if lpa2 {
        (oa & 0x0003_ffff_ffff_f000) | ((desc >> 8) & 3) << 50
    } else {
        oa
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A sparse guest memory of descriptors.
    struct Mem(HashMap<u64, u64>);

    impl Mem {
        fn read(&self, ipa: u64) -> Option<u64> {
            self.0.get(&ipa).copied().or(Some(0))
        }
    }

    // Linux's usual arm64 set-up: 4K granule, 48-bit VAs both halves.
    const TCR_4K_48: u64 = 16 | (16 << 16) | (2 << 30);
    const TABLE: u64 = 0b11;
    const PAGE: u64 = 0b11 | (1 << 10);
    const BLOCK: u64 = 0b01 | (1 << 10);

    fn regs(tcr: u64) -> S1Regs {
        S1Regs {
            sctlr: 1,
            tcr,
            ttbr0: 0x4000_0000,
            ttbr1: 0x4010_0000 | (5 << 48), // ASID bits are ignored
        }
    }

    #[test]
    fn mmu_off_is_identity() {
        let r = S1Regs::default();
        let t = translate(&r, 0x4123_4567, |_| None).unwrap();
        assert_eq!(t.ipa, 0x4123_4567);
    }

    #[test]
    fn four_level_page_walk_in_the_upper_half() {
        let va: u64 = 0xffff_8000_8012_3456;
        let idx = |shift: u32| (va >> shift) & 0x1ff;
        let mut m = HashMap::new();
        m.insert(0x4010_0000 + idx(39) * 8, 0x4020_0000 | TABLE);
        m.insert(0x4020_0000 + idx(30) * 8, 0x4030_0000 | TABLE);
        m.insert(0x4030_0000 + idx(21) * 8, 0x4040_0000 | TABLE);
        m.insert(0x4040_0000 + idx(12) * 8, 0x4555_5000 | PAGE | (1 << 53));
        let mem = Mem(m);
        let t = translate(&regs(TCR_4K_48), va, |a| mem.read(a)).unwrap();
        assert_eq!(t.ipa, 0x4555_5456);
        assert_eq!(t.block_size, 4096);
        assert_eq!(t.bytes_left(), 4096 - 0x456);
    }

    #[test]
    fn two_mib_block_in_the_lower_half() {
        let va: u64 = 0x0000_0000_0040_1234;
        let mut m = HashMap::new();
        m.insert(0x4000_0000, 0x4020_0000 | TABLE); // L0[0]
        m.insert(0x4020_0000, 0x4030_0000 | TABLE); // L1[0]
        m.insert(0x4030_0000 + 2 * 8, 0x4860_0000 | BLOCK); // L2[2]
        let mem = Mem(m);
        let t = translate(&regs(TCR_4K_48), va, |a| mem.read(a)).unwrap();
        assert_eq!(t.ipa, 0x4860_1234);
        assert_eq!(t.block_size, 2 << 20);
    }

    #[test]
    fn invalid_descriptor_reports_its_level() {
        let mem = Mem(HashMap::new());
        let e = translate(&regs(TCR_4K_48), 0xffff_8000_0000_0000, |a| mem.read(a));
        assert_eq!(e, Err(WalkError::NotMapped { level: 0 }));
    }

    #[test]
    fn non_canonical_addresses_are_out_of_range() {
        let mem = Mem(HashMap::new());
        for va in [0x0001_0000_0000_0000u64, 0xfff0_0000_0000_0000 & !(1 << 55)] {
            assert_eq!(
                translate(&regs(TCR_4K_48), va, |a| mem.read(a)),
                Err(WalkError::OutOfRange),
                "{va:#x}"
            );
        }
        // Top-byte-ignore lets a tagged pointer through.
        let tagged = 0x5a00_0000_0000_1000u64;
        let e = translate(&regs(TCR_4K_48 | TCR_TBI0), tagged, |a| mem.read(a));
        assert_eq!(e, Err(WalkError::NotMapped { level: 0 }));
    }

    #[test]
    fn disabled_half_and_reserved_granule() {
        let mem = Mem(HashMap::new());
        let e = translate(&regs(TCR_4K_48 | TCR_EPD0), 0x1000, |a| mem.read(a));
        assert_eq!(e, Err(WalkError::OutOfRange));
        let bad = 16 | (16 << 16); // TG1 = 0 is reserved
        let e = translate(&regs(bad), 0xffff_8000_0000_0000, |a| mem.read(a));
        assert_eq!(e, Err(WalkError::BadTcr));
    }

    #[test]
    fn unreadable_table_is_reported() {
        let e = translate(&regs(TCR_4K_48), 0x1000, |_| None);
        assert_eq!(e, Err(WalkError::TableUnreadable { ipa: 0x4000_0000 }));
    }

    #[test]
    fn three_level_64k_granule() {
        // 64K granule, 48-bit: levels 1..3, 13 bits per level.
        let tcr = 16 | (1 << 14);
        let va: u64 = 0x0000_1234_5678_9abc;
        let l1 = (va >> 42) & 0x3f;
        let l2 = (va >> 29) & 0x1fff;
        let l3 = (va >> 16) & 0x1fff;
        let mut m = HashMap::new();
        m.insert(0x4000_0000 + l1 * 8, 0x4100_0000 | TABLE);
        m.insert(0x4100_0000 + l2 * 8, 0x4200_0000 | TABLE);
        m.insert(0x4200_0000 + l3 * 8, 0x4a00_0000 | PAGE);
        let mem = Mem(m);
        let t = translate(&regs(tcr), va, |a| mem.read(a)).unwrap();
        assert_eq!(t.ipa, 0x4a00_9abc);
        assert_eq!(t.block_size, 64 << 10);
    }

    #[test]
    fn three_level_39_bit_4k() {
        let tcr = 25 | (25 << 16) | (2 << 30);
        let va: u64 = 0xffff_ffc0_0020_0010;
        let mut m = HashMap::new();
        let l1 = (va >> 30) & 0x1ff;
        m.insert(0x4010_0000 + l1 * 8, 0x4020_0000 | TABLE);
        m.insert(0x4020_0000 + 8, 0x4060_0000 | BLOCK);
        let mem = Mem(m);
        let t = translate(&regs(tcr), va, |a| mem.read(a)).unwrap();
        assert_eq!(t.ipa, 0x4060_0010);
    }

    /// Garbage registers and tables never panic.
    #[test]
    fn random_inputs_do_not_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let r = S1Regs {
                sctlr: next() | 1,
                tcr: next(),
                ttbr0: next(),
                ttbr1: next(),
            };
            let va = next();
            let mut depth = 0;
            let _ = translate(&r, va, |_| {
                depth += 1;
                Some(if depth < 6 { 0x4000_0003 } else { 0 })
            });
        }
    }
}
