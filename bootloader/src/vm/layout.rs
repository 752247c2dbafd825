//! The guest's physical (IPA) address map: QEMU `virt`'s, so the guest DTB
//! looks familiar, with only the devices the hypervisor emulates.

use dtb::Region;

pub const RAM_IPA: u64 = 0x4000_0000;
pub const GICD: Region = Region::new(0x0800_0000, 0x1_0000);
pub const GICR_BASE: u64 = 0x080a_0000;
/// GICv2: where the guest finds its CPU interface (QEMU virt's GICC); the
/// hardware GICV frame is mapped here in Stage-2 (IHI 0048B §5.5).
pub const GICC_V2: Region = Region::new(0x0801_0000, 0x2000);
pub const UART: Region = Region::new(0x0900_0000, 0x1000);
pub const UART_INTID: u32 = 33;
pub const VIRTIO_BLK: Region = Region::new(0x0a00_0000, 0x200);
/// QEMU's first virtio-mmio slot uses SPI 16.
pub const VIRTIO_BLK_INTID: u32 = 48;
/// SPIs the virtual distributor implements (INTIDs 32..128).
pub const NUM_SPIS: u32 = 96;
/// The guest's virtual timer (PPI 11), forwarded from the physical one.
pub const VTIMER_INTID: u32 = 27;
/// The SGI the hypervisor uses between its own CPUs to say "look at your
/// vCPU's pending interrupts". One of 0-7: with EL3 firmware (TF-A) SGIs
/// 8-15 are the secure world's (Arm platforms' convention; TF-A's qemu
/// platform makes them Group 0/secure), so a kick on 8 would never reach
/// us and vCPUs would only notice interrupts at their next timer tick.
pub const KICK_SGI: u32 = 7;

pub fn gicr(vcpus: usize) -> Region {
    Region::new(GICR_BASE, 0x2_0000 * vcpus as u64)
}

/// The emulated device at `ipa`, for diagnostics (`monitor s2`).
pub fn device_at(ipa: u64) -> Option<&'static str> {
    [
        (GICD, "GIC distributor"),
        (
            Region::new(GICR_BASE, 0x2_0000 * crate::vm::MAX_VCPUS as u64),
            "GIC redistributors",
        ),
        (GICC_V2, "GICv2 CPU interface (mapped on GICv2 hosts)"),
        (UART, "PL011 UART"),
        (VIRTIO_BLK, "virtio-blk"),
    ]
    .into_iter()
    .find(|(r, _)| r.contains(ipa))
    .map(|(_, name)| name)
}
