//! EL2 exception dispatch: guest exits go to the VM; anything taken from
//! EL2 itself is a hypervisor bug or a bad access and is reported with its
//! syndrome before powering off.

use arch_hal::exception::{Class, TrapFrame, TrapKind};

pub fn install() {
    arch_hal::exception::set_handler(handle);
}

fn handle(frame: &mut TrapFrame, kind: TrapKind) {
    if let (TrapKind::LowerA64(class), Some(vm)) = (kind, crate::vm::get()) {
        let vcpu = arch_hal::el2::cpu_index();
        crate::vm::irq::sync(vm, vcpu);
        match class {
            Class::Sync if crate::debug::is_debug_exit(frame.esr >> 26 & 0x3f) => {
                crate::debug::exit(vcpu, frame)
            }
            Class::Sync => {
                let pc = frame.elr;
                crate::vm::exits::handle(vm, vcpu, frame);
                // A stepped instruction we emulated raises no step
                // exception: the step is done now.
                if crate::debug::control::stepping(vcpu) && frame.elr != pc {
                    crate::debug::emulated_step_done(vcpu);
                }
            }
            Class::Irq => crate::vm::irq::handle(vm, vcpu, frame),
            // An SError taken while the guest ran is the guest's (e.g. an
            // asynchronous abort from memory it touched): hand it back as a
            // virtual SError (HCR_EL2.VSE, Arm ARM D1.3.5) rather than let
            // a guest stop the hypervisor.
            Class::SError => {
                log::warn!(
                    "guest vCPU {vcpu}: SError (ESR_EL2 {:#x}) at pc {:#x}; reflected to the guest",
                    frame.esr,
                    frame.elr
                );
                arch_hal::el2::inject_virtual_serror();
            }
            // Nothing is configured as FIQ: log and carry on.
            Class::Fiq => log::warn!("guest vCPU {vcpu}: unexpected FIQ at pc {:#x}", frame.elr),
        }
        // Park if the debugger stopped the guest; apply its settings.
        crate::debug::control::before_entry(vm, vcpu, frame);
        crate::vm::irq::flush(vm, vcpu);
        return;
    }
    let ec = (frame.esr >> 26) & 0x3f;
    panic!(
        "unexpected exception {kind:?} ({}): ESR_EL2={:#x} ELR_EL2={:#x} FAR_EL2={:#x}",
        exception_class_name(ec),
        frame.esr,
        frame.elr,
        frame.far
    );
}

/// ESR_ELx.EC names for the classes we can meet at EL2 (Arm ARM D19.2.40).
fn exception_class_name(ec: u64) -> &'static str {
    match ec {
        0x00 => "unknown reason",
        0x01 => "WFI/WFE",
        0x07 => "FP/SIMD access",
        0x0e => "illegal execution state",
        0x15 => "SVC",
        0x16 => "HVC",
        0x17 => "SMC",
        0x18 => "system register access",
        0x20 | 0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 | 0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2f => "SError",
        0x3c => "BRK",
        _ => "other",
    }
}
