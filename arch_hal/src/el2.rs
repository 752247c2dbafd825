//! EL2 controls for running a guest at EL1 (Arm ARM D19.2: HCR_EL2,
//! CNTHCTL_EL2, CPTR_EL2, VTTBR_EL2, VTCR_EL2, VMPIDR_EL2).

/// HCR_EL2 bits we set (Arm ARM D19.2.48).
pub mod hcr {
    /// Stage-2 translation on.
    pub const VM: u64 = 1 << 0;
    /// Set/way invalidation by the guest becomes clean+invalidate, so a
    /// guest cannot discard the hypervisor's dirty lines.
    pub const SWIO: u64 = 1 << 1;
    /// Physical FIQ/IRQ/SError go to EL2; the guest gets virtual ones.
    pub const FMO: u64 = 1 << 3;
    pub const IMO: u64 = 1 << 4;
    pub const AMO: u64 = 1 << 5;
    /// Force broadcast of TLB/cache maintenance to the inner shareable domain.
    pub const FB: u64 = 1 << 9;
    /// Barrier shareability upgrade: inner shareable.
    pub const BSU_INNER: u64 = 1 << 10;
    /// SMC from EL1 traps to EL2 (PSCI over SMC is answered by us).
    pub const TSC: u64 = 1 << 19;
    /// EL1 is AArch64.
    pub const RW: u64 = 1 << 31;
    /// Do not trap pointer-authentication keys or instructions (the guest
    /// kernel uses them on `-cpu max`).
    pub const APK: u64 = 1 << 40;
    pub const API: u64 = 1 << 41;
}

/// The HCR_EL2 value while a guest runs.
pub const fn guest_hcr() -> u64 {
    hcr::VM
        | hcr::SWIO
        | hcr::FMO
        | hcr::IMO
        | hcr::AMO
        | hcr::FB
        | hcr::BSU_INNER
        | hcr::TSC
        | hcr::RW
        | hcr::APK
        | hcr::API
}

/// CNTHCTL_EL2 (E2H = 0): EL1 may read the physical counter and use the
/// physical timer (EL1PCTEN, EL1PCEN).
pub const GUEST_CNTHCTL: u64 = 0b11;

/// CPTR_EL2 (E2H = 0, D19.2.29): RES1 bits, nothing trapped. TSM (bit 12)
/// is RES1 without SME; with SME it must be 0 or SME instructions trap.
pub const fn guest_cptr(has_sme: bool) -> u64 {
    let res1 = (1 << 13) | (1 << 9) | 0xff;
    if has_sme {
        res1
    } else {
        res1 | (1 << 12)
    }
}

/// SCTLR_EL1 as Linux expects it at entry: MMU and caches off, RES1 bits
/// set (D19.2.118).
pub const GUEST_SCTLR_EL1: u64 = 0x30D0_0800;

/// SPSR for entering the guest: EL1h with D, A, I and F masked
/// (Linux booting.rst: "All forms of interrupts must be masked").
pub const GUEST_ENTRY_SPSR: u64 = 0x3c5;

/// Everything that must be in place on a CPU before it runs the guest.
#[derive(Clone, Copy, Debug)]
pub struct GuestControls {
    pub vttbr: u64,
    pub vtcr: u64,
    pub vmpidr: u64,
    pub has_sme: bool,
}

/// Programs the EL2 controls for the guest on this CPU and invalidates the
/// guest's TLB entries (its VMID may hold stale ones from a previous run).
///
/// # Safety
/// `vttbr` must point at a complete Stage-2 table for the guest that maps
/// no hypervisor memory, written back to the point of coherency.
#[cfg(target_arch = "aarch64")]
pub unsafe fn configure(c: &GuestControls) {
    // SAFETY: per the contract; the registers only take effect for EL1/EL0,
    // which runs nothing until the following ERET.
    unsafe {
        core::arch::asm!(
            "msr vtcr_el2, {vtcr}",
            "msr vttbr_el2, {vttbr}",
            "msr vmpidr_el2, {vmpidr}",
            "mrs {tmp}, midr_el1",
            "msr vpidr_el2, {tmp}",
            "msr cnthctl_el2, {cnthctl}",
            "msr cntvoff_el2, xzr",
            "msr cptr_el2, {cptr}",
            "msr sctlr_el1, {sctlr}",
            "msr hcr_el2, {hcr}",
            "isb",
            "tlbi vmalls12e1",
            "dsb nsh",
            "isb",
            vtcr = in(reg) c.vtcr,
            vttbr = in(reg) c.vttbr,
            vmpidr = in(reg) c.vmpidr,
            cnthctl = in(reg) GUEST_CNTHCTL,
            cptr = in(reg) guest_cptr(c.has_sme),
            sctlr = in(reg) GUEST_SCTLR_EL1,
            hcr = in(reg) guest_hcr(),
            tmp = out(reg) _,
            options(nostack)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcr_routes_interrupts_and_traps_smc() {
        let h = guest_hcr();
        for bit in [hcr::VM, hcr::IMO, hcr::FMO, hcr::AMO, hcr::TSC, hcr::RW] {
            assert_ne!(h & bit, 0);
        }
        assert_eq!(
            h & (1 << 34),
            0,
            "E2H must stay 0: we are a non-VHE hypervisor"
        );
        assert_eq!(h & (1 << 27), 0, "TGE must stay 0");
    }

    #[test]
    fn cptr_does_not_trap_fp() {
        assert_eq!(guest_cptr(false) & (1 << 10), 0);
        assert_eq!(guest_cptr(true) & (1 << 12), 0);
        assert_ne!(guest_cptr(false) & (1 << 12), 0);
    }
}

/// Records this CPU's index in TPIDR_EL2 (free for the hypervisor's use).
#[cfg(target_arch = "aarch64")]
pub fn set_cpu_index(index: usize) {
    // SAFETY: TPIDR_EL2 is a scratch register reserved for EL2 software.
    unsafe { core::arch::asm!("msr tpidr_el2, {}", in(reg) index as u64, options(nomem, nostack)) };
}

/// This CPU's index, as recorded by `set_cpu_index`.
#[cfg(target_arch = "aarch64")]
pub fn cpu_index() -> usize {
    let v: u64;
    // SAFETY: plain read of a scratch register.
    unsafe { core::arch::asm!("mrs {}, tpidr_el2", out(reg) v, options(nomem, nostack)) };
    v as usize
}

/// This CPU's MPIDR_EL1.
#[cfg(target_arch = "aarch64")]
pub fn mpidr() -> u64 {
    let v: u64;
    // SAFETY: ID register read.
    unsafe { core::arch::asm!("mrs {}, mpidr_el1", out(reg) v, options(nomem, nostack)) };
    v & 0xff_00ff_ffff
}

/// Whether the CPU implements SME (ID_AA64PFR1_EL1.SME, bits [27:24]).
#[cfg(target_arch = "aarch64")]
pub fn has_sme() -> bool {
    let v: u64;
    // SAFETY: ID register read.
    unsafe { core::arch::asm!("mrs {}, id_aa64pfr1_el1", out(reg) v, options(nomem, nostack)) };
    (v >> 24) & 0xf != 0
}

/// The guest's ELR_EL1 (live while we handle its exit: EL1 state is not
/// switched on a trap).
#[cfg(target_arch = "aarch64")]
pub fn guest_elr_el1() -> u64 {
    let v: u64;
    // SAFETY: plain read of a guest register.
    unsafe { core::arch::asm!("mrs {}, elr_el1", out(reg) v, options(nomem, nostack)) };
    v
}

/// The stack pointer the guest was using when it trapped: SP_EL0 for EL0
/// and EL1t, SP_EL1 for EL1h (SPSR_EL2.M[0], Arm ARM C5.2.19). Both are
/// live at EL2 while we handle the exit.
#[cfg(target_arch = "aarch64")]
pub fn guest_sp(spsr: u64) -> u64 {
    let v: u64;
    // SAFETY: plain reads of guest registers.
    unsafe {
        if spsr & 1 == 0 {
            core::arch::asm!("mrs {}, sp_el0", out(reg) v, options(nomem, nostack));
        } else {
            core::arch::asm!("mrs {}, sp_el1", out(reg) v, options(nomem, nostack));
        }
    }
    v
}

/// Sets the stack pointer [`guest_sp`] reads (an emulated access with SP
/// as its writeback base).
#[cfg(target_arch = "aarch64")]
pub fn set_guest_sp(spsr: u64, v: u64) {
    // SAFETY: changes only the guest's stack pointer, as the emulated
    // instruction would have.
    unsafe {
        if spsr & 1 == 0 {
            core::arch::asm!("msr sp_el0, {}", in(reg) v, options(nomem, nostack));
        } else {
            core::arch::asm!("msr sp_el1, {}", in(reg) v, options(nomem, nostack));
        }
    }
}

/// HPFAR_EL2: the faulting IPA's page for stage-2 aborts.
#[cfg(target_arch = "aarch64")]
pub fn hpfar() -> u64 {
    let v: u64;
    // SAFETY: plain read.
    unsafe { core::arch::asm!("mrs {}, hpfar_el2", out(reg) v, options(nomem, nostack)) };
    v
}

/// Translates a guest virtual address through the guest's stage 1 and our
/// Stage-2 (AT S12E1R, Arm ARM C5.5.13), returning the physical address.
/// PAR_EL1 belongs to the guest, so it is saved and restored around the AT.
#[cfg(target_arch = "aarch64")]
pub fn guest_va_to_pa(va: u64) -> Option<u64> {
    let par: u64;
    // SAFETY: AT only reads translation tables; the guest's PAR_EL1 is
    // restored before returning.
    unsafe {
        core::arch::asm!(
            "mrs {saved}, par_el1",
            "at s12e1r, {va}",
            "isb",
            "mrs {par}, par_el1",
            "msr par_el1, {saved}",
            va = in(reg) va,
            par = out(reg) par,
            saved = out(reg) _,
            options(nostack)
        );
    }
    if par & 1 != 0 {
        return None;
    }
    Some((par & 0x0000_ffff_ffff_f000) | (va & 0xfff))
}

/// Makes the guest take a synchronous exception: ESR_EL1 = `esr`,
/// FAR_EL1 = `far`, and the guest resumes at its vector for the exception
/// level it was in (Arm ARM D1.10.2), as if the hardware had raised it.
#[cfg(target_arch = "aarch64")]
pub fn inject_sync(frame: &mut crate::exception::TrapFrame, esr: u64, far: u64) {
    let vbar: u64;
    // SAFETY: reading VBAR_EL1 and writing the guest's EL1 exception
    // registers only changes guest state, as an exception entry would.
    unsafe {
        core::arch::asm!(
            "mrs {vbar}, vbar_el1",
            "msr esr_el1, {esr}",
            "msr far_el1, {far}",
            "msr elr_el1, {elr}",
            "msr spsr_el1, {spsr}",
            vbar = out(reg) vbar,
            esr = in(reg) esr,
            far = in(reg) far,
            elr = in(reg) frame.elr,
            spsr = in(reg) frame.spsr,
            options(nostack)
        );
    }
    frame.elr = vbar + vector_offset(frame.spsr);
    frame.spsr = GUEST_ENTRY_SPSR;
}

/// Offset of the synchronous vector for an exception taken to EL1 from the
/// state in `spsr` (current EL with SP0 / SPx, lower EL AArch64).
pub const fn vector_offset(spsr: u64) -> u64 {
    match spsr & 0xf {
        0b0100 => 0x000,
        0b0101 => 0x200,
        _ => 0x400,
    }
}

/// ESR_EL1 for a synchronous external abort on a data access, as the guest
/// would see it (EC 0x25 from EL1, 0x24 from EL0; DFSC 0x10; IL set).
pub const fn external_abort_esr(spsr: u64, write: bool) -> u64 {
    let ec: u64 = if spsr & 0xf == 0 { 0x24 } else { 0x25 };
    (ec << 26) | (1 << 25) | ((write as u64) << 6) | 0x10
}

/// ESR_EL1 for a synchronous external abort on an instruction fetch (EC
/// 0x21 from EL1, 0x20 from EL0; IFSC 0x10; IL set; Arm ARM D17.2.37).
pub const fn external_instruction_abort_esr(spsr: u64) -> u64 {
    let ec: u64 = if spsr & 0xf == 0 { 0x20 } else { 0x21 };
    (ec << 26) | (1 << 25) | 0x10
}

/// Makes a virtual SError pending for the guest (HCR_EL2.VSE, bit 8); the
/// hardware clears it when the guest takes it.
#[cfg(target_arch = "aarch64")]
pub fn inject_virtual_serror() {
    // SAFETY: sets HCR_EL2.VSE only, which affects the guest alone.
    unsafe {
        core::arch::asm!(
            "mrs {t}, hcr_el2",
            "orr {t}, {t}, #(1 << 8)",
            "msr hcr_el2, {t}",
            "isb",
            t = out(reg) _,
            options(nostack)
        )
    };
}

/// ESR_EL1 for an undefined instruction (EC 0x00, IL set).
pub const UNDEFINED_ESR: u64 = 1 << 25;

#[cfg(test)]
mod inject_tests {
    use super::*;

    #[test]
    fn vectors_and_syndromes() {
        assert_eq!(vector_offset(0x3c5), 0x200);
        assert_eq!(vector_offset(0x3c4), 0x000);
        assert_eq!(vector_offset(0x0), 0x400);
        assert_eq!(external_abort_esr(0x3c5, false) >> 26, 0x25);
        assert_eq!(external_abort_esr(0x0, true) >> 26, 0x24);
        assert_eq!(external_abort_esr(0x3c5, true) & 0x7f, 0x50);
        // Instruction aborts: EC 0x21 from EL1, 0x20 from EL0, IFSC 0x10.
        assert_eq!(external_instruction_abort_esr(0x3c5), 0x8600_0010);
        assert_eq!(external_instruction_abort_esr(0x0) >> 26, 0x20);
    }
}
