//! The hypervisor control interface of the GICv3 virtual CPU interface
//! (ICH_*_EL2, IHI 0069H §12.4): list registers through which virtual
//! interrupts are presented to the guest.

macro_rules! lr_access {
    ($($n:literal),*) => {
        /// Reads ICH_LR<n>_EL2.
        pub fn read_lr(n: usize) -> u64 {
            let v: u64;
            match n {
                $($n => {
                    // SAFETY: reading a list register has no side effect.
                    unsafe { core::arch::asm!(concat!("mrs {}, ich_lr", $n, "_el2"), out(reg) v, options(nomem, nostack)) }
                })*
                _ => v = 0,
            }
            v
        }
        /// Writes ICH_LR<n>_EL2 (n below `list_registers()`).
        pub fn write_lr(n: usize, v: u64) {
            match n {
                $($n => {
                    // SAFETY: list registers only affect the guest's view of
                    // virtual interrupts.
                    unsafe { core::arch::asm!(concat!("msr ich_lr", $n, "_el2, {}"), in(reg) v, options(nostack)) }
                })*
                _ => {}
            }
        }
    };
}

lr_access!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

/// Number of implemented list registers (ICH_VTR_EL2.ListRegs + 1).
pub fn list_registers() -> usize {
    let vtr: u64;
    // SAFETY: ID-like read.
    unsafe { core::arch::asm!("mrs {}, ich_vtr_el2", out(reg) vtr, options(nomem, nostack)) };
    (vtr & 0x1f) as usize + 1
}

pub fn hcr() -> u64 {
    let v: u64;
    // SAFETY: plain read.
    unsafe { core::arch::asm!("mrs {}, ich_hcr_el2", out(reg) v, options(nomem, nostack)) };
    v
}

pub fn set_hcr(v: u64) {
    // SAFETY: ICH_HCR_EL2 controls only the virtual CPU interface.
    unsafe { core::arch::asm!("msr ich_hcr_el2, {}", "isb", in(reg) v, options(nostack)) };
}

/// ICH_MISR_EL2: why the maintenance interrupt fired.
pub fn misr() -> u64 {
    let v: u64;
    // SAFETY: plain read.
    unsafe { core::arch::asm!("mrs {}, ich_misr_el2", out(reg) v, options(nomem, nostack)) };
    v
}

/// ICH_ELRSR_EL2: bit n set when LR n holds no interrupt.
pub fn empty_lrs() -> u64 {
    let v: u64;
    // SAFETY: plain read.
    unsafe { core::arch::asm!("mrs {}, ich_elrsr_el2", out(reg) v, options(nomem, nostack)) };
    v
}

pub fn set_vmcr(v: u64) {
    // SAFETY: the guest's virtual CPU interface state, reset value.
    unsafe { core::arch::asm!("msr ich_vmcr_el2, {}", in(reg) v, options(nostack)) };
}

/// ICH_HCR_EL2 bits (IHI 0069H §12.4.6).
pub mod hcr_bits {
    pub const EN: u64 = 1 << 0;
    /// Underflow: maintenance interrupt when at most one LR is valid.
    pub const UIE: u64 = 1 << 1;
    /// No pending: maintenance interrupt when no LR is pending.
    pub const NPIE: u64 = 1 << 3;
}
