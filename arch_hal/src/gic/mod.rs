//! The physical GIC, as the hypervisor drives it. The guest never touches
//! it: the guest's distributor and redistributors are emulated (crate
//! `emul`) and its CPU interface is the hardware's virtual one (ICH_*).

pub mod gich;
#[cfg(target_arch = "aarch64")]
pub mod icc;
#[cfg(target_arch = "aarch64")]
pub mod ich;
pub mod regs;
pub mod v2;
#[cfg(target_arch = "aarch64")]
pub mod v3;

/// INTIDs 1020-1023 are special (IHI 0069H §2.2.1): 1023 means "no pending
/// interrupt" when read from ICC_IAR1_EL1.
pub const SPURIOUS: u32 = 1023;

pub fn is_special(intid: u32) -> bool {
    (1020..=1023).contains(&intid)
}
