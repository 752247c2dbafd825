//! Data-abort decoding for MMIO emulation. Pure logic, tested on the host.
//!
//! A guest load/store to an IPA with no stage-2 mapping traps to EL2 as a
//! Data Abort from a lower EL (ESR_EL2.EC = 0x24). Emulating it takes three
//! steps:
//!
//! 1. [`decode_esr`] classifies the abort and computes the faulting IPA.
//!    If the syndrome is valid (ISV = 1) it already describes the access
//!    ([`Syndrome::access`]).
//! 2. Otherwise (ISV = 0: writeback forms, pairs) the hypervisor fetches the
//!    instruction at ELR_EL2 and calls [`decode_instruction`], then
//!    [`Decoded::resolve`] to get the [`MmioAccess`].
//! 3. The device model reads or writes [`MmioAccess::store_data`], then
//!    [`MmioAccess::complete`] updates the guest registers (load result with
//!    sign/zero extension, base writeback). The caller advances ELR_EL2 by 4.
//!
//! Only general-purpose register accesses are emulated: SIMD&FP, exclusive,
//! atomic, literal, pointer-authenticated and tag accesses are refused with
//! [`DecodeError::Unsupported`], naming the instruction class.

use core::fmt;

// ---------------------------------------------------------------------------
// The access
// ---------------------------------------------------------------------------

/// Base-register update of a pre- or post-indexed access: the base becomes
/// `base + offset` after the access either way; `post_index` says whether
/// the access itself used the old base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Writeback {
    /// 0..=30, or 31 for SP.
    pub base_reg: u8,
    pub offset: i64,
    pub post_index: bool,
}

/// One emulated access: what the device model needs, and how to finish the
/// instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioAccess {
    /// IPA of the first byte.
    pub ipa: u64,
    /// Bytes per register: 1, 2, 4 or 8.
    pub size: u8,
    pub write: bool,
    /// Transfer register: 0..=30, or 31 for the zero register.
    pub reg: u8,
    /// Loads: sign-extend the `size`-byte value (LDRS*, LDPSW).
    pub sign_extend: bool,
    /// The register is an X register (else W: the upper 32 bits are zeroed).
    pub reg_is_64: bool,
    pub writeback: Option<Writeback>,
    /// LDP/STP second register (31 = zero register), accessed at
    /// `ipa + size` with the same size and extension.
    pub pair: Option<u8>,
}

/// The guest's general-purpose registers as the caller saved them. `sp` is
/// the stack pointer the guest was using (SP_EL1 or SP_EL0, per SPSR_EL2.M).
pub struct Regs<'a> {
    pub x: &'a mut [u64; 31],
    pub sp: &'a mut u64,
}

impl Regs<'_> {
    /// A transfer/index register: 31 reads as zero (XZR).
    fn rt(&self, n: u8) -> u64 {
        self.x.get(usize::from(n)).copied().unwrap_or(0)
    }

    /// Writes a transfer register; writes to XZR are discarded.
    fn set_rt(&mut self, n: u8, v: u64) {
        if let Some(r) = self.x.get_mut(usize::from(n)) {
            *r = v;
        }
    }

    /// A base register: 31 is SP.
    fn base(&self, n: u8) -> u64 {
        self.x.get(usize::from(n)).copied().unwrap_or(*self.sp)
    }

    fn set_base(&mut self, n: u8, v: u64) {
        match self.x.get_mut(usize::from(n)) {
            Some(r) => *r = v,
            None => *self.sp = v,
        }
    }
}

impl MmioAccess {
    /// Bytes covered, both registers of a pair included.
    pub fn total_bytes(&self) -> u64 {
        u64::from(self.size) * if self.pair.is_some() { 2 } else { 1 }
    }

    /// For a store: the value(s) to write, truncated to `size` bytes (the
    /// second element is for `pair`, 0 otherwise).
    pub fn store_data(&self, regs: &Regs) -> [u64; 2] {
        let m = size_mask(self.size);
        [
            regs.rt(self.reg) & m,
            self.pair.map_or(0, |r| regs.rt(r) & m),
        ]
    }

    /// Finishes the instruction: for a load, writes `loaded` (the device's
    /// value(s), `size` bytes each) to the register(s) with the required
    /// extension; then applies the base writeback. Writes to the zero
    /// register are discarded. Does not advance the PC.
    pub fn complete(&self, regs: &mut Regs, loaded: [u64; 2]) {
        if !self.write {
            regs.set_rt(self.reg, self.extend(loaded[0]));
            if let Some(r) = self.pair {
                regs.set_rt(r, self.extend(loaded[1]));
            }
        }
        if let Some(wb) = self.writeback {
            let new = regs.base(wb.base_reg).wrapping_add(wb.offset as u64);
            regs.set_base(wb.base_reg, new);
        }
    }

    /// Load result as the register sees it: the LDR*/LDRS*/LDP pseudocode
    /// (Arm ARM C6.2) sign- or zero-extends to the register width, and the
    /// `X[n, 32]` setter (shared pseudocode, J1) zero-extends a W write.
    fn extend(&self, v: u64) -> u64 {
        let bits = u32::from(self.size) * 8;
        let v = v & size_mask(self.size);
        let v = if self.sign_extend && bits < 64 {
            (((v << (64 - bits)) as i64) >> (64 - bits)) as u64
        } else {
            v
        };
        if self.reg_is_64 {
            v
        } else {
            v & 0xffff_ffff
        }
    }
}

fn size_mask(size: u8) -> u64 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        4 => 0xffff_ffff,
        _ => u64::MAX,
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Instruction classes we recognise but do not emulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsnClass {
    /// Loads/stores of SIMD&FP registers: the hypervisor never touches the
    /// guest's FP/SIMD state (it is built soft-float).
    SimdFp,
    /// LDXR/STXR/LDAXP...: the exclusive monitor cannot be emulated on MMIO.
    Exclusive,
    /// LSE atomics (LDADD, SWP, CAS, CASP) and LDAPR.
    Atomic,
    /// PC-relative literal loads: code does not run from MMIO.
    Literal,
    /// PRFM: a prefetch never faults, so it should not be here.
    Prefetch,
    /// LDRAA/LDRAB.
    PointerAuth,
    /// MTE tag loads/stores (STG, LDG, STGP...).
    MemoryTag,
    /// An unallocated encoding in a load/store group.
    Unallocated,
    /// Any other load/store (RCpc unscaled, LRCPC3, GCS...).
    Other,
}

impl InsnClass {
    fn name(self) -> &'static str {
        match self {
            Self::SimdFp => "SIMD&FP load/store",
            Self::Exclusive => "load/store exclusive",
            Self::Atomic => "atomic memory operation",
            Self::Literal => "load literal",
            Self::Prefetch => "prefetch",
            Self::PointerAuth => "pointer-authenticated load",
            Self::MemoryTag => "memory tagging load/store",
            Self::Unallocated => "unallocated load/store encoding",
            Self::Other => "load/store form",
        }
    }
}

/// Why an abort could not be turned into an [`MmioAccess`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// ESR_EL2.EC is not 0x24 (Data Abort from a lower EL).
    NotDataAbort { ec: u8 },
    /// The instruction is not in the A64 "Loads and Stores" group.
    NotLoadStore { insn: u32 },
    /// A load/store we do not emulate.
    Unsupported { insn: u32, class: InsnClass },
    /// CONSTRAINED UNPREDICTABLE: writeback onto a transfer register, or
    /// LDP into the same register twice.
    Unpredictable { insn: u32 },
    /// ESR_EL2.FnV = 1: FAR_EL2 (hence the IPA's page offset) is unknown.
    FarNotValid,
    /// ESR_EL2.WnR disagrees with the fetched instruction (the guest changed
    /// its code since the abort).
    DirectionMismatch,
    /// FAR_EL2 is not inside the access the instruction makes.
    InconsistentFar { far: u64, va: u64 },
    /// The access spans two pages, whose IPAs need not be contiguous.
    CrossesPage { ipa: u64, len: u64 },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotDataAbort { ec } => {
                write!(f, "ESR_EL2.EC {ec:#x} is not a data abort from a lower EL")
            }
            Self::NotLoadStore { insn } => write!(f, "{insn:#010x} is not a load/store"),
            Self::Unsupported { insn, class } => {
                write!(f, "{insn:#010x}: {} is not emulated for MMIO", class.name())
            }
            Self::Unpredictable { insn } => write!(
                f,
                "{insn:#010x}: CONSTRAINED UNPREDICTABLE register overlap"
            ),
            Self::FarNotValid => write!(f, "data abort with FAR_EL2 not valid (FnV)"),
            Self::DirectionMismatch => write!(
                f,
                "instruction direction disagrees with ESR_EL2.WnR (code modified?)"
            ),
            Self::InconsistentFar { far, va } => {
                write!(f, "FAR_EL2 {far:#x} is outside the access at {va:#x}")
            }
            Self::CrossesPage { ipa, len } => {
                write!(
                    f,
                    "MMIO access of {len} bytes at IPA {ipa:#x} crosses a page"
                )
            }
        }
    }
}

// ---------------------------------------------------------------------------
// ESR_EL2 / FAR_EL2 / HPFAR_EL2
// ---------------------------------------------------------------------------

/// ESR_EL2.EC for a Data Abort taken from a lower Exception level.
pub const EC_DATA_ABORT_LOWER: u8 = 0x24;

/// Fault status (ESR_EL2.ISS.DFSC). Levels are lookup levels, -1 only with
/// FEAT_LPA2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    AddressSize {
        level: i8,
    },
    /// The usual MMIO trap: no stage-2 mapping for the IPA.
    Translation {
        level: i8,
    },
    AccessFlag {
        level: i8,
    },
    Permission {
        level: i8,
    },
    /// Synchronous external abort, not on a table walk.
    SyncExternal,
    /// Synchronous external abort on a table walk.
    SyncExternalOnWalk {
        level: i8,
    },
    Alignment,
    TlbConflict,
    /// Any other DFSC value (parity/ECC, tag check, lockdown...).
    Other(u8),
}

impl FaultKind {
    /// DFSC encodings: "ISS encoding for an exception from a Data Abort",
    /// ESR_EL2 (Arm ARM D19.2).
    pub fn from_dfsc(dfsc: u8) -> Self {
        let level = (dfsc & 0b11) as i8;
        match dfsc & 0x3f {
            0b00_0000..=0b00_0011 => Self::AddressSize { level },
            0b10_1001 => Self::AddressSize { level: -1 },
            0b00_0100..=0b00_0111 => Self::Translation { level },
            0b10_1011 => Self::Translation { level: -1 },
            0b00_1000..=0b00_1011 => Self::AccessFlag { level },
            0b00_1100..=0b00_1111 => Self::Permission { level },
            0b01_0000 => Self::SyncExternal,
            0b01_0011 => Self::SyncExternalOnWalk { level: -1 },
            0b01_0100..=0b01_0111 => Self::SyncExternalOnWalk { level },
            0b10_0001 => Self::Alignment,
            0b11_0000 => Self::TlbConflict,
            other => Self::Other(other),
        }
    }
}

/// A decoded Data Abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syndrome {
    /// Faulting IPA: HPFAR_EL2.FIPA with FAR_EL2's page offset. Valid for
    /// translation, access flag and address size faults and when `s1ptw`;
    /// for a stage-2 permission fault HPFAR_EL2 may be UNKNOWN (see
    /// [`Syndrome::ipa_valid`]).
    pub ipa: u64,
    /// FAR_EL2: the faulting virtual address.
    pub far: u64,
    /// ESR_EL2.FnV clear: `far` (and the low bits of `ipa`) are valid.
    pub far_valid: bool,
    pub fault: FaultKind,
    /// ESR_EL2.WnR: the access was a write (or a cache maintenance op).
    pub write: bool,
    /// ESR_EL2.S1PTW: the fault is on stage 2 of a stage-1 table walk.
    pub s1ptw: bool,
    /// ESR_EL2.CM: caused by a cache maintenance instruction (DC ...).
    pub cache_maintenance: bool,
    /// ESR_EL2.EA: external abort type (implementation defined).
    pub external: bool,
    /// ESR_EL2.ISV: the syndrome describes the access.
    pub isv: bool,
    /// The access, when `isv` and `far_valid` (ESR_EL2.SAS/SSE/SRT/SF/AR).
    pub access: Option<MmioAccess>,
    /// ESR_EL2.AR (ISV only): load-acquire / store-release.
    pub acquire_release: bool,
}

impl Syndrome {
    /// Whether HPFAR_EL2 holds the faulting IPA (Arm ARM D19.2.58,
    /// HPFAR_EL2): not for permission faults outside a stage-1 walk.
    pub fn ipa_valid(&self) -> bool {
        self.s1ptw
            || matches!(
                self.fault,
                FaultKind::Translation { .. }
                    | FaultKind::AccessFlag { .. }
                    | FaultKind::AddressSize { .. }
            )
    }

    /// A stage-2 translation fault on a data access by the guest's own
    /// load/store: the case to hand to MMIO emulation.
    pub fn is_mmio_candidate(&self) -> bool {
        matches!(self.fault, FaultKind::Translation { .. })
            && !self.s1ptw
            && !self.cache_maintenance
            && self.far_valid
    }
}

/// HPFAR_EL2.FIPA, bits [47:4]: IPA[55:12] in its widest form. Without
/// FEAT_LPA only bits [39:4] (IPA[47:12]) are implemented, the rest RES0.
const HPFAR_FIPA: u64 = 0x0000_ffff_ffff_fff0;

/// Decodes a Data Abort from a lower EL: ESR_EL2, FAR_EL2 and HPFAR_EL2
/// as read on entry. IPA = (HPFAR_EL2.FIPA << 12) | FAR_EL2[11:0]
/// (Arm ARM D19.2.58).
pub fn decode_esr(esr: u64, far: u64, hpfar: u64) -> Result<Syndrome, DecodeError> {
    let ec = ((esr >> 26) & 0x3f) as u8;
    if ec != EC_DATA_ABORT_LOWER {
        return Err(DecodeError::NotDataAbort { ec });
    }
    let bit = |n: u32| esr & (1 << n) != 0;
    let ipa = ((hpfar & HPFAR_FIPA) << 8) | (far & 0xfff);
    let far_valid = !bit(10);
    let write = bit(6);
    let isv = bit(24);
    let access = (isv && far_valid).then(|| MmioAccess {
        ipa,
        size: 1 << ((esr >> 22) & 0b11),
        write,
        reg: ((esr >> 16) & 0x1f) as u8,
        sign_extend: bit(21) && !write,
        reg_is_64: bit(15),
        writeback: None,
        pair: None,
    });
    Ok(Syndrome {
        ipa,
        far,
        far_valid,
        fault: FaultKind::from_dfsc((esr & 0x3f) as u8),
        write,
        s1ptw: bit(7),
        cache_maintenance: bit(8),
        external: bit(9),
        isv,
        access,
        acquire_release: isv && bit(14),
    })
}

// ---------------------------------------------------------------------------
// Instruction decoding (ISV = 0)
// ---------------------------------------------------------------------------

/// Index register extension of a register-offset load/store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extend {
    Uxtw,
    /// LSL / UXTX: the 64-bit register as is.
    Lsl,
    Sxtw,
    Sxtx,
}

/// How the instruction forms its (first) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Address {
    /// `base + offset`; `base` 31 is SP. Post-indexed forms have offset 0.
    Immediate { base: u8, offset: i64 },
    /// `base + (extend(index) << shift)`; `index` 31 is XZR.
    Register {
        base: u8,
        index: u8,
        extend: Extend,
        shift: u8,
    },
}

/// A decoded load/store: everything of an [`MmioAccess`] but the IPA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub size: u8,
    pub write: bool,
    pub reg: u8,
    pub sign_extend: bool,
    pub reg_is_64: bool,
    pub pair: Option<u8>,
    pub address: Address,
    pub writeback: Option<Writeback>,
}

impl Decoded {
    /// The virtual address of the first byte accessed, from the registers
    /// as they were at the abort.
    pub fn virtual_address(&self, regs: &Regs) -> u64 {
        match self.address {
            Address::Immediate { base, offset } => regs.base(base).wrapping_add(offset as u64),
            Address::Register {
                base,
                index,
                extend,
                shift,
            } => {
                let i = regs.rt(index);
                let i = match extend {
                    Extend::Uxtw => i & 0xffff_ffff,
                    Extend::Sxtw => i as u32 as i32 as i64 as u64,
                    Extend::Lsl | Extend::Sxtx => i,
                };
                regs.base(base).wrapping_add(i << shift)
            }
        }
    }

    /// The access at a known IPA of its first byte.
    pub fn at(&self, ipa: u64) -> MmioAccess {
        MmioAccess {
            ipa,
            size: self.size,
            write: self.write,
            reg: self.reg,
            sign_extend: self.sign_extend,
            reg_is_64: self.reg_is_64,
            writeback: self.writeback,
            pair: self.pair,
        }
    }

    /// Combines the decoded instruction with its abort. For a pair, FAR_EL2
    /// may point at either element (a pair is two separate accesses in no
    /// defined order), so the first element's IPA is derived from the
    /// instruction's own address and FAR_EL2.
    pub fn resolve(&self, syndrome: &Syndrome, regs: &Regs) -> Result<MmioAccess, DecodeError> {
        if !syndrome.far_valid {
            return Err(DecodeError::FarNotValid);
        }
        if self.write != syndrome.write {
            return Err(DecodeError::DirectionMismatch);
        }
        let access = self.at(syndrome.ipa);
        let len = access.total_bytes();
        let delta = if self.pair.is_some() {
            let va = self.virtual_address(regs);
            let delta = syndrome.far.wrapping_sub(va);
            if delta >= len {
                return Err(DecodeError::InconsistentFar {
                    far: syndrome.far,
                    va,
                });
            }
            delta
        } else {
            0
        };
        let offset = syndrome.ipa & 0xfff;
        if delta > offset || offset - delta + len > 0x1000 {
            return Err(DecodeError::CrossesPage {
                ipa: syndrome.ipa.wrapping_sub(delta),
                len,
            });
        }
        Ok(self.at(syndrome.ipa - delta))
    }
}

/// `insn[hi:lo]`.
const fn field(insn: u32, hi: u32, lo: u32) -> u32 {
    (insn >> lo) & ((1 << (hi - lo + 1)) - 1)
}

const fn sext(value: u32, bits: u32) -> i64 {
    (((value << (32 - bits)) as i32) >> (32 - bits)) as i64
}

fn unsupported(insn: u32, class: InsnClass) -> DecodeError {
    DecodeError::Unsupported { insn, class }
}

/// Decodes an A64 load/store of general-purpose registers. Encodings are
/// from the "Loads and Stores" group index (Arm ARM C4.1.66 in the DDI 0487
/// issue we follow; the subgroup names quoted below are stable across
/// issues).
pub fn decode_instruction(insn: u32) -> Result<Decoded, DecodeError> {
    // Top-level A64 decode (C4.1): op0 = insn[28:25] = x1x0 selects
    // "Loads and Stores".
    if insn & 0x0a00_0000 != 0x0800_0000 {
        return Err(DecodeError::NotLoadStore { insn });
    }
    // Within loads and stores, bit 26 (op1 / "V") selects SIMD&FP registers
    // for every register, pair, literal and structure form.
    if insn & (1 << 26) != 0 {
        return Err(unsupported(insn, InsnClass::SimdFp));
    }
    if insn & 0x3f00_0000 == 0x0800_0000 {
        decode_ordered(insn)
    } else if insn & 0x3b00_0000 == 0x1800_0000 {
        // "Load register (literal)", including PRFM (literal).
        Err(unsupported(insn, InsnClass::Literal))
    } else if insn & 0x3a00_0000 == 0x2800_0000 {
        decode_pair(insn)
    } else if insn & 0x3b00_0000 == 0x3900_0000 {
        // "Load/store register (unsigned immediate)": imm12 scaled by size.
        let offset = i64::from(field(insn, 21, 10)) << field(insn, 31, 30);
        decode_single(insn, Form::Scaled, immediate(insn, offset), None)
    } else if insn & 0x3b20_0000 == 0x3800_0000 {
        decode_imm9(insn)
    } else if insn & 0x3b20_0c00 == 0x3820_0800 {
        decode_register_offset(insn)
    } else if insn & 0x3b20_0c00 == 0x3820_0000 {
        // "Atomic memory operations" (LDADD, SWP, LDAPR, LD64B...).
        Err(unsupported(insn, InsnClass::Atomic))
    } else if insn & 0x3b20_0400 == 0x3820_0400 {
        // "Load/store register (pac)": LDRAA/LDRAB.
        Err(unsupported(insn, InsnClass::PointerAuth))
    } else if insn & 0xff20_0000 == 0xd920_0000 {
        // "Load/store memory tags".
        Err(unsupported(insn, InsnClass::MemoryTag))
    } else {
        Err(unsupported(insn, InsnClass::Other))
    }
}

/// Which single-register form is being decoded: PRFM exists only in the
/// unsigned-offset, unscaled and register-offset forms.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Scaled,
    Unscaled,
    Indexed,
}

fn immediate(insn: u32, offset: i64) -> Address {
    Address::Immediate {
        base: field(insn, 9, 5) as u8,
        offset,
    }
}

/// "Load/store register (unscaled immediate / immediate post-indexed /
/// unprivileged / immediate pre-indexed)", told apart by insn[11:10].
fn decode_imm9(insn: u32) -> Result<Decoded, DecodeError> {
    let imm = sext(field(insn, 20, 12), 9);
    let base = field(insn, 9, 5) as u8;
    let wb = |post_index| Writeback {
        base_reg: base,
        offset: imm,
        post_index,
    };
    match field(insn, 11, 10) {
        // LDUR/STUR...
        0b00 => decode_single(insn, Form::Unscaled, immediate(insn, imm), None),
        // Post-index: the access uses the old base.
        0b01 => decode_single(insn, Form::Indexed, immediate(insn, 0), Some(wb(true))),
        // LDTR/STTR...: an unprivileged access is, for an MMIO device, just
        // an access (stage 1 already checked EL0 permissions).
        0b10 => decode_single(insn, Form::Indexed, immediate(insn, imm), None),
        _ => decode_single(insn, Form::Indexed, immediate(insn, imm), Some(wb(false))),
    }
}

/// "Load/store register (register offset)".
fn decode_register_offset(insn: u32) -> Result<Decoded, DecodeError> {
    let extend = match field(insn, 15, 13) {
        0b010 => Extend::Uxtw,
        0b011 => Extend::Lsl,
        0b110 => Extend::Sxtw,
        0b111 => Extend::Sxtx,
        _ => return Err(unsupported(insn, InsnClass::Unallocated)),
    };
    // S (bit 12) scales the index by the access size.
    let shift = if insn & (1 << 12) != 0 {
        field(insn, 31, 30) as u8
    } else {
        0
    };
    let address = Address::Register {
        base: field(insn, 9, 5) as u8,
        index: field(insn, 20, 16) as u8,
        extend,
        shift,
    };
    decode_single(insn, Form::Unscaled, address, None)
}

/// The size/opc table shared by the single-register groups: size =
/// insn[31:30], opc = insn[23:22] (e.g. "STRB/LDRB/LDRSB (64)/LDRSB (32)"
/// for size 00).
fn decode_single(
    insn: u32,
    form: Form,
    address: Address,
    writeback: Option<Writeback>,
) -> Result<Decoded, DecodeError> {
    let size_log = field(insn, 31, 30);
    let reg = field(insn, 4, 0) as u8;
    // (write, sign_extend, reg_is_64)
    let (write, sign_extend, reg_is_64) = match (size_log, field(insn, 23, 22)) {
        (s, 0b00) => (true, false, s == 3),
        (s, 0b01) => (false, false, s == 3),
        (3, 0b10) if form != Form::Indexed => return Err(unsupported(insn, InsnClass::Prefetch)),
        // LDRSB/LDRSH/LDRSW into an X register.
        (0..=2, 0b10) => (false, true, true),
        // LDRSB/LDRSH into a W register.
        (0 | 1, 0b11) => (false, true, false),
        _ => return Err(unsupported(insn, InsnClass::Unallocated)),
    };
    if let Some(wb) = writeback {
        // Writeback with Rn == Rt (Rn != SP) is CONSTRAINED UNPREDICTABLE
        // (Arm ARM C6.2 "LDR (immediate)"/"STR (immediate)", constraints
        // in appendix K1): refuse rather than pick one outcome.
        if wb.base_reg == reg && reg != 31 {
            return Err(DecodeError::Unpredictable { insn });
        }
    }
    Ok(Decoded {
        size: 1 << size_log,
        write,
        reg,
        sign_extend,
        reg_is_64,
        pair: None,
        address,
        writeback,
    })
}

/// "Load/store no-allocate pair (offset)", "Load/store register pair
/// (post-indexed / offset / pre-indexed)": opc = insn[31:30], mode =
/// insn[24:23], L = insn[22], imm7 scaled by the element size.
fn decode_pair(insn: u32) -> Result<Decoded, DecodeError> {
    let load = insn & (1 << 22) != 0;
    let mode = field(insn, 24, 23);
    let (size_log, sign_extend, reg_is_64) = match field(insn, 31, 30) {
        0b00 => (2, false, false),
        // LDPSW; the store encoding is STGP (MTE).
        0b01 if load && mode != 0b00 => (2, true, true),
        0b01 if mode != 0b00 => return Err(unsupported(insn, InsnClass::MemoryTag)),
        0b10 => (3, false, true),
        _ => return Err(unsupported(insn, InsnClass::Unallocated)),
    };
    let offset = sext(field(insn, 21, 15), 7) << size_log;
    let base = field(insn, 9, 5) as u8;
    let reg = field(insn, 4, 0) as u8;
    let reg2 = field(insn, 14, 10) as u8;
    let wb = |post_index| Writeback {
        base_reg: base,
        offset,
        post_index,
    };
    let (address_offset, writeback) = match mode {
        0b01 => (0, Some(wb(true))),
        0b11 => (offset, Some(wb(false))),
        _ => (offset, None),
    };
    // LDP with Rt == Rt2, or writeback onto a transfer register, is
    // CONSTRAINED UNPREDICTABLE (Arm ARM C6.2 "LDP"/"STP", appendix K1).
    let overlap = |r: u8| r == base && r != 31;
    if (load && reg == reg2) || (writeback.is_some() && (overlap(reg) || overlap(reg2))) {
        return Err(DecodeError::Unpredictable { insn });
    }
    Ok(Decoded {
        size: 1 << size_log,
        write: !load,
        reg,
        sign_extend,
        reg_is_64,
        pair: Some(reg2),
        address: Address::Immediate {
            base,
            offset: address_offset,
        },
        writeback,
    })
}

/// "Load/store exclusive" and "Load/store ordered" (bits [29:24] = 001000):
/// o2 = insn[23], L = insn[22], o1 = insn[21]. Only LDAR/STLR (and the
/// LORegion LDLAR/STLLR) are plain single accesses.
fn decode_ordered(insn: u32) -> Result<Decoded, DecodeError> {
    let o2 = insn & (1 << 23) != 0;
    let o1 = insn & (1 << 21) != 0;
    let size_log = field(insn, 31, 30);
    match (o2, o1) {
        (true, false) => {
            let write = insn & (1 << 22) == 0;
            Ok(Decoded {
                size: 1 << size_log,
                write,
                reg: field(insn, 4, 0) as u8,
                sign_extend: false,
                reg_is_64: size_log == 3,
                pair: None,
                address: immediate(insn, 0),
                writeback: None,
            })
        }
        // CAS, and CASP (o2 = 0, o1 = 1, size 0x).
        (true, true) => Err(unsupported(insn, InsnClass::Atomic)),
        (false, true) if size_log < 2 => Err(unsupported(insn, InsnClass::Atomic)),
        _ => Err(unsupported(insn, InsnClass::Exclusive)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ESR_EL2 for a lower-EL data abort: EC 0x24, IL = 1, and `iss`.
    fn esr(iss: u64) -> u64 {
        (0x24 << 26) | (1 << 25) | iss
    }

    /// ISV syndrome fields: SAS, SSE, SRT, SF, WnR, DFSC.
    fn isv(sas: u64, sse: bool, srt: u64, sf: bool, wnr: bool, dfsc: u64) -> u64 {
        esr((1 << 24)
            | (sas << 22)
            | (u64::from(sse) << 21)
            | (srt << 16)
            | (u64::from(sf) << 15)
            | (u64::from(wnr) << 6)
            | dfsc)
    }

    const TRANSLATION_L3: u64 = 0b00_0111;

    struct Frame {
        x: [u64; 31],
        sp: u64,
    }

    impl Frame {
        fn new() -> Self {
            let mut x = [0; 31];
            for (i, r) in x.iter_mut().enumerate() {
                *r = 0xdead_0000_0000_0000 | i as u64;
            }
            Self { x, sp: 0x8000 }
        }

        fn regs(&mut self) -> Regs<'_> {
            Regs {
                x: &mut self.x,
                sp: &mut self.sp,
            }
        }
    }

    fn dec(insn: u32) -> Decoded {
        decode_instruction(insn).unwrap_or_else(|e| panic!("{insn:#010x}: {e}"))
    }

    fn imm(base: u8, offset: i64) -> Address {
        Address::Immediate { base, offset }
    }

    fn wb(base_reg: u8, offset: i64, post_index: bool) -> Option<Writeback> {
        Some(Writeback {
            base_reg,
            offset,
            post_index,
        })
    }

    #[test]
    fn esr_isv_samples() {
        // ldr w0, [x1]: word, W register, translation fault level 3.
        let e = isv(0b10, false, 0, false, false, TRANSLATION_L3);
        assert_eq!(e, 0x9380_0007);
        let s = decode_esr(e, 0xffff_0000_0900_0004, (0x0900_0000 >> 12) << 4).expect("data abort");
        assert_eq!(s.ipa, 0x0900_0004);
        assert_eq!(s.fault, FaultKind::Translation { level: 3 });
        assert!(s.isv && s.far_valid && s.is_mmio_candidate() && s.ipa_valid());
        let a = s.access.expect("ISV");
        assert_eq!(
            (a.size, a.write, a.reg, a.sign_extend, a.reg_is_64),
            (4, false, 0, false, false)
        );
        assert_eq!(a.ipa, 0x0900_0004);

        // strb w2, [x3]
        let e = isv(0b00, false, 2, false, true, 0b00_0110);
        let s = decode_esr(e, 0x1_2345, 0x12 << 4).expect("data abort");
        assert_eq!(s.ipa, 0x1_2345);
        assert_eq!(s.fault, FaultKind::Translation { level: 2 });
        let a = s.access.expect("ISV");
        assert_eq!((a.size, a.write, a.reg), (1, true, 2));

        // ldrsh x4, [x5]
        let e = isv(0b01, true, 4, true, false, TRANSLATION_L3);
        let a = decode_esr(e, 0x0a00_0002, 0xa000 << 4)
            .expect("data abort")
            .access
            .expect("ISV");
        assert_eq!(
            (a.size, a.write, a.reg, a.sign_extend, a.reg_is_64),
            (2, false, 4, true, true)
        );
        let mut f = Frame::new();
        a.complete(&mut f.regs(), [0x8001, 0]);
        assert_eq!(f.x[4], 0xffff_ffff_ffff_8001);
    }

    #[test]
    fn esr_classification() {
        let s = |dfsc: u64, extra: u64| decode_esr(esr(dfsc | extra), 0, 0).expect("DA");
        assert_eq!(s(0b00_0100, 0).fault, FaultKind::Translation { level: 0 });
        assert_eq!(s(0b00_1111, 0).fault, FaultKind::Permission { level: 3 });
        assert!(!s(0b00_1111, 0).ipa_valid());
        assert!(s(0b00_1111, 1 << 7).ipa_valid(), "S1PTW");
        assert!(s(0b00_0101, 1 << 7).s1ptw);
        assert!(!s(0b00_0101, 1 << 7).is_mmio_candidate());
        assert_eq!(s(0b01_0000, 0).fault, FaultKind::SyncExternal);
        assert_eq!(
            s(0b01_0101, 0).fault,
            FaultKind::SyncExternalOnWalk { level: 1 }
        );
        assert_eq!(s(0b10_1011, 0).fault, FaultKind::Translation { level: -1 });
        assert_eq!(s(0b10_0001, 0).fault, FaultKind::Alignment);
        assert_eq!(s(0b11_0101, 0).fault, FaultKind::Other(0b11_0101));
        let fnv = s(0b00_0111, (1 << 10) | (1 << 24));
        assert!(!fnv.far_valid && fnv.isv && fnv.access.is_none());
        assert!(s(0b00_0111, 1 << 8).cache_maintenance);
        assert!(s(0b00_0111, 0).access.is_none(), "ISV = 0");
        assert_eq!(
            decode_esr(0x96 << 24, 0, 0),
            Err(DecodeError::NotDataAbort { ec: 0x25 })
        );
        // 48-bit IPA: HPFAR_EL2[39:4] is IPA[47:12]; NS (bit 63) ignored.
        let s = decode_esr(esr(0b00_0111), 0xabc, (1 << 63) | (0xf_ffff_ffff << 4)).expect("DA");
        assert_eq!(s.ipa, 0xffff_ffff_fabc);
    }

    // Encodings below were produced by `llvm-mc -triple=aarch64 -show-encoding`.

    #[test]
    fn single_register_immediate_forms() {
        let d = dec(0xb940_0020); // ldr w0, [x1]
        assert_eq!((d.size, d.write, d.reg, d.reg_is_64), (4, false, 0, false));
        assert_eq!((d.address, d.writeback), (imm(1, 0), None));
        let d = dec(0xf940_0462); // ldr x2, [x3, #8]
        assert_eq!(
            (d.size, d.reg, d.reg_is_64, d.address),
            (8, 2, true, imm(3, 8))
        );
        let d = dec(0x3900_0062); // strb w2, [x3]
        assert_eq!((d.size, d.write, d.reg), (1, true, 2));
        let d = dec(0x7980_00a4); // ldrsh x4, [x5]
        assert_eq!(
            (d.size, d.sign_extend, d.reg_is_64, d.reg),
            (2, true, true, 4)
        );
        let d = dec(0x79c0_04a4); // ldrsh w4, [x5, #2]
        assert_eq!(
            (d.sign_extend, d.reg_is_64, d.address),
            (true, false, imm(5, 2))
        );
        let d = dec(0x3980_04e6); // ldrsb x6, [x7, #1]
        assert_eq!((d.size, d.sign_extend, d.reg_is_64), (1, true, true));
        let d = dec(0xb980_0528); // ldrsw x8, [x9, #4]
        assert_eq!(
            (d.size, d.sign_extend, d.reg_is_64, d.address),
            (4, true, true, imm(9, 4))
        );
        let d = dec(0x7900_0d6a); // strh w10, [x11, #6]
        assert_eq!(
            (d.size, d.write, d.reg, d.address),
            (2, true, 10, imm(11, 6))
        );
        let d = dec(0xf900_083f); // str xzr, [x1, #16]
        assert_eq!((d.reg, d.address), (31, imm(1, 16)));
        let d = dec(0xf85f_0fe1); // ldr x1, [sp, #-16]!
        assert_eq!((d.address, d.writeback), (imm(31, -16), wb(31, -16, false)));
        let d = dec(0xb840_4441); // ldr w1, [x2], #4
        assert_eq!((d.address, d.writeback), (imm(2, 0), wb(2, 4, true)));
        let d = dec(0xf81f_8c83); // str x3, [x4, #-8]!
        assert_eq!((d.write, d.writeback), (true, wb(4, -8, false)));
        let d = dec(0xb81f_c4c5); // str w5, [x6], #-4
        assert_eq!((d.size, d.writeback), (4, wb(6, -4, true)));
        let d = dec(0xb85f_d107); // ldur w7, [x8, #-3]
        assert_eq!((d.reg, d.address, d.writeback), (7, imm(8, -3), None));
        let d = dec(0xf80f_f149); // stur x9, [x10, #255]
        assert_eq!((d.write, d.address), (true, imm(10, 255)));
        let d = dec(0x7850_0041); // ldurh w1, [x2, #-256]
        assert_eq!((d.size, d.address), (2, imm(2, -256)));
        let d = dec(0xb840_4841); // ldtr w1, [x2, #4]
        assert_eq!((d.size, d.address, d.writeback), (4, imm(2, 4), None));
        let d = dec(0x3800_0841); // sttrb w1, [x2]
        assert_eq!((d.size, d.write), (1, true));
        let d = dec(0x88df_fc83); // ldar w3, [x4]
        assert_eq!(
            (d.size, d.write, d.reg, d.address),
            (4, false, 3, imm(4, 0))
        );
        let d = dec(0xc89f_fcc5); // stlr x5, [x6]
        assert_eq!((d.size, d.write, d.reg, d.reg_is_64), (8, true, 5, true));
        let d = dec(0x08df_fc41); // ldarb w1, [x2]
        assert_eq!(d.size, 1);
    }

    #[test]
    fn register_offset_forms() {
        let reg = |base, index, extend, shift| Address::Register {
            base,
            index,
            extend,
            shift,
        };
        let d = dec(0xb863_6841); // ldr w1, [x2, x3]
        assert_eq!(d.address, reg(2, 3, Extend::Lsl, 0));
        let d = dec(0xf863_7841); // ldr x1, [x2, x3, lsl #3]
        assert_eq!(d.address, reg(2, 3, Extend::Lsl, 3));
        let d = dec(0x7863_d841); // ldrh w1, [x2, w3, sxtw #1]
        assert_eq!(d.address, reg(2, 3, Extend::Sxtw, 1));
        let d = dec(0x3823_4841); // strb w1, [x2, w3, uxtw]
        assert_eq!((d.write, d.address), (true, reg(2, 3, Extend::Uxtw, 0)));
        let d = dec(0x3863_e841); // ldrb w1, [x2, x3, sxtx]
        assert_eq!(d.address, reg(2, 3, Extend::Sxtx, 0));

        let mut f = Frame::new();
        f.x[2] = 0x1000;
        f.x[3] = 0xffff_ffff_ffff_fffe; // w3 = -2
        let regs = f.regs();
        assert_eq!(dec(0x7863_d841).virtual_address(&regs), 0x1000 - 4);
        assert_eq!(
            dec(0x3823_4841).virtual_address(&regs),
            0x1000 + 0xffff_fffe
        );
        assert_eq!(dec(0xf863_7841).virtual_address(&regs), 0x1000 - 16);
    }

    #[test]
    fn pair_forms() {
        let d = dec(0x2940_0861); // ldp w1, w2, [x3]
        assert_eq!((d.size, d.reg, d.pair, d.reg_is_64), (4, 1, Some(2), false));
        assert_eq!((d.address, d.writeback), (imm(3, 0), None));
        let d = dec(0xa9ff_0be1); // ldp x1, x2, [sp, #-16]!
        assert_eq!(
            (d.size, d.address, d.writeback),
            (8, imm(31, -16), wb(31, -16, false))
        );
        let d = dec(0xa9be_7bfd); // stp x29, x30, [sp, #-32]!
        assert_eq!((d.write, d.reg, d.pair), (true, 29, Some(30)));
        let d = dec(0xa8c2_7bfd); // ldp x29, x30, [sp], #32
        assert_eq!((d.address, d.writeback), (imm(31, 0), wb(31, 32, true)));
        let d = dec(0x2901_14c4); // stp w4, w5, [x6, #8]
        assert_eq!((d.size, d.write, d.address), (4, true, imm(6, 8)));
        let d = dec(0x6941_0861); // ldpsw x1, x2, [x3, #8]
        assert_eq!(
            (d.size, d.sign_extend, d.reg_is_64, d.address),
            (4, true, true, imm(3, 8))
        );
        let d = dec(0xa841_0861); // ldnp x1, x2, [x3, #16]
        assert_eq!((d.address, d.writeback), (imm(3, 16), None));
    }

    #[test]
    fn refusals() {
        let class = |insn| match decode_instruction(insn) {
            Err(DecodeError::Unsupported { class, .. }) => class,
            other => panic!("{insn:#010x}: {other:?}"),
        };
        assert_eq!(class(0xc85f_7c41), InsnClass::Exclusive); // ldxr x1, [x2]
        assert_eq!(class(0xc800_7c41), InsnClass::Exclusive); // stxr w0, x1, [x2]
        assert_eq!(class(0xc87f_8861), InsnClass::Exclusive); // ldaxp x1, x2, [x3]
        assert_eq!(class(0xb821_0062), InsnClass::Atomic); // ldadd w1, w2, [x3]
        assert_eq!(class(0xf8bf_c041), InsnClass::Atomic); // ldapr x1, [x2]
        assert_eq!(class(0x88a1_7c62), InsnClass::Atomic); // cas w1, w2, [x3]
        assert_eq!(class(0x3dc0_0020), InsnClass::SimdFp); // ldr q0, [x1]
        assert_eq!(class(0xfd00_0441), InsnClass::SimdFp); // str d1, [x2, #8]
        assert_eq!(class(0xad40_0440), InsnClass::SimdFp); // ldp q0, q1, [x2]
        assert_eq!(class(0x4c40_7020), InsnClass::SimdFp); // ld1 {v0.16b}, [x1]
        assert_eq!(class(0x5800_0041), InsnClass::Literal); // ldr x1, #8
        assert_eq!(class(0xf980_0020), InsnClass::Prefetch); // prfm pldl1keep, [x1]
        assert_eq!(class(0xf820_0420), InsnClass::PointerAuth); // ldraa x0, [x1]
        assert_eq!(class(0xd920_0841), InsnClass::MemoryTag); // stg x1, [x2]
                                                              // ldr x0, [x0, #8]! and ldp x0, x0, [x1] (llvm-mc rejects both).
        for insn in [0xf840_8c00, 0xa940_0020] {
            assert_eq!(
                decode_instruction(insn),
                Err(DecodeError::Unpredictable { insn })
            );
        }
        // add x0, x1, x2; b .; nop
        for insn in [0x8b02_0020, 0x1400_0000, 0xd503_201f] {
            assert_eq!(
                decode_instruction(insn),
                Err(DecodeError::NotLoadStore { insn })
            );
        }
        let msg = DecodeError::Unsupported {
            insn: 0x3dc0_0020,
            class: InsnClass::SimdFp,
        }
        .to_string();
        assert!(msg.contains("SIMD&FP"), "{msg}");
    }

    #[test]
    fn complete_loads_extends_and_writes_back() {
        let mut f = Frame::new();
        f.x[1] = 0x9000_0000;
        // ldr w1, [x2], #4 — zero-extends; the upper half of x1 is cleared.
        let d = dec(0xb840_4441);
        f.x[2] = 0x9000_0010;
        let a = d.at(0x0900_0010);
        a.complete(&mut f.regs(), [0xffff_ffff_8765_4321, 0]);
        assert_eq!(f.x[1], 0x8765_4321);
        assert_eq!(f.x[2], 0x9000_0014);
        // ldrsh w4, [x5, #2]: sign-extended to 32 bits only.
        dec(0x79c0_04a4).at(0).complete(&mut f.regs(), [0x8000, 0]);
        assert_eq!(f.x[4], 0xffff_8000);
        // ldrsb x6, [x7, #1]
        dec(0x3980_04e6).at(0).complete(&mut f.regs(), [0x7f, 0]);
        assert_eq!(f.x[6], 0x7f);
        // ldr x1, [sp, #-16]!: writeback to SP.
        let sp = f.sp;
        dec(0xf85f_0fe1)
            .at(0)
            .complete(&mut f.regs(), [0x1122_3344_5566_7788, 0]);
        assert_eq!((f.x[1], f.sp), (0x1122_3344_5566_7788, sp - 16));
        // ldp x29, x30, [sp], #32
        dec(0xa8c2_7bfd).at(0).complete(&mut f.regs(), [1, 2]);
        assert_eq!((f.x[29], f.x[30], f.sp), (1, 2, sp + 16));
        // ldpsw x1, x2, [x3, #8]
        dec(0x6941_0861)
            .at(0)
            .complete(&mut f.regs(), [0xffff_fffe, 3]);
        assert_eq!((f.x[1], f.x[2]), (u64::MAX - 1, 3));
        // A load into xzr changes nothing.
        let before = f.x;
        let mut a = dec(0xb940_0020).at(0);
        a.reg = 31;
        a.complete(&mut f.regs(), [5, 0]);
        assert_eq!(f.x, before);
    }

    #[test]
    fn store_data_is_masked() {
        let mut f = Frame::new();
        f.x[2] = 0x1234_5678_9abc_def0;
        let regs = f.regs();
        assert_eq!(dec(0x3900_0062).at(0).store_data(&regs), [0xf0, 0]); // strb w2
        assert_eq!(dec(0xf900_083f).at(0).store_data(&regs), [0, 0]); // str xzr
        let d = dec(0x2901_14c4); // stp w4, w5
        assert_eq!(d.at(0).store_data(&regs), [4, 5],);
        let mut f = Frame::new();
        let mut regs = f.regs();
        // str x3, [x4, #-8]! stores, then writes back.
        regs.x[4] = 0x100;
        let a = dec(0xf81f_8c83).at(0);
        assert_eq!(a.store_data(&regs)[0], 0xdead_0000_0000_0003);
        a.complete(&mut regs, [0, 0]);
        assert_eq!(regs.x[4], 0xf8);
        assert_eq!(regs.x[3], 0xdead_0000_0000_0003, "store leaves Rt alone");
    }

    #[test]
    fn resolve_pairs_and_checks() {
        let mut f = Frame::new();
        f.x[3] = 0xffff_8000_0001_0000;
        let regs = f.regs();
        let ldp = dec(0x2940_0861); // ldp w1, w2, [x3]
        let abort = |far: u64, write: bool| {
            let iss = (u64::from(write) << 6) | TRANSLATION_L3;
            decode_esr(esr(iss), far, 0x0a00_0000 >> 8).expect("DA")
        };
        // FAR at the first element.
        let a = ldp
            .resolve(&abort(0xffff_8000_0001_0000, false), &regs)
            .expect("ok");
        assert_eq!((a.ipa, a.total_bytes()), (0x0a00_0000, 8));
        // FAR at the second element: the IPA is moved back to the first.
        let s = abort(0xffff_8000_0001_0004, false);
        assert_eq!(s.ipa, 0x0a00_0004);
        assert_eq!(ldp.resolve(&s, &regs).map(|a| a.ipa), Ok(0x0a00_0000));
        // FAR outside the access.
        assert!(matches!(
            ldp.resolve(&abort(0xffff_8000_0001_0008, false), &regs),
            Err(DecodeError::InconsistentFar { .. })
        ));
        assert_eq!(
            ldp.resolve(&abort(0xffff_8000_0001_0000, true), &regs),
            Err(DecodeError::DirectionMismatch)
        );
        // A single access at the end of a page crossing into the next.
        let ldr = dec(0xf940_0462); // ldr x2, [x3, #8]
        let s = decode_esr(esr(TRANSLATION_L3), 0xffc, 0).expect("DA");
        assert_eq!(
            ldr.resolve(&s, &regs),
            Err(DecodeError::CrossesPage { ipa: 0xffc, len: 8 })
        );
        let s = decode_esr(esr(TRANSLATION_L3 | (1 << 10)), 0, 0).expect("DA");
        assert_eq!(ldr.resolve(&s, &regs), Err(DecodeError::FarNotValid));
    }

    /// xorshift64*: deterministic pseudo-random numbers without a crate.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    #[test]
    fn decoder_never_panics_and_keeps_invariants() {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        let mut decoded = 0;
        let mut f = Frame::new();
        for _ in 0..1_000_000 {
            let r = rng(&mut state);
            // Every other word is forced into the GPR load/store space
            // (op0 = x1x0, V = 0) so the group decoders get most of the work.
            let insn = if r & (1 << 63) != 0 {
                (r as u32 & !0x0e00_0000) | 0x0800_0000
            } else {
                r as u32
            };
            let Ok(d) = decode_instruction(insn) else {
                continue;
            };
            decoded += 1;
            assert!(matches!(d.size, 1 | 2 | 4 | 8), "{insn:#010x}");
            assert!(d.reg <= 31 && d.pair.is_none_or(|r| r <= 31));
            assert!(d.size == 8 || !d.sign_extend || d.reg_is_64 || d.size < 4);
            // Exercise the arithmetic with random registers and aborts.
            for (i, x) in f.x.iter_mut().enumerate() {
                *x = r.rotate_left(i as u32);
            }
            f.sp = r.swap_bytes();
            let s = decode_esr(esr(u64::from(d.write) << 6), r >> 3, r >> 5).expect("DA");
            let mut regs = f.regs();
            let _ = d.virtual_address(&regs);
            let _ = d.resolve(&s, &regs);
            let a = d.at(r);
            let _ = a.store_data(&regs);
            a.complete(&mut regs, [r, !r]);
        }
        // Make sure the test exercised the decoders, not just the refusals.
        assert!(decoded > 150_000, "{decoded}");
    }
}
