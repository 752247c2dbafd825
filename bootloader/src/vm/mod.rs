//! The virtual machine: one Linux guest, vCPU i on pCPU i.
//!
//! State shared between CPUs lives in `VM` behind IRQ-safe locks; each
//! device has its own lock, always taken alone or before the console.

pub mod build;
pub mod cpu;
pub mod exits;
pub mod irq;
pub mod layout;
pub mod mmio_bus;

use crate::guest_ram::GuestRam;
use crate::root_disk::RootDisk;
use arch_hal::el2::GuestControls;
use arch_hal::irq_mutex::IrqMutex;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use hyp_core::psci_guest::VcpuPower;
use spin::Once;
use virtio::VirtioBlkMmio;

pub const MAX_VCPUS: usize = crate::cpus::MAX_CPUS;

pub struct Vm {
    pub ram: GuestRam,
    pub vcpus: usize,
    pub mpidrs: [u64; MAX_VCPUS],
    pub controls: GuestControls,
    pub maintenance_intid: u32,
    power: [AtomicU8; MAX_VCPUS],
    fault_pc: [AtomicU64; MAX_VCPUS],
    fault_streak: [AtomicU32; MAX_VCPUS],
    pub vgic: IrqMutex<emul::VGic>,
    pub uart: IrqMutex<emul::VPl011>,
    /// The guest's root disk, when the host has a disk to back it.
    pub blk: Option<IrqMutex<VirtioBlkMmio<RootDisk>>>,
}

static VM: Once<Vm> = Once::new();

pub fn install(vm: Vm) -> &'static Vm {
    VM.call_once(|| vm)
}

/// The VM, once the boot CPU has built it.
pub fn get() -> Option<&'static Vm> {
    VM.get()
}

impl Vm {
    pub fn power(&self, vcpu: usize) -> VcpuPower {
        match self.power.get(vcpu).map(|p| p.load(Ordering::Acquire)) {
            Some(1) => VcpuPower::OnPending,
            Some(2) => VcpuPower::On,
            _ => VcpuPower::Off,
        }
    }

    pub fn set_power(&self, vcpu: usize, state: VcpuPower) {
        let v = match state {
            VcpuPower::Off => 0,
            VcpuPower::OnPending => 1,
            VcpuPower::On => 2,
        };
        if let Some(p) = self.power.get(vcpu) {
            p.store(v, Ordering::Release);
        }
    }

    /// Records a fault injected at `pc`; returns how many nested faults in a
    /// row hit the same pc (only this vCPU's own CPU touches its slots).
    ///
    /// `guest_elr` is the guest's ELR_EL1 now. A fault counts as nested when
    /// the guest never left the exception we injected last time: ELR_EL1
    /// still holds the pc we wrote into it (that same pc). A guest that
    /// handles each fault and returns past it (ELR_EL1 moved on, as a probe
    /// loop or a fixup handler does) starts a new streak, however often it
    /// faults at the same pc.
    pub fn note_fault(&self, vcpu: usize, pc: u64, guest_elr: u64) -> u32 {
        let (Some(last), Some(streak)) = (self.fault_pc.get(vcpu), self.fault_streak.get(vcpu))
        else {
            return 0;
        };
        if last.swap(pc, Ordering::Relaxed) == pc && guest_elr == pc {
            streak.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            streak.store(1, Ordering::Relaxed);
            1
        }
    }

    pub fn vcpu_of_mpidr(&self, mpidr: u64) -> Option<usize> {
        let mpidr = mpidr & 0xff_00ff_ffff;
        self.mpidrs[..self.vcpus].iter().position(|&m| m == mpidr)
    }

    pub fn new(
        ram: GuestRam,
        mpidrs: &[u64],
        controls: GuestControls,
        maintenance_intid: u32,
        vgic: emul::VGic,
        blk: Option<VirtioBlkMmio<RootDisk>>,
    ) -> Self {
        let mut ids = [0u64; MAX_VCPUS];
        for (slot, m) in ids.iter_mut().zip(mpidrs) {
            *slot = *m;
        }
        Self {
            ram,
            vcpus: mpidrs.len().min(MAX_VCPUS),
            mpidrs: ids,
            controls,
            maintenance_intid,
            power: [const { AtomicU8::new(0) }; MAX_VCPUS],
            fault_pc: [const { AtomicU64::new(u64::MAX) }; MAX_VCPUS],
            fault_streak: [const { AtomicU32::new(0) }; MAX_VCPUS],
            vgic: IrqMutex::new(vgic),
            uart: IrqMutex::new(emul::VPl011::new()),
            blk: blk.map(IrqMutex::new),
        }
    }
}

/// Before power-off or reset: make what the guest wrote durable.
pub fn shutdown() {
    if let Some(blk) = get().and_then(|vm| vm.blk.as_ref()) {
        let mut blk = blk.lock();
        let stats = blk.stats();
        if let Err(e) = virtio::BlockBackend::flush(blk.backend_mut()) {
            log::error!("root disk: flush failed: {e}");
        }
        log::info!(
            "root disk: {} requests, {} KiB read, {} KiB written, {} errors",
            stats.requests,
            stats.bytes_read >> 10,
            stats.bytes_written >> 10,
            stats.io_errors
        );
    }
}
