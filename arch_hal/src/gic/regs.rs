//! GICv3 register offsets and field helpers (IHI 0069H chapter 12).

pub mod gicd {
    pub const CTLR: usize = 0x0000;
    pub const TYPER: usize = 0x0004;
    pub const IGROUPR: usize = 0x0080;
    pub const ISENABLER: usize = 0x0100;
    pub const ICENABLER: usize = 0x0180;
    pub const ICPENDR: usize = 0x0280;
    pub const ICACTIVER: usize = 0x0380;
    pub const IPRIORITYR: usize = 0x0400;
    pub const ICFGR: usize = 0x0c00;
    pub const IROUTER: usize = 0x6000;
    /// GICD_CTLR.RWP: register write pending.
    pub const CTLR_RWP: u32 = 1 << 31;
    /// Non-secure view (or DS=1): EnableGrp1A is bit 1, ARE_NS bit 4.
    pub const CTLR_ENABLE_GRP1A: u32 = 1 << 1;
    pub const CTLR_ARE_NS: u32 = 1 << 4;
}

pub mod gicr {
    /// Each redistributor is two 64 KiB frames: RD_base then SGI_base.
    pub const FRAME_STRIDE: usize = 0x2_0000;
    pub const SGI_BASE: usize = 0x1_0000;
    pub const CTLR: usize = 0x0000;
    pub const TYPER: usize = 0x0008;
    pub const WAKER: usize = 0x0014;
    pub const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
    pub const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
    /// GICR_TYPER.Last: this is the last redistributor in the region.
    pub const TYPER_LAST: u64 = 1 << 4;
    pub const IGROUPR0: usize = SGI_BASE + 0x0080;
    pub const ISENABLER0: usize = SGI_BASE + 0x0100;
    pub const ICENABLER0: usize = SGI_BASE + 0x0180;
    pub const ICPENDR0: usize = SGI_BASE + 0x0280;
    pub const IPRIORITYR: usize = SGI_BASE + 0x0400;
}

/// The affinity value GICR_TYPER[63:32] holds for a CPU with this MPIDR:
/// Aff3.Aff2.Aff1.Aff0 packed in 32 bits (IHI 0069H §12.11.37).
pub fn typer_affinity(mpidr: u64) -> u32 {
    let aff0 = mpidr & 0xff;
    let aff1 = (mpidr >> 8) & 0xff;
    let aff2 = (mpidr >> 16) & 0xff;
    let aff3 = (mpidr >> 32) & 0xff;
    ((aff3 << 24) | (aff2 << 16) | (aff1 << 8) | aff0) as u32
}

/// GICD_IROUTER value routing an SPI to the CPU with this MPIDR.
pub fn irouter(mpidr: u64) -> u64 {
    mpidr & 0xff_00ff_ffff
}

/// ICC_SGI1R_EL1 value sending SGI `intid` to the CPU with this MPIDR
/// (IHI 0069H §12.2.23: TargetList bit = Aff0, for Aff0 < 16).
pub fn sgi1r(intid: u32, mpidr: u64) -> u64 {
    let aff0 = mpidr & 0xf;
    let aff1 = (mpidr >> 8) & 0xff;
    let aff2 = (mpidr >> 16) & 0xff;
    let aff3 = (mpidr >> 32) & 0xff;
    (aff3 << 48) | (aff2 << 32) | ((intid as u64 & 0xf) << 24) | (aff1 << 16) | (1 << aff0)
}

/// Index of the redistributor for `mpidr` among frames whose GICR_TYPER
/// values are `typers` (stopping at the one marked Last).
pub fn find_redistributor(typers: impl Iterator<Item = u64>, mpidr: u64) -> Option<usize> {
    let want = typer_affinity(mpidr);
    for (i, typer) in typers.enumerate() {
        if (typer >> 32) as u32 == want {
            return Some(i);
        }
        if typer & gicr::TYPER_LAST != 0 {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_packing() {
        assert_eq!(typer_affinity(0x8000_0003), 3);
        assert_eq!(typer_affinity(0x01_0002_0304), 0x0102_0304);
        assert_eq!(irouter(0x8000_0102), 0x102);
    }

    #[test]
    fn sgi_encoding() {
        let v = sgi1r(8, 0x8000_0002);
        assert_eq!(v & 0xffff, 1 << 2);
        assert_eq!((v >> 24) & 0xf, 8);
        assert_eq!(sgi1r(1, 0x0000_0105) & 0xffff, 1 << 5);
        assert_eq!((sgi1r(1, 0x0000_0105) >> 16) & 0xff, 1);
    }

    #[test]
    fn finds_frames() {
        let typers = [
            0u64 << 32,
            1u64 << 32,
            (2u64 << 32) | gicr::TYPER_LAST,
            3u64 << 32,
        ];
        assert_eq!(find_redistributor(typers.iter().copied(), 1), Some(1));
        assert_eq!(find_redistributor(typers.iter().copied(), 2), Some(2));
        assert_eq!(
            find_redistributor(typers.iter().copied(), 3),
            None,
            "stops at Last"
        );
    }
}
