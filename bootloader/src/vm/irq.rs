//! Interrupts: physical ones taken at EL2 while the guest runs, and the
//! virtual ones we present through the GICv3 list registers.
//!
//! Every exit ends with `sync_and_flush`: list registers the guest has
//! finished with are handed back to the virtual GIC, and free ones are filled
//! with the highest-priority pending interrupts. If more are pending than
//! fit, the underflow maintenance interrupt (ICH_HCR_EL2.UIE) brings us back
//! when the guest has made room (IHI 0069H §4.9).

use super::{layout, Vm};
use arch_hal::exception::TrapFrame;
use arch_hal::gic::{icc, ich, is_special, regs};

/// A physical IRQ arrived while the guest ran on this CPU.
pub fn handle(vm: &Vm, vcpu: usize, _frame: &mut TrapFrame) {
    loop {
        let intid = icc::ack();
        if is_special(intid) {
            break;
        }
        // EOImode = 1: this is the priority drop only.
        icc::eoi(intid);
        if intid == layout::VTIMER_INTID {
            // Stays active until the guest deactivates its virtual copy,
            // which the hardware-linked list register forwards (§4.2.2).
            let _ = vm.vgic.lock().set_level(intid, Some(vcpu), true);
            continue;
        }
        if Some(intid) == crate::console::rx_intid() {
            receive_console(vm);
        }
        // KICK_SGI and the maintenance interrupt only make us look at the
        // list registers, which happens below for every exit.
        icc::deactivate(intid);
    }
}

/// Moves received bytes from the physical UART to the guest's PL011.
fn receive_console(vm: &Vm) {
    let mut uart = vm.uart.lock();
    while let Some(b) = crate::console::read_byte() {
        if !uart.push_rx(b) {
            break;
        }
    }
    let line = uart.interrupt_line();
    drop(uart);
    set_spi(vm, layout::UART_INTID, line);
}

/// Sets an emulated device's SPI level and wakes the vCPU that should see it.
pub fn set_spi(vm: &Vm, intid: u32, level: bool) {
    let target = vm.vgic.lock().set_level(intid, None, level);
    if let Ok(Some(v)) = target {
        kick(vm, v);
    }
}

pub fn kick_mask(vm: &Vm, me: usize, mask: u32) {
    for v in 0..vm.vcpus {
        if mask & (1 << v) != 0 && v != me {
            kick(vm, v);
        }
    }
}

fn kick(vm: &Vm, vcpu: usize) {
    if vcpu != arch_hal::el2::cpu_index() {
        icc::send_sgi(regs::sgi1r(layout::KICK_SGI, vm.mpidrs[vcpu]));
    }
}

/// Reconciles the list registers with the virtual GIC before re-entering.
pub fn sync_and_flush(vm: &Vm, vcpu: usize) {
    let n = ich::list_registers();
    let mut vgic = vm.vgic.lock();
    let mut free = 0u64;
    for i in 0..n {
        let lr = ich::read_lr(i);
        if lr == 0 {
            free |= 1 << i;
            continue;
        }
        let (intid, state) = emul::vgic::lr::decode_v3(lr);
        if state == emul::LrState::Invalid {
            vgic.lr_retired(vcpu, intid, state);
            if intid == layout::VTIMER_INTID {
                // The guest deactivated it, and with it the physical PPI;
                // if the timer still fires, the PPI will be taken again.
                let _ = vgic.set_level(intid, Some(vcpu), false);
            }
            ich::write_lr(i, 0);
            free |= 1 << i;
        }
    }
    let mut full = true;
    for i in 0..n {
        if free & (1 << i) == 0 {
            continue;
        }
        match vgic.next_pending(vcpu) {
            Some(inj) => ich::write_lr(i, emul::vgic::lr::encode_v3(&inj)),
            None => {
                full = false;
                break;
            }
        }
    }
    let uie = if full { ich::hcr_bits::UIE } else { 0 };
    ich::set_hcr(ich::hcr_bits::EN | uie);
}
