//! GICv3 redistributor (`GICR_*`) front-end: one `RD_base` + `SGI_base`
//! frame pair (128 KiB) per vCPU, laid out contiguously from the guest's
//! GICR base in vCPU order.
//!
//! Linux finds its redistributor by walking the frames and comparing
//! `GICR_TYPER.Affinity_Value` with its MPIDR until `GICR_TYPER.Last`
//! (`gic_iterate_rdists()` in drivers/irqchip/irq-gic-v3.c), then wakes it
//! through `GICR_WAKER` and programs SGIs/PPIs through `SGI_base`.

use super::bank::{self, View};
use super::{idregs, Update, VGic, Version, REDIST_FRAME_SIZE, SGI_BASE};
use crate::{access, AccessError};

const GICR_CTLR: u64 = 0x0000;
const GICR_IIDR: u64 = 0x0004;
const GICR_TYPER: u64 = 0x0008;
const GICR_TYPER_HI: u64 = 0x000c;
const GICR_STATUSR: u64 = 0x0010;
const GICR_WAKER: u64 = 0x0014;

// GICR_WAKER (IHI 0069H §12.11).
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

/// GICR_TYPER.Last[4]: this is the final redistributor of the region.
const TYPER_LAST: u64 = 1 << 4;
const TYPER_PROCESSOR_NUMBER_SHIFT: u32 = 8;
const TYPER_AFFINITY_SHIFT: u32 = 32;

impl VGic {
    /// Splits an offset from the guest's GICR base into (vCPU, offset in
    /// that vCPU's 128 KiB frame pair). `None` past the last vCPU: the glue
    /// should treat such accesses as RAZ/WI or fault them.
    pub fn redist_frame(&self, ipa_offset_from_gicr_base: u64) -> Option<(usize, u64)> {
        let vcpu = ipa_offset_from_gicr_base / REDIST_FRAME_SIZE;
        let offset = ipa_offset_from_gicr_base % REDIST_FRAME_SIZE;
        let vcpu = usize::try_from(vcpu).ok()?;
        (self.version == Version::V3 && vcpu < self.vcpu_count).then_some((vcpu, offset))
    }

    /// A guest read of `vcpu`'s redistributor at `offset` (0..128 KiB).
    pub fn redist_read(&self, vcpu: usize, offset: u64, size: u8) -> Result<u64, AccessError> {
        self.check_redist(vcpu, offset, size)?;
        if offset >= SGI_BASE {
            return self.sgi_base_read(vcpu, offset - SGI_BASE, size);
        }
        match offset {
            GICR_TYPER | GICR_TYPER_HI => {
                let typer = self.gicr_typer(vcpu);
                if size == 8 && offset == GICR_TYPER {
                    return Ok(typer);
                }
                access::require(offset, size, &[4])?;
                Ok(if offset == GICR_TYPER {
                    typer & 0xffff_ffff
                } else {
                    typer >> 32
                })
            }
            GICR_CTLR | GICR_IIDR | GICR_STATUSR | GICR_WAKER => {
                access::require(offset, size, &[4])?;
                Ok(u64::from(match offset {
                    GICR_IIDR => idregs::IIDR,
                    GICR_WAKER => self.waker_read(vcpu),
                    // GICR_CTLR: no LPIs (EnableLPIs RES0), RWP and UWP
                    // always 0 because writes complete synchronously.
                    // GICR_STATUSR: no errors to report.
                    _ => 0,
                }))
            }
            _ if idregs::in_block(offset, idregs::V3_BLOCK) => {
                access::require(offset, size, &[4])?;
                Ok(u64::from(idregs::read(3, offset - idregs::V3_BLOCK)))
            }
            // LPI registers (PROPBASER, PENDBASER, SETLPIR, INVLPIR, SYNCR
            // ...) and everything reserved: RAZ/WI, GICD_TYPER.LPIS == 0.
            _ => Ok(0),
        }
    }

    /// A guest write to `vcpu`'s redistributor at `offset`.
    pub fn redist_write(
        &mut self,
        vcpu: usize,
        offset: u64,
        size: u8,
        value: u64,
    ) -> Result<Update, AccessError> {
        self.check_redist(vcpu, offset, size)?;
        if offset >= SGI_BASE {
            return self.sgi_base_write(vcpu, offset - SGI_BASE, size, value);
        }
        match offset {
            GICR_TYPER => access::require(offset, size, &[4, 8])?,
            GICR_CTLR | GICR_IIDR | GICR_TYPER_HI | GICR_STATUSR => {
                access::require(offset, size, &[4])?
            }
            GICR_WAKER => {
                access::require(offset, size, &[4])?;
                let asleep = value & u64::from(WAKER_PROCESSOR_SLEEP) != 0;
                if let Some(v) = self.vcpus.get_mut(vcpu) {
                    if v.asleep != asleep {
                        v.asleep = asleep;
                        // The set of PEs taking 1-of-N SPIs changed.
                        return Ok(Update {
                            kick: self.all_vcpus(),
                        });
                    }
                }
            }
            _ if idregs::in_block(offset, idregs::V3_BLOCK) => access::require(offset, size, &[4])?,
            _ => {}
        }
        Ok(Update::NONE)
    }

    fn check_redist(&self, vcpu: usize, offset: u64, size: u8) -> Result<(), AccessError> {
        self.check_frame(Version::V3, offset, size, REDIST_FRAME_SIZE)?;
        if vcpu >= self.vcpu_count {
            return Err(AccessError::NoSuchVcpu(vcpu));
        }
        Ok(())
    }

    /// GICR_TYPER (IHI 0069H §12.11): Affinity_Value[63:32],
    /// Processor_Number[23:8], Last[4]; PPInum == 0 (16 PPIs), no
    /// PLPIS/VLPIS/DirectLPI/DPGS.
    fn gicr_typer(&self, vcpu: usize) -> u64 {
        let affinity = self.vcpus.get(vcpu).map_or(0, |v| v.affinity);
        let mut typer = (u64::from(affinity) << TYPER_AFFINITY_SHIFT)
            | ((vcpu as u64) << TYPER_PROCESSOR_NUMBER_SHIFT);
        if vcpu + 1 == self.vcpu_count {
            typer |= TYPER_LAST;
        }
        typer
    }

    /// GICR_WAKER: ChildrenAsleep follows ProcessorSleep at once, which is
    /// the completed handshake Linux polls for in gic_enable_redist().
    fn waker_read(&self, vcpu: usize) -> u32 {
        match self.vcpus.get(vcpu) {
            Some(v) if v.asleep => WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP,
            _ => 0,
        }
    }

    /// SGI_base: the INTID 0-31 words of the bank registers; the rest,
    /// including the extended-PPI words and GICR_INMIR0, is RAZ/WI.
    fn sgi_base_read(&self, vcpu: usize, offset: u64, size: u8) -> Result<u64, AccessError> {
        match bank::decode(offset) {
            Some(slot) => {
                bank::check_width(offset, size, slot)?;
                Ok(u64::from(self.bank_read(View::Redist(vcpu), slot, size)))
            }
            None => Ok(0),
        }
    }

    fn sgi_base_write(
        &mut self,
        vcpu: usize,
        offset: u64,
        size: u8,
        value: u64,
    ) -> Result<Update, AccessError> {
        match bank::decode(offset) {
            Some(slot) => {
                bank::check_width(offset, size, slot)?;
                // Word registers take the low 32 bits of the access.
                Ok(self.bank_write(View::Redist(vcpu), slot, size, value as u32))
            }
            None => Ok(Update::NONE),
        }
    }
}
