//! Self-hosted debug for a guest at EL1 (Arm ARM D2): breakpoint and
//! watchpoint register encodings, the debug exception classes, and (on
//! AArch64) the register accesses the hypervisor's GDB stub needs.
//!
//! With MDCR_EL2.TDE set, breakpoint, watchpoint, software-step and BRK
//! exceptions from EL1/EL0 are taken to EL2 (D2.3), and the guest's own
//! accesses to the debug registers trap (TDE implies TDA/TDOSA/TDRA).
//! Debug exceptions are then enabled at EL1 whatever MDSCR_EL1.KDE and
//! PSTATE.D say, because the debug target EL is higher (D2.10.2).

/// `BRK #0`: the instruction GDB's software breakpoints plant.
pub const BRK_INSN: u32 = 0xd420_0000;

/// ESR_EL2.EC values of debug exceptions from a lower EL (D19.2.40).
pub mod ec {
    pub const BREAKPOINT_LOWER: u64 = 0x30;
    pub const SOFTWARE_STEP_LOWER: u64 = 0x32;
    pub const WATCHPOINT_LOWER: u64 = 0x34;
    pub const BRK64: u64 = 0x3c;
}

/// MDSCR_EL1 bits (D19.3.23).
pub mod mdscr {
    /// Software step enable.
    pub const SS: u64 = 1 << 0;
    /// Kernel debug enable (same-EL debug exceptions only).
    pub const KDE: u64 = 1 << 13;
    /// Breakpoint and watchpoint exceptions enable.
    pub const MDE: u64 = 1 << 15;
}

/// SPSR_EL2.SS: the software step state restored by ERET (D2.12.3).
pub const SPSR_SS: u64 = 1 << 21;

/// MDCR_EL2.TDE (D19.2.76).
pub const MDCR_TDE: u64 = 1 << 8;

/// The number of breakpoints and watchpoints, from ID_AA64DFR0_EL1
/// (BRPs [15:12] and WRPs [23:20] hold the count minus one).
pub const fn debug_slots(id_aa64dfr0: u64) -> (usize, usize) {
    (
        ((id_aa64dfr0 >> 12) & 0xf) as usize + 1,
        ((id_aa64dfr0 >> 20) & 0xf) as usize + 1,
    )
}

/// DBGBCR<n>_EL1 for an unlinked instruction-address breakpoint that
/// matches at EL1 and EL0 (D19.3.2): E = 1, PMC = 0b11, BAS = 0b1111
/// (required for AArch64), HMC = SSC = 0, BT = 0b0000.
pub const BCR_ADDRESS_EL1_EL0: u64 = 1 | (0b11 << 1) | (0b1111 << 5);

/// Which accesses a watchpoint traps (DBGWCR.LSC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchAccess {
    Load,
    Store,
    Both,
}

/// Why [`watchpoint`] cannot encode a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchError {
    /// Zero length.
    Empty,
    /// Neither within one doubleword (BAS) nor a naturally aligned power
    /// of two of at least 8 bytes (MASK).
    Unencodable,
}

/// (DBGWVR, DBGWCR) for watching `len` bytes at `addr` at EL1 and EL0
/// (D19.3.38, D2.9.3). Ranges within one 8-byte doubleword use the byte
/// address select; larger ones must be naturally aligned powers of two
/// (up to 2 GiB) and use the address mask.
pub fn watchpoint(addr: u64, len: u64, access: WatchAccess) -> Result<(u64, u64), WatchError> {
    if len == 0 {
        return Err(WatchError::Empty);
    }
    let lsc: u64 = match access {
        WatchAccess::Load => 0b01,
        WatchAccess::Store => 0b10,
        WatchAccess::Both => 0b11,
    };
    let base = 1 | (0b11 << 1) | (lsc << 3);
    let offset = addr & 7;
    if offset + len <= 8 {
        let bas = ((1u64 << len) - 1) << offset;
        return Ok((addr & !7, base | (bas << 5)));
    }
    if len.is_power_of_two() && addr & (len - 1) == 0 && len <= (1 << 31) {
        let mask = len.trailing_zeros() as u64;
        return Ok((addr, base | (0xff << 5) | (mask << 24)));
    }
    Err(WatchError::Unencodable)
}

/// The EL1 registers a stopped vCPU exposes to the debugger. Registers the
/// hypervisor never touches stay live in the CPU while the guest is stopped,
/// so the CPU that ran the vCPU saves them here for the others to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct El1State {
    pub sp_el0: u64,
    pub sp_el1: u64,
    pub elr_el1: u64,
    pub spsr_el1: u64,
    pub sctlr_el1: u64,
    pub tcr_el1: u64,
    pub ttbr0_el1: u64,
    pub ttbr1_el1: u64,
    pub mair_el1: u64,
    pub vbar_el1: u64,
    pub esr_el1: u64,
    pub far_el1: u64,
    pub tpidr_el1: u64,
    pub contextidr_el1: u64,
    pub cpacr_el1: u64,
    pub mdscr_el1: u64,
}

/// The FP/SIMD registers (V0-V31, FPSR, FPCR).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct FpState {
    pub v: [u128; 32],
    pub fpsr: u64,
    pub fpcr: u64,
}

#[cfg(target_arch = "aarch64")]
pub use hw::*;

#[cfg(target_arch = "aarch64")]
mod hw {
    use super::{El1State, FpState};

    macro_rules! read_sysreg {
        ($name:literal) => {{
            let v: u64;
            // SAFETY: reading an EL1 or EL2 system register at EL2 has no
            // side effects.
            unsafe { core::arch::asm!(concat!("mrs {}, ", $name), out(reg) v, options(nostack)) };
            v
        }};
    }

    impl El1State {
        /// This CPU's EL1 registers (the vCPU that last ran here).
        pub fn save() -> Self {
            Self {
                sp_el0: read_sysreg!("sp_el0"),
                sp_el1: read_sysreg!("sp_el1"),
                elr_el1: read_sysreg!("elr_el1"),
                spsr_el1: read_sysreg!("spsr_el1"),
                sctlr_el1: read_sysreg!("sctlr_el1"),
                tcr_el1: read_sysreg!("tcr_el1"),
                ttbr0_el1: read_sysreg!("ttbr0_el1"),
                ttbr1_el1: read_sysreg!("ttbr1_el1"),
                mair_el1: read_sysreg!("mair_el1"),
                vbar_el1: read_sysreg!("vbar_el1"),
                esr_el1: read_sysreg!("esr_el1"),
                far_el1: read_sysreg!("far_el1"),
                tpidr_el1: read_sysreg!("tpidr_el1"),
                contextidr_el1: read_sysreg!("contextidr_el1"),
                cpacr_el1: read_sysreg!("cpacr_el1"),
                mdscr_el1: read_sysreg!("mdscr_el1"),
            }
        }

        /// Puts back the registers a debugger may change (the stack
        /// pointers); the rest are read-only through the stub.
        pub fn restore_writable(&self) {
            // SAFETY: SP_EL0/SP_EL1 belong to the guest, which is not
            // running on this CPU while we are at EL2.
            unsafe {
                core::arch::asm!(
                    "msr sp_el0, {a}",
                    "msr sp_el1, {b}",
                    a = in(reg) self.sp_el0,
                    b = in(reg) self.sp_el1,
                    options(nostack)
                )
            };
        }
    }

    impl FpState {
        /// This CPU's FP/SIMD registers. The hypervisor is built soft-float
        /// and never touches them, so they still hold the guest's values.
        pub fn save(&mut self) {
            let p = self as *mut FpState as u64;
            // SAFETY: `p` points at 32 * 16 + 16 writable bytes, 16-byte
            // aligned (repr align(16)); CPTR_EL2 does not trap FP at EL2
            // (el2::guest_cptr).
            unsafe {
                core::arch::asm!(
                    ".arch_extension fp",
                    ".arch_extension simd",
                    "stp q0, q1, [{p}, #0]",
                    "stp q2, q3, [{p}, #32]",
                    "stp q4, q5, [{p}, #64]",
                    "stp q6, q7, [{p}, #96]",
                    "stp q8, q9, [{p}, #128]",
                    "stp q10, q11, [{p}, #160]",
                    "stp q12, q13, [{p}, #192]",
                    "stp q14, q15, [{p}, #224]",
                    "stp q16, q17, [{p}, #256]",
                    "stp q18, q19, [{p}, #288]",
                    "stp q20, q21, [{p}, #320]",
                    "stp q22, q23, [{p}, #352]",
                    "stp q24, q25, [{p}, #384]",
                    "stp q26, q27, [{p}, #416]",
                    "stp q28, q29, [{p}, #448]",
                    "stp q30, q31, [{p}, #480]",
                    "mrs {t}, fpsr",
                    "str {t}, [{p}, #512]",
                    "mrs {t}, fpcr",
                    "str {t}, [{p}, #520]",
                    p = in(reg) p,
                    t = out(reg) _,
                    options(nostack)
                )
            };
        }

        /// Loads the FP/SIMD registers back (a debugger may have changed
        /// them).
        pub fn restore(&self) {
            let p = self as *const FpState as u64;
            // SAFETY: as in `save`; the values are the guest's own.
            unsafe {
                core::arch::asm!(
                    ".arch_extension fp",
                    ".arch_extension simd",
                    "ldp q0, q1, [{p}, #0]",
                    "ldp q2, q3, [{p}, #32]",
                    "ldp q4, q5, [{p}, #64]",
                    "ldp q6, q7, [{p}, #96]",
                    "ldp q8, q9, [{p}, #128]",
                    "ldp q10, q11, [{p}, #160]",
                    "ldp q12, q13, [{p}, #192]",
                    "ldp q14, q15, [{p}, #224]",
                    "ldp q16, q17, [{p}, #256]",
                    "ldp q18, q19, [{p}, #288]",
                    "ldp q20, q21, [{p}, #320]",
                    "ldp q22, q23, [{p}, #352]",
                    "ldp q24, q25, [{p}, #384]",
                    "ldp q26, q27, [{p}, #416]",
                    "ldp q28, q29, [{p}, #448]",
                    "ldp q30, q31, [{p}, #480]",
                    "ldr {t}, [{p}, #512]",
                    "msr fpsr, {t}",
                    "ldr {t}, [{p}, #520]",
                    "msr fpcr, {t}",
                    p = in(reg) p,
                    t = out(reg) _,
                    options(nostack)
                )
            };
        }
    }

    pub fn id_aa64dfr0() -> u64 {
        read_sysreg!("id_aa64dfr0_el1")
    }

    pub fn mdscr() -> u64 {
        read_sysreg!("mdscr_el1")
    }

    pub fn set_mdscr(v: u64) {
        // SAFETY: MDSCR_EL1 only affects debug events of EL1/EL0.
        unsafe { core::arch::asm!("msr mdscr_el1, {}", "isb", in(reg) v, options(nostack)) };
    }

    /// Routes the guest's debug exceptions and debug-register accesses to
    /// EL2 (MDCR_EL2.TDE), or gives them back.
    pub fn set_trap_debug(on: bool) {
        let mut v = read_sysreg!("mdcr_el2");
        if on {
            v |= super::MDCR_TDE;
        } else {
            v &= !super::MDCR_TDE;
        }
        // SAFETY: only changes where EL1/EL0 debug events go.
        unsafe { core::arch::asm!("msr mdcr_el2, {}", "isb", in(reg) v, options(nostack)) };
    }

    /// CNTVOFF_EL2: the guest's virtual counter is the physical one minus
    /// this (D11.2.4).
    pub fn set_cntvoff(v: u64) {
        // SAFETY: only the guest's view of time changes.
        unsafe { core::arch::asm!("msr cntvoff_el2, {}", "isb", in(reg) v, options(nostack)) };
    }

    /// The physical counter (CNTPCT_EL0).
    pub fn counter() -> u64 {
        // The ISB orders the read after earlier instructions (D11.2.2).
        let v: u64;
        // SAFETY: reads the counter only.
        unsafe { core::arch::asm!("isb", "mrs {}, cntpct_el0", out(reg) v, options(nostack)) };
        v
    }

    pub fn counter_frequency() -> u64 {
        read_sysreg!("cntfrq_el0")
    }

    /// After the hypervisor wrote an instruction at `pa` (identity-mapped):
    /// clean it to the point of unification and invalidate every
    /// instruction cache in the inner-shareable domain (B2.4.4), so all
    /// vCPUs fetch the new one.
    pub fn sync_instruction(pa: u64) {
        // SAFETY: cache maintenance on an address we just wrote.
        unsafe {
            core::arch::asm!(
                "dc cvau, {a}",
                "dsb ish",
                "ic ialluis",
                "dsb ish",
                "isb",
                a = in(reg) pa,
                options(nostack)
            )
        };
    }

    macro_rules! slot_writer {
        ($fn:ident, $what:literal, $($n:literal),*) => {
            /// Programs one breakpoint/watchpoint slot (value then control).
            /// Slots beyond the implemented ones are ignored.
            pub fn $fn(n: usize, value: u64, control: u64) {
                match n {
                    $(
                        // SAFETY: debug registers of EL1/EL0 only; the slot
                        // exists (the caller counts them from ID_AA64DFR0).
                        $n => unsafe {
                            core::arch::asm!(
                                concat!("msr dbg", $what, "vr", $n, "_el1, {v}"),
                                concat!("msr dbg", $what, "cr", $n, "_el1, {c}"),
                                "isb",
                                v = in(reg) value,
                                c = in(reg) control,
                                options(nostack)
                            )
                        },
                    )*
                    _ => {}
                }
            }
        };
    }

    slot_writer!(
        set_breakpoint,
        "b",
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        15
    );
    slot_writer!(
        set_watchpoint,
        "w",
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        15
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_counts_from_dfr0() {
        // QEMU max: BRPs = 5, WRPs = 3.
        assert_eq!(debug_slots((5 << 12) | (3 << 20)), (6, 4));
        assert_eq!(debug_slots(0), (1, 1));
    }

    #[test]
    fn breakpoint_control() {
        assert_eq!(BCR_ADDRESS_EL1_EL0, 0x1e7);
    }

    #[test]
    fn small_watchpoints_use_byte_select() {
        // 4 bytes at offset 4 of a doubleword, writes.
        let (wvr, wcr) = watchpoint(0xffff_0000_1234_5674, 4, WatchAccess::Store).unwrap();
        assert_eq!(wvr, 0xffff_0000_1234_5670);
        assert_eq!(wcr & 1, 1);
        assert_eq!((wcr >> 1) & 3, 0b11);
        assert_eq!((wcr >> 3) & 3, 0b10);
        assert_eq!((wcr >> 5) & 0xff, 0b1111_0000);
        assert_eq!((wcr >> 24) & 0x1f, 0);
        // A whole aligned u64, loads.
        let (wvr, wcr) = watchpoint(0x1000, 8, WatchAccess::Load).unwrap();
        assert_eq!(wvr, 0x1000);
        assert_eq!((wcr >> 5) & 0xff, 0xff);
        assert_eq!((wcr >> 3) & 3, 0b01);
    }

    #[test]
    fn large_watchpoints_use_the_mask() {
        let (wvr, wcr) = watchpoint(0x4000, 64, WatchAccess::Both).unwrap();
        assert_eq!(wvr, 0x4000);
        assert_eq!((wcr >> 24) & 0x1f, 6);
        assert_eq!((wcr >> 5) & 0xff, 0xff);
    }

    #[test]
    fn unencodable_watchpoints_are_refused() {
        assert_eq!(
            watchpoint(0x1000, 0, WatchAccess::Both),
            Err(WatchError::Empty)
        );
        // Crosses a doubleword boundary.
        assert_eq!(
            watchpoint(0x1006, 4, WatchAccess::Both),
            Err(WatchError::Unencodable)
        );
        // Not a power of two / misaligned.
        assert_eq!(
            watchpoint(0x1000, 24, WatchAccess::Both),
            Err(WatchError::Unencodable)
        );
        assert_eq!(
            watchpoint(0x1010, 32, WatchAccess::Both),
            Err(WatchError::Unencodable)
        );
    }
}
