//! The EL2 exception vector table (Arm ARM D1.10.2) and the saved register
//! frame that traps hand to Rust.
//!
//! Every vector saves x0-x30, ELR/SPSR/ESR/FAR_EL2 on the current EL2 stack,
//! then calls the handler installed with [`set_handler`]. Until one is
//! installed (very early boot, before the console exists), any exception
//! powers the machine off through PSCI rather than spinning.

use core::sync::atomic::{AtomicUsize, Ordering};

/// Registers saved on every exception into EL2.
#[repr(C)]
#[derive(Clone, Debug, Default)]
pub struct TrapFrame {
    pub x: [u64; 31],
    pub elr: u64,
    pub spsr: u64,
    pub esr: u64,
    pub far: u64,
    _pad: u64,
}

impl TrapFrame {
    /// A frame that enters `pc` at EL1h with all interrupts masked and
    /// x0 = `arg`, as Linux's boot protocol and PSCI CPU_ON require.
    pub fn guest_entry(pc: u64, arg: u64, spsr: u64) -> Self {
        let mut f = Self {
            elr: pc,
            spsr,
            ..Default::default()
        };
        f.x[0] = arg;
        f
    }
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 288);

/// Which of the 16 vectors was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapKind {
    /// From EL2 itself: a hypervisor bug or a fault we provoked.
    Current(Class),
    /// From EL1/EL0 in AArch64: a guest exit.
    LowerA64(Class),
    /// From EL1/EL0 in AArch32 (we never run AArch32 guests).
    LowerA32(Class),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Sync,
    Irq,
    Fiq,
    SError,
}

impl TrapKind {
    pub fn from_index(index: u64) -> Self {
        let class = match index & 3 {
            0 => Class::Sync,
            1 => Class::Irq,
            2 => Class::Fiq,
            _ => Class::SError,
        };
        match index >> 2 {
            0 | 1 => Self::Current(class),
            2 => Self::LowerA64(class),
            _ => Self::LowerA32(class),
        }
    }
}

pub type Handler = fn(&mut TrapFrame, TrapKind);

static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Routes all EL2 exceptions to `handler`.
pub fn set_handler(handler: Handler) {
    HANDLER.store(handler as usize, Ordering::Release);
}

#[no_mangle]
extern "C" fn arch_hal_trap_entry(frame: &mut TrapFrame, index: u64) {
    let raw = HANDLER.load(Ordering::Acquire);
    if raw == 0 {
        // No console yet, so nothing can be printed: power off (QEMU's
        // firmware and TF-A both answer PSCI over SMC at EL2).
        crate::psci::system_off(crate::psci::Conduit::Smc);
    }
    // SAFETY: HANDLER only ever holds a `Handler` stored by `set_handler`.
    let handler: Handler = unsafe { core::mem::transmute::<usize, Handler>(raw) };
    handler(frame, TrapKind::from_index(index));
}

/// Leaves EL2 for the guest: `frame` becomes the guest's registers and PC.
/// The frame is placed at the top of this CPU's EL2 stack, where every later
/// exception from the guest saves its frame again.
///
/// # Safety
/// `stack_top` must be the top of this CPU's EL2 stack, the code calling
/// this must run below `stack_top - 288` (the boot code reserves the top
/// 512 bytes), and the EL2 guest controls (HCR_EL2, Stage-2, GIC) must be
/// set up.
pub unsafe fn enter_lower_el(frame: &TrapFrame, stack_top: usize) -> ! {
    let slot = stack_top - core::mem::size_of::<TrapFrame>();
    // SAFETY: the slot is the reserved top of this CPU's stack, which no
    // Rust frame uses (contract); `copy` (memmove) is used anyway so that an
    // overlap could not corrupt the frame.
    unsafe {
        core::ptr::copy(frame as *const TrapFrame, slot as *mut TrapFrame, 1);
        core::arch::asm!("mov sp, {}", "b __hyp_trap_restore", in(reg) slot, options(noreturn));
    }
}

core::arch::global_asm!(
    r#"
.macro HYP_VECTOR index
    .balign 0x80
    sub sp, sp, #288
    stp x0, x1, [sp, #0]
    mov x1, #\index
    b __hyp_trap_common
.endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global __hyp_vectors
__hyp_vectors:
    HYP_VECTOR 0
    HYP_VECTOR 1
    HYP_VECTOR 2
    HYP_VECTOR 3
    HYP_VECTOR 4
    HYP_VECTOR 5
    HYP_VECTOR 6
    HYP_VECTOR 7
    HYP_VECTOR 8
    HYP_VECTOR 9
    HYP_VECTOR 10
    HYP_VECTOR 11
    HYP_VECTOR 12
    HYP_VECTOR 13
    HYP_VECTOR 14
    HYP_VECTOR 15

__hyp_trap_common:
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    mrs x2, elr_el2
    stp x30, x2, [sp, #240]
    mrs x2, spsr_el2
    mrs x3, esr_el2
    stp x2, x3, [sp, #256]
    mrs x2, far_el2
    str x2, [sp, #272]
    mov x0, sp
    bl arch_hal_trap_entry
    .global __hyp_trap_restore
__hyp_trap_restore:
    ldp x2, x3, [sp, #256]
    msr spsr_el2, x2
    ldr x2, [sp, #248]
    msr elr_el2, x2
    ldp x0, x1, [sp, #0]
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x19, [sp, #144]
    ldp x20, x21, [sp, #160]
    ldp x22, x23, [sp, #176]
    ldp x24, x25, [sp, #192]
    ldp x26, x27, [sp, #208]
    ldp x28, x29, [sp, #224]
    ldr x30, [sp, #240]
    add sp, sp, #288
    eret
"#
);
