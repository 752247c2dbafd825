//! Routes a guest MMIO access (a Stage-2 fault on an unmapped IPA) to the
//! emulated device at that address.

use super::{layout, Vm};
use core::fmt;

#[derive(Clone, Copy, Debug)]
pub enum BusError {
    /// No device lives at this IPA.
    Unmapped,
    /// The device refused the access (size, alignment, read-only...).
    Refused(&'static str),
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unmapped => write!(f, "no device at this address"),
            Self::Refused(d) => write!(f, "{d} refused the access"),
        }
    }
}

fn offset_in(region: dtb::Region, ipa: u64) -> Option<u64> {
    region.contains(ipa).then(|| ipa - region.base)
}

/// Performs a read of `size` bytes at `ipa` for `vcpu`.
pub fn read(vm: &Vm, vcpu: usize, ipa: u64, size: u8) -> Result<u64, BusError> {
    if let Some(off) = offset_in(layout::GICD, ipa) {
        let g = vm.vgic.lock();
        let r = match g.version() {
            emul::Version::V2 => g.dist_read_v2(vcpu, off, size),
            emul::Version::V3 => g.dist_read(off, size),
        };
        return r.map_err(|_| BusError::Refused("GIC distributor"));
    }
    if let Some(off) = redistributor_offset(vm, ipa) {
        let g = vm.vgic.lock();
        let (target, off) = g.redist_frame(off).ok_or(BusError::Unmapped)?;
        return g
            .redist_read(target, off, size)
            .map_err(|_| BusError::Refused("GIC redistributor"));
    }
    if let Some(off) = offset_in(layout::UART, ipa) {
        let v = vm
            .uart
            .lock()
            .mmio_read(off, size)
            .map_err(|_| BusError::Refused("PL011"))?;
        // A read may have made room in the receive FIFO: move waiting input
        // in; this also updates the interrupt line.
        super::irq::receive_console(vm);
        return Ok(v as u64);
    }
    if let (Some(off), Some(blk)) = (offset_in(layout::VIRTIO_BLK, ipa), vm.blk.as_ref()) {
        let v = blk
            .lock()
            .mmio_read(off, size)
            .map_err(|_| BusError::Refused("virtio-blk"))?;
        return Ok(v as u64);
    }
    Err(BusError::Unmapped)
}

/// Performs a write of `size` bytes of `value` at `ipa` for `vcpu`.
pub fn write(vm: &Vm, vcpu: usize, ipa: u64, size: u8, value: u64) -> Result<(), BusError> {
    if let Some(off) = offset_in(layout::GICD, ipa) {
        let mut g = vm.vgic.lock();
        let update = match g.version() {
            emul::Version::V2 => g.dist_write_v2(vcpu, off, size, value),
            emul::Version::V3 => g.dist_write(off, size, value),
        }
        .map_err(|_| BusError::Refused("GIC distributor"))?;
        drop(g);
        super::irq::kick_mask(vm, vcpu, update.kick);
        return Ok(());
    }
    if let Some(off) = redistributor_offset(vm, ipa) {
        let mut g = vm.vgic.lock();
        let (target, off) = g.redist_frame(off).ok_or(BusError::Unmapped)?;
        let update = g
            .redist_write(target, off, size, value)
            .map_err(|_| BusError::Refused("GIC redistributor"))?;
        drop(g);
        super::irq::kick_mask(vm, vcpu, update.kick);
        return Ok(());
    }
    // Device interrupt levels are applied while the device lock is held, so
    // two CPUs cannot apply them out of order and leave the virtual GIC with
    // a stale level (a lost interrupt). Lock order: device, then vGIC.
    if let Some(off) = offset_in(layout::UART, ipa) {
        let mut uart = vm.uart.lock();
        uart.mmio_write(off, size, value as u32, &mut |b| {
            crate::console::write_byte(b)
        })
        .map_err(|_| BusError::Refused("PL011"))?;
        super::irq::set_spi(vm, layout::UART_INTID, uart.interrupt_line());
        return Ok(());
    }
    if let (Some(off), Some(blk)) = (offset_in(layout::VIRTIO_BLK, ipa), vm.blk.as_ref()) {
        let mut ram = vm.ram;
        let mut blk = blk.lock();
        let before = refusals(&blk.stats());
        blk.mmio_write(off, size, value as u32, &mut ram)
            .map_err(|_| BusError::Refused("virtio-blk"))?;
        let stats = blk.stats();
        if refusals(&stats) != before {
            // The device answered with IOERR/UNSUPP or DEVICE_NEEDS_RESET
            // (it never touches memory outside guest RAM); say why, since
            // the guest only sees a status code.
            if let Some(e) = stats.last_error {
                log::warn!("guest vCPU {vcpu}: virtio-blk request refused: {e}");
            }
        }
        // QueueReady = 1 on a queue the device will not run (a size above
        // QueueNumMax or not a power of two) reads back 0 (virtio v1.2
        // §4.2.2): the guest learns it that way, the log says so.
        if off == QUEUE_READY && value == 1 && blk.mmio_read(QUEUE_READY, 4) == Ok(0) {
            log::warn!("guest vCPU {vcpu}: virtio-blk refused to enable a queue it cannot run");
        }
        super::irq::set_spi(vm, layout::VIRTIO_BLK_INTID, blk.interrupt_line());
        return Ok(());
    }
    Err(BusError::Unmapped)
}

/// The offset into the GICv3 redistributor region, if `ipa` is in it
/// (GICv2 has none: its CPU interface is mapped, not trapped).
fn redistributor_offset(vm: &Vm, ipa: u64) -> Option<u64> {
    if vm.vgic.lock().version() == emul::Version::V2 {
        return None;
    }
    offset_in(layout::gicr(vm.vcpus), ipa)
}

/// virtio-mmio QueueReady (virtio v1.2 §4.2.2).
const QUEUE_READY: u64 = 0x44;

/// Requests the virtio-blk device has refused so far, of any kind.
fn refusals(s: &virtio::Stats) -> u64 {
    s.io_errors + s.unsupported + s.needs_reset
}
