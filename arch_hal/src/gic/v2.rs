//! The physical GICv2 (GIC-400 on the Raspberry Pi 5, QEMU `virt` with
//! `gic-version=2`), as the hypervisor drives it.
//!
//! GICv2 has no system-register CPU interface: the hypervisor uses the
//! memory-mapped distributor (GICD, IHI 0048B §4.3) and CPU interface (GICC,
//! §4.4) for its own interrupts, and the virtual interface control (GICH,
//! [`super::gich`]) to present virtual interrupts to the guest. The guest gets
//! the hardware's virtual CPU interface (GICV, §5.5) mapped in Stage-2 at the
//! address where it expects its GICC; its distributor is emulated.
//!
//! # Which interrupt group the hypervisor uses
//!
//! The hypervisor runs Non-secure at EL2 and takes IRQs only (no FIQ use).
//! Two host configurations exist, and writing bit 0 of GICD_CTLR and
//! GICC_CTLR enables "our" group in both (this is also what Linux does):
//!
//! - GIC **without** the Security Extensions (QEMU `virt` without
//!   `secure=on`; GICD_TYPER.SecurityExtn = 0): every access sees the one,
//!   Secure-layout register view. GICD_IGROUPRn is read/write and the
//!   hypervisor puts everything in **Group 0**; with GICC_CTLR.FIQEn = 0,
//!   Group 0 interrupts are signalled as IRQ (IHI 0048B §3.4, §4.4.1).
//!   Bit 0 of GICD_CTLR / GICC_CTLR is then EnableGrp0.
//! - GIC **with** the Security Extensions (the GIC-400 always has them;
//!   Raspberry Pi 5 under TF-A): our accesses are Non-secure. GICD_IGROUPRn is
//!   RAZ/WI to them (§4.3.4) and the Secure firmware has already made every
//!   interrupt **Group 1** (Non-secure) except its own (TF-A's GICv2 driver,
//!   `gicv2_spis_configure_defaults()`: "Treat all SPIs as G1NS by
//!   default"; `gicv2_pcpu_distif_init()` likewise for SGIs/PPIs). Writes
//!   to the bits of Secure interrupts are ignored. The Non-secure register
//!   views put EnableGrp1 at bit 0 of GICD_CTLR (§4.3.1) and GICC_CTLR
//!   (§4.4.1), and Non-secure priority writes are shifted into the lower
//!   half of the priority range (§3.3): all our priorities stay equal, which
//!   is all we rely on.
//!
//! # EOImode
//!
//! GICC_CTLR.EOImode (bit 9 in both views) is set: a GICC_EOIR write only
//! drops the running priority, and a separate GICC_DIR write deactivates
//! (§3.2, "Priority drop and interrupt deactivation"; §4.4.15). The
//! hypervisor calls `GicV2::eoi` then `GicV2::deactivate` for its own
//! interrupts, but only `GicV2::eoi` for one forwarded to the guest
//! through a hardware list register (HW = 1, e.g. the virtual timer's PPI
//! 27): the guest's own deactivation of the virtual interrupt then
//! deactivates the physical one (§5.4).

/// GICD register offsets (IHI 0048B §4.1, Table 4-1).
pub mod gicd {
    pub const CTLR: usize = 0x000;
    pub const TYPER: usize = 0x004;
    pub const IIDR: usize = 0x008;
    pub const IGROUPR: usize = 0x080;
    pub const ISENABLER: usize = 0x100;
    pub const ICENABLER: usize = 0x180;
    pub const ISPENDR: usize = 0x200;
    pub const ICPENDR: usize = 0x280;
    pub const ISACTIVER: usize = 0x300;
    pub const ICACTIVER: usize = 0x380;
    pub const IPRIORITYR: usize = 0x400;
    pub const ITARGETSR: usize = 0x800;
    pub const ICFGR: usize = 0xc00;
    pub const SGIR: usize = 0xf00;
    pub const CPENDSGIR: usize = 0xf10;
    pub const SPENDSGIR: usize = 0xf20;
    /// GICD_CTLR bit 0: EnableGrp0 without Security Extensions, EnableGrp1
    /// in the Non-secure view (§4.3.1).
    pub const CTLR_ENABLE: u32 = 1 << 0;
    /// GICD_TYPER.SecurityExtn (§4.3.2).
    pub const TYPER_SECURITY_EXTN: u32 = 1 << 10;
}

/// GICC register offsets (IHI 0048B §4.1, Table 4-2).
pub mod gicc {
    pub const CTLR: usize = 0x0000;
    pub const PMR: usize = 0x0004;
    pub const BPR: usize = 0x0008;
    pub const IAR: usize = 0x000c;
    pub const EOIR: usize = 0x0010;
    pub const RPR: usize = 0x0014;
    pub const HPPIR: usize = 0x0018;
    pub const APR0: usize = 0x00d0;
    pub const IIDR: usize = 0x00fc;
    /// In the second 4 KiB page: a GICC (and GICV) frame is 8 KiB.
    pub const DIR: usize = 0x1000;
    /// GICC_CTLR bit 0: EnableGrp0 without Security Extensions, EnableGrp1
    /// in the Non-secure view (§4.4.1).
    pub const CTLR_ENABLE: u32 = 1 << 0;
    /// GICC_CTLR.FIQBypDisGrp{0,1} / IRQBypDisGrp{0,1}, bits `[8:5]`: kept
    /// as found (firmware's choice), like Linux `gic_cpu_if_up()`.
    pub const CTLR_BYPASS_MASK: u32 = 0b1111 << 5;
    /// GICC_CTLR.EOImodeS (no Security Extensions) / EOImodeNS (Non-secure
    /// view): bit 9 in both layouts (§4.4.1).
    pub const CTLR_EOIMODE: u32 = 1 << 9;
}

/// Size of a GICC or GICV frame: GICC_DIR/GICV_DIR sit at offset 0x1000
/// (IHI 0048B Table 4-2, §5.5).
pub const CPU_INTERFACE_FRAME: u64 = 0x2000;

/// Number of SGIs (INTIDs 0-15) and of private interrupts (SGIs + PPIs).
pub const SGI_COUNT: u32 = 16;
pub const PRIVATE_COUNT: u32 = 32;
/// GICv2 supports at most 8 CPU interfaces (GICD_TYPER.CPUNumber, §4.3.2).
pub const MAX_CPU_INTERFACES: u32 = 8;

/// Interrupt lines the distributor implements: 32 * (ITLinesNumber + 1),
/// capped at 1020 (GICD_TYPER, §4.3.2).
pub fn lines(typer: u32) -> u32 {
    (((typer & 0x1f) + 1) * 32).min(1020)
}

/// Number of CPU interfaces: GICD_TYPER.CPUNumber + 1 (§4.3.2).
pub fn cpu_interfaces(typer: u32) -> u32 {
    ((typer >> 5) & 0x7) + 1
}

/// A GICC_IAR value (§4.4.4): the interrupt ID in `[9:0]` and, for SGIs, the
/// requesting CPU in `[12:10]`. The whole value must be written back to
/// GICC_EOIR and GICC_DIR (§4.4.5, §4.4.15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iar(pub u32);

impl Iar {
    pub const fn intid(self) -> u32 {
        self.0 & 0x3ff
    }
    /// The CPU interface that sent this SGI (0 for other interrupts).
    pub const fn source_cpu(self) -> u32 {
        (self.0 >> 10) & 0x7
    }
    /// `(intid, source_cpu)`.
    pub const fn parts(self) -> (u32, u32) {
        (self.intid(), self.source_cpu())
    }
    /// 1020-1023: nothing to handle and nothing to EOI (IHI 0048B §3.2,
    /// "Special interrupt numbers").
    pub fn is_special(self) -> bool {
        super::is_special(self.intid())
    }
}

/// Which CPUs an SGI goes to (GICD_SGIR.TargetListFilter, §4.3.15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgiTarget {
    /// The CPU interfaces whose bits are set (bit n = CPU interface n).
    List(u8),
    /// Every CPU interface but the sender's.
    Others,
    /// Only the sender.
    Myself,
}

/// GICD_SGIR value (§4.3.15): SGIINTID in `[3:0]`, CPUTargetList in `[23:16]`,
/// TargetListFilter in `[25:24]`. NSATT (bit 15) stays 0: it forwards the SGI
/// only if it is Group 0; Non-secure writes ignore it.
pub fn sgir(intid: u32, target: SgiTarget) -> u32 {
    let (filter, list) = match target {
        SgiTarget::List(mask) => (0, mask),
        SgiTarget::Others => (1, 0),
        SgiTarget::Myself => (2, 0),
    };
    (filter << 24) | (u32::from(list) << 16) | (intid & 0xf)
}

/// The current CPU's interface number, from the value of GICD_ITARGETSR0:
/// its fields are read-only for SGIs/PPIs and "return a value that
/// corresponds only to the processor reading the register" (§4.3.12), so
/// the low byte has exactly the reader's bit set. `None` on a
/// uniprocessor implementation (RAZ) or a malformed value.
///
/// The interface number is not derivable from MPIDR: on the Pi 5 the cores
/// are MPIDR 0x000, 0x100, 0x200, 0x300 (Aff1), on QEMU 0, 1, 2...
pub fn cpu_interface_from_itargetsr0(value: u32) -> Option<u32> {
    let mask = value & 0xff;
    mask.is_power_of_two().then(|| mask.trailing_zeros())
}

/// GICD_ITARGETSRn byte for an SPI: the CPU-targets field, one bit per CPU
/// interface (§4.3.12).
pub fn itargets_byte(cpu_target_mask: u8) -> u8 {
    cpu_target_mask
}

/// GICD_ICFGRn: the word index and the "edge-triggered" bit of `intid`
/// (`Int_config[1]` of its 2-bit field, §4.3.13).
pub fn icfgr_bit(intid: u32) -> (usize, u32) {
    ((intid / 16) as usize, 1 << ((intid % 16) * 2 + 1))
}

/// The word index and bit of `intid` in a 1-bit-per-interrupt register
/// bank (GICD_IGROUPRn, `I[SC]ENABLERn`, `I[SC]PENDRn`, `I[SC]ACTIVERn`).
pub fn bit_reg(intid: u32) -> (usize, u32) {
    ((intid / 32) as usize, 1 << (intid % 32))
}

/// GICC_CTLR value with EOImode set and our group enabled, keeping the
/// bypass-disable bits of `current` (see the module docs).
pub fn gicc_ctlr(current: u32) -> u32 {
    (current & gicc::CTLR_BYPASS_MASK) | gicc::CTLR_EOIMODE | gicc::CTLR_ENABLE
}

/// Errors of `GicV2::send_sgi` and `GicV2::enable_spi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicV2Error {
    /// SGIs are INTIDs 0-15.
    NotAnSgi(u32),
    /// SPIs are INTIDs 32 up to the distributor's line count.
    NotAnSpi { intid: u32, lines: u32 },
    /// A CPU target mask of 0 would leave the SPI pending forever.
    NoTarget,
    /// GICD_ITARGETSR0 did not identify the reading CPU.
    UnknownCpuInterface(u32),
}

impl core::fmt::Display for GicV2Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotAnSgi(i) => write!(f, "INTID {i} is not an SGI (0-15)"),
            Self::NotAnSpi { intid, lines } => {
                write!(
                    f,
                    "INTID {intid} is not an SPI (32-{})",
                    lines.saturating_sub(1)
                )
            }
            Self::NoTarget => write!(f, "SPI routed to no CPU interface"),
            Self::UnknownCpuInterface(v) => {
                write!(f, "GICD_ITARGETSR0 = {v:#x} names no single CPU interface")
            }
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub use driver::GicV2;

#[cfg(target_arch = "aarch64")]
mod driver {
    use super::{gicc, gicd, GicV2Error, Iar, SgiTarget};
    use core::ptr::{read_volatile, write_volatile};

    /// Priority for everything the hypervisor enables. All equal: nothing
    /// preempts at EL2 (IRQs are masked while handling). A Non-secure write
    /// of 0x80 reads back as 0xc0 (IHI 0048B §3.3); still all equal.
    const PRIORITY: u8 = 0x80;

    /// The hypervisor's view of a physical GICv2: distributor, this CPU's
    /// CPU interface and its virtual interface control. GICC and GICH are
    /// banked per CPU at the same addresses, so one value serves all CPUs.
    #[derive(Clone, Copy, Debug)]
    pub struct GicV2 {
        gicd: usize,
        gicc: usize,
        gich: usize,
    }

    impl GicV2 {
        /// # Safety
        /// `gicd`, `gicc` (8 KiB) and `gich` must be the GICv2 frames from
        /// the DTB, mapped as Device memory, and only the hypervisor may
        /// program them.
        pub unsafe fn new(gicd: usize, gicc: usize, gich: usize) -> Self {
            Self { gicd, gicc, gich }
        }

        /// Base of the GICH frame, for `crate::gic::gich::GicH::new`.
        pub fn gich_base(&self) -> usize {
            self.gich
        }

        fn rd(&self, addr: usize) -> u32 {
            // SAFETY: `addr` is inside a GIC frame per `new`'s contract;
            // GIC registers are 32-bit and word-aligned (IHI 0048B §4.1).
            unsafe { read_volatile(addr as *const u32) }
        }
        fn wr(&self, addr: usize, v: u32) {
            // SAFETY: as above.
            unsafe { write_volatile(addr as *mut u32, v) }
        }
        fn wr8(&self, addr: usize, v: u8) {
            // SAFETY: GICD_IPRIORITYRn and GICD_ITARGETSRn are
            // byte-accessible (IHI 0048B §4.1, Table 4-1).
            unsafe { write_volatile(addr as *mut u8, v) }
        }

        pub fn typer(&self) -> u32 {
            self.rd(self.gicd + gicd::TYPER)
        }

        /// Interrupt lines implemented (32 * (ITLinesNumber + 1)).
        pub fn lines(&self) -> u32 {
            super::lines(self.typer())
        }

        /// GICD_TYPER.SecurityExtn: our accesses are Non-secure and the
        /// firmware owns interrupt grouping (see the module docs).
        pub fn has_security_extensions(&self) -> bool {
            self.typer() & gicd::TYPER_SECURITY_EXTN != 0
        }

        /// Distributor: disabled, every SPI disabled, not pending, not
        /// active, priority `PRIORITY`, Group 0 where grouping is ours to
        /// set; then enabled. Called once, on the boot CPU. SPI targets are
        /// set per SPI by [`enable_spi`](Self::enable_spi).
        pub fn init_distributor(&self) {
            self.wr(self.gicd + gicd::CTLR, 0);
            let lines = self.lines();
            let own_groups = !self.has_security_extensions();
            for first in (super::PRIVATE_COUNT..lines).step_by(32) {
                let word = (first / 32) as usize * 4;
                self.wr(self.gicd + gicd::ICENABLER + word, u32::MAX);
                self.wr(self.gicd + gicd::ICPENDR + word, u32::MAX);
                self.wr(self.gicd + gicd::ICACTIVER + word, u32::MAX);
                if own_groups {
                    // Group 0, signalled as IRQ with GICC_CTLR.FIQEn = 0.
                    self.wr(self.gicd + gicd::IGROUPR + word, 0);
                }
            }
            for intid in super::PRIVATE_COUNT..lines {
                self.wr8(self.gicd + gicd::IPRIORITYR + intid as usize, PRIORITY);
            }
            self.wr(self.gicd + gicd::CTLR, gicd::CTLR_ENABLE);
        }

        /// Routes SPI `intid` to the CPU interfaces in `cpu_target_mask`
        /// (GICD_ITARGETSRn byte, §4.3.12), makes it level-sensitive
        /// (GICD_ICFGRn, §4.3.13), gives it `PRIORITY` and enables it.
        pub fn enable_spi(&self, intid: u32, cpu_target_mask: u8) -> Result<(), GicV2Error> {
            let lines = self.lines();
            if !(super::PRIVATE_COUNT..lines).contains(&intid) {
                return Err(GicV2Error::NotAnSpi { intid, lines });
            }
            if cpu_target_mask == 0 {
                return Err(GicV2Error::NoTarget);
            }
            let i = intid as usize;
            self.wr8(self.gicd + gicd::IPRIORITYR + i, PRIORITY);
            self.wr8(
                self.gicd + gicd::ITARGETSR + i,
                super::itargets_byte(cpu_target_mask),
            );
            let (word, edge) = super::icfgr_bit(intid);
            let cfg = self.gicd + gicd::ICFGR + word * 4;
            self.wr(cfg, self.rd(cfg) & !edge);
            let (word, bit) = super::bit_reg(intid);
            self.wr(self.gicd + gicd::ISENABLER + word * 4, bit);
            Ok(())
        }

        /// Disables SPI `intid` (GICD_ICENABLERn, §4.3.6).
        pub fn disable_spi(&self, intid: u32) {
            let (word, bit) = super::bit_reg(intid);
            self.wr(self.gicd + gicd::ICENABLER + word * 4, bit);
        }

        /// This CPU: banked SGIs/PPIs disabled, cleared and prioritised,
        /// the ones in `enable` (INTIDs below 32) enabled, then the CPU
        /// interface opened (PMR 0xff, BPR 0, EOImode 1, enabled). Call on
        /// each CPU after [`init_distributor`](Self::init_distributor).
        pub fn init_cpu(&self, enable: &[u32]) {
            // GICD_I[SC]ENABLER0 etc. are banked per CPU (§4.3.5).
            self.wr(self.gicd + gicd::ICENABLER, u32::MAX);
            self.wr(self.gicd + gicd::ICPENDR, u32::MAX);
            self.wr(self.gicd + gicd::ICACTIVER, u32::MAX);
            if !self.has_security_extensions() {
                self.wr(self.gicd + gicd::IGROUPR, 0);
            }
            for intid in 0..super::PRIVATE_COUNT as usize {
                self.wr8(self.gicd + gicd::IPRIORITYR + intid, PRIORITY);
            }
            let mask = enable
                .iter()
                .filter(|&&i| i < super::PRIVATE_COUNT)
                .fold(0u32, |m, &i| m | (1 << i));
            self.wr(self.gicd + gicd::ISENABLER, mask);

            // Unmask every priority (§4.4.2) and use all priority bits for
            // preemption grouping (§4.4.3; the Non-secure copy has a
            // minimum of 1, which the GIC applies itself).
            self.wr(self.gicc + gicc::PMR, 0xff);
            self.wr(self.gicc + gicc::BPR, 0);
            let ctlr = self.rd(self.gicc + gicc::CTLR);
            self.wr(self.gicc + gicc::CTLR, super::gicc_ctlr(ctlr));
        }

        /// This CPU's interface number (0-7), for ITARGETSR masks and SGI
        /// target lists (see [`super::cpu_interface_from_itargetsr0`]).
        pub fn cpu_interface_id(&self) -> Result<u32, GicV2Error> {
            let v = self.rd(self.gicd + gicd::ITARGETSR);
            super::cpu_interface_from_itargetsr0(v).ok_or(GicV2Error::UnknownCpuInterface(v))
        }

        /// Acknowledges the highest-priority pending interrupt (GICC_IAR,
        /// §4.4.4). Unless [`Iar::is_special`], the caller must
        /// [`eoi`](Self::eoi) it.
        pub fn ack(&self) -> Iar {
            Iar(self.rd(self.gicc + gicc::IAR))
        }

        /// Priority drop (GICC_EOIR, §4.4.5). With EOImode 1 the interrupt
        /// stays active until [`deactivate`](Self::deactivate) or a
        /// hardware list register's guest deactivation.
        pub fn eoi(&self, iar: Iar) {
            self.wr(self.gicc + gicc::EOIR, iar.0);
        }

        /// Deactivation (GICC_DIR, §4.4.15).
        pub fn deactivate(&self, iar: Iar) {
            self.wr(self.gicc + gicc::DIR, iar.0);
        }

        /// Sends SGI `intid` (GICD_SGIR, §4.3.15).
        pub fn send_sgi(&self, intid: u32, target: SgiTarget) -> Result<(), GicV2Error> {
            if intid >= super::SGI_COUNT {
                return Err(GicV2Error::NotAnSgi(intid));
            }
            // Make this CPU's earlier stores visible to the target before
            // it can take the SGI (Arm ARM B2.3, as Linux gic_ipi_send_mask).
            // SAFETY: a barrier has no other effect.
            unsafe { core::arch::asm!("dsb ishst", options(nostack, preserves_flags)) };
            self.wr(self.gicd + gicd::SGIR, super::sgir(intid, target));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typer_decoding() {
        // QEMU virt GICv2: 288 lines (ITLinesNumber 8), CPUNumber from -smp.
        assert_eq!(lines(0x0000_0068), 288);
        assert_eq!(cpu_interfaces(0x0000_0068), 4);
        // GIC-400 on BCM2712: 320 lines, 4 CPUs, SecurityExtn.
        let gic400 = 0x0000_0469;
        assert_eq!(lines(gic400), 320);
        assert_eq!(cpu_interfaces(gic400), 4);
        assert_ne!(gic400 & gicd::TYPER_SECURITY_EXTN, 0);
        // ITLinesNumber 31 would be 1024 lines: capped at 1020.
        assert_eq!(lines(0x1f), 1020);
    }

    #[test]
    fn iar_fields() {
        let iar = Iar((3 << 10) | 5);
        assert_eq!(iar.parts(), (5, 3));
        assert_eq!(Iar(27).parts(), (27, 0));
        assert!(Iar(1023).is_special());
        assert!(!Iar(1019).is_special());
        // Only [12:0] are meaningful.
        assert_eq!(Iar(0xffff_e000 | 33).parts(), (33, 0));
    }

    #[test]
    fn sgir_encoding() {
        assert_eq!(sgir(1, SgiTarget::List(0b0100)), 0x0004_0001);
        assert_eq!(sgir(15, SgiTarget::Others), 0x0100_000f);
        assert_eq!(sgir(0, SgiTarget::Myself), 0x0200_0000);
        // Out-of-range IDs are masked (send_sgi rejects them first).
        assert_eq!(sgir(0x13, SgiTarget::List(1)) & 0xf, 3);
        // NSATT stays 0.
        assert_eq!(sgir(7, SgiTarget::List(0xff)) & (1 << 15), 0);
    }

    #[test]
    fn cpu_interface_number() {
        // Each field of ITARGETSR0 holds the reader's bit (replicated).
        assert_eq!(cpu_interface_from_itargetsr0(0x0101_0101), Some(0));
        assert_eq!(cpu_interface_from_itargetsr0(0x0808_0808), Some(3));
        assert_eq!(cpu_interface_from_itargetsr0(0x80), Some(7));
        assert_eq!(cpu_interface_from_itargetsr0(0), None, "uniprocessor RAZ");
        assert_eq!(cpu_interface_from_itargetsr0(0x03), None);
    }

    #[test]
    fn register_bit_positions() {
        assert_eq!(bit_reg(33), (1, 1 << 1));
        assert_eq!(bit_reg(31), (0, 1 << 31));
        // INTID 33 is field 1 of ICFGR2; edge bit = bit 3.
        assert_eq!(icfgr_bit(33), (2, 1 << 3));
        assert_eq!(icfgr_bit(47), (2, 1 << 31));
        assert_eq!(itargets_byte(0b1001), 0b1001);
    }

    #[test]
    fn cpu_interface_control() {
        // From reset: enable + EOImode only.
        assert_eq!(gicc_ctlr(0), 0x201);
        // Bypass-disable bits set by firmware survive; other bits (FIQEn,
        // AckCtl, the other group's enable) are cleared.
        assert_eq!(gicc_ctlr(0x1e0 | 0b1110), 0x1e0 | 0x201);
    }

    #[test]
    fn errors_display() {
        let s = format!(
            "{}",
            GicV2Error::NotAnSpi {
                intid: 7,
                lines: 288
            }
        );
        assert!(s.contains("32-287"), "{s}");
        assert!(format!("{}", GicV2Error::UnknownCpuInterface(0x3)).contains("0x3"));
    }
}
