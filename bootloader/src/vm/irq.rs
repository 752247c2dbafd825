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
use arch_hal::gic::is_special;
use arch_hal::irq_mutex::IrqMutex;
use hyp_core::ring::ByteRing;

/// At most this many interrupts are taken per exit, so that a level
/// interrupt whose cause is only cleared by `sync_and_flush` (the
/// maintenance interrupt) cannot keep the CPU in this loop.
const MAX_PER_EXIT: usize = 8;

/// A physical IRQ arrived while the guest ran on this CPU.
pub fn handle(vm: &Vm, vcpu: usize, _frame: &mut TrapFrame) {
    let Some(gic) = crate::gic::get() else { return };
    for _ in 0..MAX_PER_EXIT {
        let ack = gic.ack();
        let intid = ack.intid;
        if is_special(intid) {
            break;
        }
        // EOImode = 1: this is the priority drop only.
        gic.eoi(ack);
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
        // list registers, which `sync_and_flush` does after every exit.
        gic.deactivate(ack);
        if intid == vm.maintenance_intid {
            // Its condition (ICH_MISR_EL2) holds until the list registers
            // are synced; taking it again now would loop.
            break;
        }
    }
}

/// Console input not yet taken by the guest's UART (whose FIFO holds 64
/// bytes): pasted lines and typed-ahead commands wait here. The physical
/// receive interrupt stays enabled and is always drained completely, so it
/// can never keep firing.
static RX_BACKLOG: IrqMutex<ByteRing<4096>> = IrqMutex::new(ByteRing::new());

/// Drains the physical UART into the backlog and moves what fits into the
/// guest's PL011. Called on the receive interrupt and after every guest
/// access to its UART (a read may have made room).
pub fn receive_console(vm: &Vm) {
    // GDB's packets go to the stub; the rest is console input, read only
    // while the backlog has room: otherwise it waits in the UART (and
    // behind it the sender) until the guest reads its own UART, so pasted
    // text is never dropped.
    crate::debug::receive(&|| !RX_BACKLOG.lock().is_full(), &mut |b| {
        RX_BACKLOG.lock().push(b);
    });
    let mut backlog = RX_BACKLOG.lock();
    let mut uart = vm.uart.lock();
    while uart.rx_space() > 0 {
        match backlog.pop() {
            Some(b) => {
                uart.push_rx(b);
            }
            None => break,
        }
    }
    // The level is set while the UART lock is held: computed and applied
    // in one step, so two CPUs cannot apply them out of order and leave
    // the virtual GIC with a stale (lost) level. Lock order: UART, vGIC.
    set_spi(vm, layout::UART_INTID, uart.interrupt_line());
    // Masked while full (the level interrupt would fire without end),
    // unmasked once the guest has made room.
    crate::console::set_rx_interrupt(!backlog.is_full());
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
        if let Some(gic) = crate::gic::get() {
            gic.send_sgi(layout::KICK_SGI, vcpu, vm.mpidrs[vcpu]);
        }
    }
}

/// Hands the list registers the guest has finished with back to the
/// virtual GIC. Runs first on every exit, before the exit is handled: a new
/// physical timer interrupt must find the previous one retired, or the
/// virtual GIC would take the line as still high and drop it.
pub fn sync(vm: &Vm, vcpu: usize) {
    let Some(gic) = crate::gic::get() else { return };
    let mut vgic = vm.vgic.lock();
    for i in 0..gic.list_registers() {
        let Some((intid, state)) = gic.read_lr(i) else {
            continue;
        };
        if state == emul::LrState::Invalid {
            if intid == layout::VTIMER_INTID {
                // The guest deactivated it, and with it the physical PPI;
                // if the timer still fires, the PPI will be taken again.
                let _ = vgic.set_level(intid, Some(vcpu), false);
            }
            vgic.lr_retired(vcpu, intid, state);
            gic.clear_lr(i);
        }
    }
}

/// Fills free list registers with the highest-priority pending interrupts
/// before re-entering the guest, asking for the underflow maintenance
/// interrupt when more are pending than fit (IHI 0069H §4.9).
pub fn flush(vm: &Vm, vcpu: usize) {
    let Some(gic) = crate::gic::get() else { return };
    let mut vgic = vm.vgic.lock();
    for i in 0..gic.list_registers() {
        if gic.read_lr(i).is_some() {
            continue;
        }
        match vgic.next_pending(vcpu) {
            Some(inj) => gic.write_lr(i, &inj),
            None => break,
        }
    }
    let stepping = crate::debug::control::stepping(vcpu);
    gic.set_virtual_control(vgic.has_pending(vcpu), !stepping);
}
