//! Register-level behaviour: widths, RAZ/WI, read-only fields, errors.

use super::*;
use crate::AccessError;

#[test]
fn configure_validation() {
    let m = &MPIDRS4;
    assert_eq!(
        VGic::new(Version::V3, 0, 32, &[]).err(),
        Some(VgicError::BadVcpuCount(0))
    );
    assert_eq!(
        VGic::new(Version::V3, 9, 32, &[0; 9]).err(),
        Some(VgicError::BadVcpuCount(9))
    );
    assert_eq!(
        VGic::new(Version::V3, 2, 33, &m[..2]).err(),
        Some(VgicError::BadSpiCount(33))
    );
    assert_eq!(
        VGic::new(Version::V3, 2, 1024, &m[..2]).err(),
        Some(VgicError::BadSpiCount(1024))
    );
    assert_eq!(
        VGic::new(Version::V3, 3, 32, &m[..2]).err(),
        Some(VgicError::MpidrCount {
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        VGic::new(Version::V3, 2, 32, &[0x8000_0001, 0x1]).err(),
        Some(VgicError::DuplicateAffinity {
            first: 0,
            second: 1
        })
    );
    // The largest shape: ITLinesNumber 31, SPIs end at 1019.
    let mut g = VGic::new(Version::V3, 1, MAX_SPI_COUNT, &m[..1]).unwrap();
    assert_eq!(g.dist_read(0x4, 4).unwrap() & 0x1f, 31);
    assert!(g.set_level(1019, None, true).is_ok());
    assert!(g.set_level(1020, None, true).is_err());
    // Every error has a message.
    for e in [
        VgicError::BadVcpuCount(0),
        VgicError::BadSpiCount(1),
        VgicError::BadIntid(1),
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn empty_model_refuses_access() {
    let g = VGic::empty();
    assert_eq!(g.dist_read(0, 4), Err(AccessError::WrongVersion));
    assert_eq!(g.redist_frame(0), None);
    assert_eq!(VGic::default().vcpu_count(), 0);
}

#[test]
fn widths_alignment_and_range() {
    let mut g = v3(2);
    assert_eq!(
        g.dist_read(0x100, 1),
        Err(AccessError::BadWidth {
            offset: 0x100,
            size: 1
        })
    );
    assert_eq!(
        g.dist_read(0x102, 2),
        Err(AccessError::BadWidth {
            offset: 0x102,
            size: 2
        })
    );
    assert_eq!(
        g.dist_write(0x6004, 8, 0),
        Err(AccessError::Misaligned {
            offset: 0x6004,
            size: 8
        })
    );
    assert_eq!(
        g.dist_read(0x1_0000, 4),
        Err(AccessError::OutOfRange { offset: 0x1_0000 })
    );
    assert_eq!(
        g.dist_read(0x0, 8),
        Err(AccessError::BadWidth { offset: 0, size: 8 })
    );
    assert_eq!(g.redist_read(2, 0, 4), Err(AccessError::NoSuchVcpu(2)));
    assert_eq!(
        g.redist_read(0, 0x2_0000, 4),
        Err(AccessError::OutOfRange { offset: 0x2_0000 })
    );
    assert_eq!(g.dist_read_v2(0, 0, 4), Err(AccessError::WrongVersion));
    let g2 = v2(1);
    assert_eq!(g2.dist_read(0, 4), Err(AccessError::WrongVersion));
    assert_eq!(g2.redist_read(0, 0, 4), Err(AccessError::WrongVersion));
    assert_eq!(g2.redist_frame(0), None);
    assert_eq!(g2.dist_read_v2(1, 0, 4), Err(AccessError::NoSuchVcpu(1)));
    // Reserved space accepts any well-formed access: RAZ/WI.
    assert_eq!(g.dist_read(0x10, 4), Ok(0));
    assert_eq!(g.dist_read(0x8000, 8), Ok(0));
    assert_eq!(g.dist_write(0xf00, 4, 0xffff_ffff), Ok(Update::NONE));
    assert_eq!(g.redist_read(0, 0x70, 8), Ok(0), "GICR_PROPBASER");
    assert_eq!(g2.dist_read_v2(0, 0x2000, 4), Ok(0));
}

#[test]
fn read_only_and_raz_wi_registers() {
    let mut g = v3(2);
    let typer = g.dist_read(0x4, 4).unwrap();
    let _ = g.dist_write(0x4, 4, 0).unwrap();
    assert_eq!(g.dist_read(0x4, 4), Ok(typer));
    // ARE and DS stay set; RWP clear.
    let _ = g.dist_write(0x0, 4, 0).unwrap();
    assert_eq!(g.dist_read(0x0, 4), Ok(0x50));
    // IGRPMODR, NSACR: RAZ/WI with DS == 1.
    let _ = g.dist_write(0xd04, 4, !0).unwrap();
    assert_eq!(g.dist_read(0xd04, 4), Ok(0));
    let _ = g.redist_write(0, SGI_BASE + 0xd00, 4, !0).unwrap();
    assert_eq!(g.redist_read(0, SGI_BASE + 0xd00, 4), Ok(0));
    // GICD words for INTIDs 0-31 are RAZ/WI with affinity routing.
    let _ = g.dist_write(0x100, 4, !0).unwrap();
    assert_eq!(g.redist_read(0, SGI_BASE + 0x100, 4), Ok(0));
    // ITARGETSR: RAZ/WI in GICv3.
    let _ = g.dist_write(0x820, 4, !0).unwrap();
    assert_eq!(g.dist_read(0x820, 4), Ok(0));
    // SGI_base beyond INTID 31 (extended PPI range): RAZ/WI.
    let _ = g.redist_write(0, SGI_BASE + 0x104, 4, !0).unwrap();
    assert_eq!(g.redist_read(0, SGI_BASE + 0x104, 4), Ok(0));
    // SGI and PPI configuration is fixed; SPI configuration is not.
    let _ = g.redist_write(0, SGI_BASE + 0xc00, 4, 0).unwrap();
    let _ = g.redist_write(0, SGI_BASE + 0xc04, 4, !0).unwrap();
    assert_eq!(g.redist_read(0, SGI_BASE + 0xc00, 4), Ok(0xaaaa_aaaa));
    assert_eq!(g.redist_read(0, SGI_BASE + 0xc04, 4), Ok(0));
    let _ = g.dist_write(0xc08, 4, !0).unwrap();
    assert_eq!(g.dist_read(0xc08, 4), Ok(0xaaaa_aaaa), "bit 0 RES0");
    // Unimplemented SPIs (beyond 127): RAZ/WI.
    let _ = g.dist_write(0x110, 4, !0).unwrap();
    assert_eq!(g.dist_read(0x110, 4), Ok(0));
    assert_eq!(g.dist_read(0x6000 + 8 * 200, 8), Ok(0));
    // GICR_TYPER is read-only, GICR_CTLR ignores EnableLPIs.
    let typer = g.redist_read(1, 0x8, 8).unwrap();
    let _ = g.redist_write(1, 0x8, 8, 0).unwrap();
    assert_eq!(g.redist_read(1, 0x8, 8), Ok(typer));
    assert_eq!(typer, (1 << 32) | (1 << 8) | (1 << 4));
    let _ = g.redist_write(0, 0x0, 4, 1).unwrap();
    assert_eq!(g.redist_read(0, 0x0, 4), Ok(0));
}

#[test]
fn priorities_bytes_and_mask() {
    let mut g = v3(1);
    let _ = g.dist_write(0x420, 4, 0x1234_5678).unwrap();
    assert_eq!(g.dist_read(0x420, 4), Ok(0x1030_5078), "low 3 bits RAZ");
    let _ = g.dist_write(0x423, 1, 0xff).unwrap();
    assert_eq!(g.dist_read(0x423, 1), Ok(0xf8));
    assert_eq!(g.dist_read(0x420, 4), Ok(0xf830_5078));
    let _ = g.redist_write(0, SGI_BASE + 0x41b, 1, 0x88).unwrap();
    assert_eq!(g.redist_read(0, SGI_BASE + 0x418, 4), Ok(0x8800_0000));
}

#[test]
fn irouter_halves_and_typer_halves() {
    let mut g = v3(4);
    let off = 0x6000 + 8 * 33;
    let _ = g.dist_write(off, 4, 0x8000_0002).unwrap();
    let _ = g.dist_write(off + 4, 4, 0x7).unwrap();
    assert_eq!(g.dist_read(off, 8), Ok(0x7_8000_0002));
    assert_eq!(g.dist_read(off, 4), Ok(0x8000_0002));
    assert_eq!(g.dist_read(off + 4, 4), Ok(0x7));
    // AArch32 Linux reads GICR_TYPER as two words.
    let lo = g.redist_read(3, 0x8, 4).unwrap();
    let hi = g.redist_read(3, 0xc, 4).unwrap();
    assert_eq!((hi << 32) | lo, g.redist_read(3, 0x8, 8).unwrap());
    assert_eq!(hi, 3);
    assert_eq!(lo, (3 << 8) | (1 << 4), "Processor_Number 3, Last");
    assert_eq!(g.redist_read(2, 0x8, 4).unwrap() & (1 << 4), 0);
    assert_eq!(
        g.redist_frame(3 * REDIST_FRAME_SIZE + 0x1_0100),
        Some((3, 0x1_0100))
    );
    // A single-vCPU guest's only redistributor is also the last.
    let one = v3(1);
    assert_ne!(one.redist_read(0, 0x8, 8).unwrap() & (1 << 4), 0);
}

#[test]
fn waker_handshake() {
    let mut g = v3(1);
    assert_eq!(g.redist_read(0, 0x14, 4), Ok(0b110));
    let _ = g.redist_write(0, 0x14, 4, 0).unwrap();
    assert_eq!(g.redist_read(0, 0x14, 4), Ok(0));
    // gic_enable_redist(false) as on CPU_PM_ENTER.
    let _ = g.redist_write(0, 0x14, 4, 0b10).unwrap();
    assert_eq!(g.redist_read(0, 0x14, 4), Ok(0b110));
}

#[test]
fn id_registers() {
    let g = v3(1);
    assert_eq!(g.dist_read(0xffe8, 4), Ok(0x3b));
    assert_eq!(g.redist_read(0, 0xffe8, 4), Ok(0x3b));
    assert_eq!(g.dist_read(0xfff0, 4), Ok(0x0d));
    assert_eq!(g.dist_read(0xfffc, 4), Ok(0xb1));
    assert_eq!(g.redist_read(0, 0x4, 4), g.dist_read(0x8, 4));
    let g2 = v2(1);
    assert_eq!(g2.dist_read_v2(0, 0xfe8, 4), Ok(0x2b));
}

#[test]
fn v2_targets_mask_and_typer() {
    let mut g = v2(2);
    // Bits for CPUs that do not exist are dropped.
    let _ = g.dist_write_v2(0, 0x820, 4, 0xffff_ffff).unwrap();
    assert_eq!(g.dist_read_v2(1, 0x820, 4), Ok(0x0303_0303));
    // Multiple targets: the lowest-numbered CPU takes it.
    let _ = g.dist_write_v2(0, 0x0, 4, 1).unwrap();
    let _ = g.dist_write_v2(0, 0x104, 4, 1).unwrap();
    assert_eq!(g.set_level(32, None, true), Ok(Some(0)));
    let up = g.dist_write_v2(0, 0x820, 1, 0x2).unwrap();
    assert_eq!(up.kick, 0b11);
    assert!(g.has_pending(1) && !g.has_pending(0));
    // ITLinesNumber 3 (128 INTIDs), CPUNumber 1 (two CPUs).
    assert_eq!(g.dist_read_v2(0, 0x4, 4), Ok(0x23));
}
