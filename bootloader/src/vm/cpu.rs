//! Per-CPU set-up and guest entry: the same on the boot CPU and on
//! secondaries started by the guest's PSCI CPU_ON.

use super::{layout, Vm};
use crate::gic::HostGic;
use arch_hal::el2::{self, GuestControls};
use arch_hal::exception::TrapFrame;
use hyp_core::psci_guest::VcpuPower;

/// Prepares this CPU's GIC and EL2 controls for `vcpu` and enters the guest
/// with `frame`. Never returns: from here on the CPU runs the guest and
/// comes back only through exceptions.
pub fn enter(vm: &'static Vm, gic: &HostGic, vcpu: usize, frame: TrapFrame) -> ! {
    let mpidr = el2::mpidr();
    let enable = [layout::KICK_SGI, layout::VTIMER_INTID, vm.maintenance_intid];
    if let Err(e) = gic.init_cpu(vcpu, mpidr, &enable) {
        panic!("CPU {vcpu}: {e}");
    }
    gic.reset_virtual();
    // VMPIDR_EL2 bit 31 is RES1, as in MPIDR_EL1.
    let controls = GuestControls {
        vmpidr: mpidr | (1 << 31),
        ..vm.controls
    };
    // SAFETY: the Stage-2 tables in `controls` map guest RAM only and were
    // written before the VM was published.
    unsafe { el2::configure(&controls) };
    vm.set_power(vcpu, VcpuPower::On);
    super::irq::flush(vm, vcpu);
    // SAFETY: this CPU's stack top, with nothing live on it that is needed
    // after the switch (this function never returns).
    unsafe { arch_hal::exception::enter_lower_el(&frame, crate::cpus::stack_top(vcpu)) }
}
