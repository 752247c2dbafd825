//! The physical GIC frames, checked, and the Stage-2 window that gives a
//! GICv2 guest its CPU interface.

use dtb::{GicVersion, HostInfo, Region};

use crate::error::PlatformError;

/// A GICC or GICV frame: GICC_DIR / GICV_DIR are at offset 0x1000 (IHI
/// 0048B §4.1.3, §5.5).
pub const CPU_INTERFACE_FRAME: u64 = 0x2000;
/// Stage-2 mappings are made of 4 KiB pages.
const PAGE: u64 = 0x1000;

/// A GICv2 with the virtualization extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicV2Frames {
    pub distributor: Region,
    /// GICC, for the hypervisor's own interrupts (8 KiB).
    pub cpu_interface: Region,
    /// GICH, the virtual interface control (banked per CPU).
    pub hyp_interface: Region,
    /// GICV, the guest's CPU interface (8 KiB).
    pub vcpu_interface: Region,
    /// The maintenance PPI's INTID, if the node names it.
    pub maintenance_intid: Option<u32>,
}

/// A GICv3 (its ICH_* virtual interface is in system registers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicV3Frames {
    pub distributor: Region,
    /// The first redistributor region.
    pub redistributor: Region,
    pub maintenance_intid: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicFrames {
    V2(GicV2Frames),
    V3(GicV3Frames),
}

/// An IPA → PA Device mapping for the guest's Stage-2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage2Window {
    pub ipa: u64,
    pub pa: u64,
    pub size: u64,
}

/// The frames of the tree's GIC; a GICv2 must have GICC, GICH and GICV
/// (`arm,gic.yaml` `reg` entries 2-4), each CPU-interface frame 8 KiB.
pub fn frames(host: &HostInfo) -> Result<GicFrames, PlatformError> {
    let info = host.gic.as_ref().ok_or(PlatformError::NoGic)?;
    match info.version {
        GicVersion::V3 => Ok(GicFrames::V3(GicV3Frames {
            distributor: info.distributor,
            redistributor: info
                .redistributor
                .ok_or(PlatformError::MissingGicFrame("GICR"))?,
            maintenance_intid: info.maintenance_intid,
        })),
        GicVersion::V2 => {
            let cpu_interface = info
                .cpu_interface
                .ok_or(PlatformError::MissingGicFrame("GICC"))?;
            let hyp_interface = info
                .hyp_interface
                .ok_or(PlatformError::MissingGicFrame("GICH"))?;
            let vcpu_interface = info
                .vcpu_interface
                .ok_or(PlatformError::MissingGicFrame("GICV"))?;
            at_least("GICC", cpu_interface, CPU_INTERFACE_FRAME)?;
            at_least("GICV", vcpu_interface, CPU_INTERFACE_FRAME)?;
            // GICH_LR63 ends at 0x200 (IHI 0048B Table 5-1).
            at_least("GICH", hyp_interface, 0x200)?;
            Ok(GicFrames::V2(GicV2Frames {
                distributor: info.distributor,
                cpu_interface,
                hyp_interface,
                vcpu_interface,
                maintenance_intid: info.maintenance_intid,
            }))
        }
    }
}

fn at_least(frame: &'static str, r: Region, needed: u64) -> Result<(), PlatformError> {
    if r.size < needed {
        return Err(PlatformError::GicFrameTooSmall {
            frame,
            size: r.size,
            needed,
        });
    }
    Ok(())
}

impl GicV2Frames {
    /// The Stage-2 mapping that shows the hardware GICV to the guest where
    /// its device tree puts the GICC (`guest_gicc_ipa`): 8 KiB, to be mapped
    /// Device-nGnRE read/write. QEMU `virt`: PA 0x0804_0000 at IPA
    /// 0x0801_0000; Raspberry Pi 5: PA 0x10_7fff_e000.
    pub fn guest_cpu_interface(&self, guest_gicc_ipa: u64) -> Result<Stage2Window, PlatformError> {
        let pa = self.vcpu_interface.base;
        if !pa.is_multiple_of(PAGE) {
            return Err(PlatformError::Unaligned {
                what: "GICV base",
                addr: pa,
            });
        }
        if !guest_gicc_ipa.is_multiple_of(PAGE) {
            return Err(PlatformError::Unaligned {
                what: "guest GICC IPA",
                addr: guest_gicc_ipa,
            });
        }
        Ok(Stage2Window {
            ipa: guest_gicc_ipa,
            pa,
            size: CPU_INTERFACE_FRAME,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dtb::GicInfo;

    fn host_with(gic: GicInfo) -> HostInfo {
        let mut memory = dtb::Regions::new();
        memory.push(Region::new(0, 0x1000_0000)).unwrap();
        HostInfo {
            memory,
            reserved: dtb::Regions::new(),
            cpu_count: 1,
            cpu_mpidrs: [0; dtb::MAX_CPUS],
            psci: None,
            uart: None,
            gic: Some(gic),
            timer: None,
            virtio_mmio: dtb::BoundedList::new(),
        }
    }

    fn v2(gicc: u64, gicv: Option<Region>) -> GicInfo {
        GicInfo {
            version: GicVersion::V2,
            distributor: Region::new(0x0800_0000, 0x1_0000),
            redistributor: None,
            redistributors: dtb::Regions::new(),
            cpu_interface: Some(Region::new(0x0801_0000, gicc)),
            hyp_interface: Some(Region::new(0x0803_0000, 0x1_0000)),
            vcpu_interface: gicv,
            maintenance_intid: Some(25),
            its: None,
        }
    }

    #[test]
    fn v2_needs_all_frames() {
        let h = host_with(v2(0x2000, None));
        assert_eq!(frames(&h), Err(PlatformError::MissingGicFrame("GICV")));
        let h = host_with(v2(0x1000, Some(Region::new(0x0804_0000, 0x2000))));
        assert_eq!(
            frames(&h),
            Err(PlatformError::GicFrameTooSmall {
                frame: "GICC",
                size: 0x1000,
                needed: 0x2000
            })
        );
    }

    #[test]
    fn qemu_gicv_window() {
        let h = host_with(v2(0x1_0000, Some(Region::new(0x0804_0000, 0x1_0000))));
        let Ok(GicFrames::V2(f)) = frames(&h) else {
            panic!("expected GICv2 frames");
        };
        assert_eq!(
            f.guest_cpu_interface(0x0801_0000),
            Ok(Stage2Window {
                ipa: 0x0801_0000,
                pa: 0x0804_0000,
                size: 0x2000
            })
        );
        assert!(matches!(
            f.guest_cpu_interface(0x0801_0800),
            Err(PlatformError::Unaligned { .. })
        ));
    }
}
