//! GICv2 distributor front-end (IHI 0048B chapter 4), sharing all interrupt
//! state with the GICv3 one.
//!
//! Differences from GICv3 that matter here: INTIDs 0-31 are banked per CPU
//! in the distributor itself (there are no redistributors), SPIs are routed
//! by `GICD_ITARGETSRn` CPU masks, SGIs are sent by writing `GICD_SGIR` and
//! remember their source CPU. Linux's drivers/irqchip/irq-gic.c reads
//! `GICD_TYPER`, finds its own CPU mask in `GICD_ITARGETSR0..7`
//! (gic_get_cpumask()), targets all SPIs at the boot CPU, programs the
//! banks and sets `GICD_CTLR.Enable`.

use super::bank::{self, View};
use super::{idregs, Update, VGic, Version, DIST_SIZE_V2, DIST_SIZE_V3};
use crate::{access, AccessError};

const GICD_CTLR: u64 = 0x000;
const GICD_TYPER: u64 = 0x004;
const GICD_IIDR: u64 = 0x008;
const GICD_SGIR: u64 = 0xf00;
const GICD_CPENDSGIR: u64 = 0xf10;
const GICD_SPENDSGIR: u64 = 0xf20;
const SGI_PENDING_END: u64 = 0xf30;

/// GICD_TYPER.CPUNumber[7:5]: number of CPU interfaces minus one.
const TYPER_CPU_NUMBER_SHIFT: u32 = 5;

impl VGic {
    /// A read by `vcpu` of the GICv2 distributor at `offset`. The frame is
    /// accepted up to 64 KiB (QEMU's device tree describes it that way);
    /// only the first 4 KiB hold registers.
    pub fn dist_read_v2(&self, vcpu: usize, offset: u64, size: u8) -> Result<u64, AccessError> {
        self.check_v2(vcpu, offset, size)?;
        let value = match offset {
            GICD_CTLR | GICD_TYPER | GICD_IIDR | GICD_SGIR => {
                access::require(offset, size, &[4])?;
                match offset {
                    GICD_CTLR => self.ctlr_read(),
                    GICD_TYPER => {
                        // vcpu_count is 1..=8, so this fits the 3-bit field.
                        let cpus = (self.vcpu_count - 1) as u32;
                        self.it_lines() | (cpus << TYPER_CPU_NUMBER_SHIFT)
                    }
                    GICD_IIDR => idregs::IIDR,
                    // GICD_SGIR is write-only.
                    _ => 0,
                }
            }
            GICD_CPENDSGIR..SGI_PENDING_END => {
                access::require(offset, size, &[1, 4])?;
                self.read_sgi_sources(vcpu, offset, size)
            }
            _ if offset >= DIST_SIZE_V2 => 0,
            _ if idregs::in_block(offset, idregs::V2_BLOCK) => {
                access::require(offset, size, &[4])?;
                idregs::read(2, offset - idregs::V2_BLOCK)
            }
            _ => match bank::decode(offset) {
                Some(slot) => {
                    bank::check_width(offset, size, slot)?;
                    self.bank_read(View::DistV2(vcpu), slot, size)
                }
                None => 0,
            },
        };
        Ok(u64::from(value))
    }

    /// A write by `vcpu` to the GICv2 distributor at `offset`.
    pub fn dist_write_v2(
        &mut self,
        vcpu: usize,
        offset: u64,
        size: u8,
        value: u64,
    ) -> Result<Update, AccessError> {
        self.check_v2(vcpu, offset, size)?;
        // All GICv2 distributor registers are 32 bits wide or narrower.
        let word = value as u32;
        match offset {
            GICD_CTLR | GICD_TYPER | GICD_IIDR | GICD_SGIR => {
                access::require(offset, size, &[4])?;
                Ok(match offset {
                    GICD_CTLR => self.ctlr_write(word),
                    GICD_SGIR => Update {
                        kick: self.sgir_write_v2(vcpu, word),
                    },
                    _ => Update::NONE,
                })
            }
            GICD_CPENDSGIR..SGI_PENDING_END => {
                access::require(offset, size, &[1, 4])?;
                Ok(self.write_sgi_sources(vcpu, offset, size, word))
            }
            _ if offset >= DIST_SIZE_V2 => Ok(Update::NONE),
            _ if idregs::in_block(offset, idregs::V2_BLOCK) => {
                access::require(offset, size, &[4])?;
                Ok(Update::NONE)
            }
            _ => match bank::decode(offset) {
                Some(slot) => {
                    bank::check_width(offset, size, slot)?;
                    Ok(self.bank_write(View::DistV2(vcpu), slot, size, word))
                }
                None => Ok(Update::NONE),
            },
        }
    }

    fn check_v2(&self, vcpu: usize, offset: u64, size: u8) -> Result<(), AccessError> {
        self.check_frame(Version::V2, offset, size, DIST_SIZE_V3)?;
        if vcpu >= self.vcpu_count {
            return Err(AccessError::NoSuchVcpu(vcpu));
        }
        Ok(())
    }

    /// GICD_CPENDSGIRn / GICD_SPENDSGIRn (IHI 0048B §4.3): one byte per
    /// SGI, bit n set when CPU n's request is pending on the reader.
    fn read_sgi_sources(&self, vcpu: usize, offset: u64, size: u8) -> u32 {
        let first = ((offset - GICD_CPENDSGIR) % 0x10) as usize;
        let sources = &self.vcpus[vcpu].sgi_sources;
        (0..usize::from(size)).fold(0, |acc, k| {
            let byte = sources.get(first + k).copied().unwrap_or(0);
            acc | (u32::from(byte) << (8 * k))
        })
    }

    fn write_sgi_sources(&mut self, vcpu: usize, offset: u64, size: u8, value: u32) -> Update {
        let set = offset >= GICD_SPENDSGIR;
        let first = ((offset - GICD_CPENDSGIR) % 0x10) as usize;
        let mut kick = 0;
        for k in 0..usize::from(size) {
            // Byte k of the access.
            let sources = (value >> (8 * k)) as u8;
            if sources != 0 {
                kick |= self.set_sgi_sources(vcpu, first + k, sources, set);
            }
        }
        Update { kick }
    }
}
