//! GICv3 distributor (`GICD_*`) front-end: the 64 KiB frame at the guest's
//! GICD base, with affinity routing always on and one security state.

use super::bank::{self, View};
use super::{idregs, Update, VGic, Version, DIST_SIZE_V3, PRIVATE_INTIDS};
use crate::{access, AccessError};

const GICD_CTLR: u64 = 0x0000;
const GICD_TYPER: u64 = 0x0004;
const GICD_IIDR: u64 = 0x0008;
const GICD_TYPER2: u64 = 0x000c;
const GICD_IROUTER: u64 = 0x6000;
const GICD_IROUTER_END: u64 = 0x7fe0;

// GICD_CTLR with GICD_CTLR.DS == 1 (IHI 0069H §12.9, GICD_CTLR "when access
// is in a system that supports only a single Security state").
pub(crate) const CTLR_ENABLE_GRP0: u32 = 1 << 0;
pub(crate) const CTLR_ENABLE_GRP1: u32 = 1 << 1;
/// Affinity routing: RAO/WI, the legacy (ARE == 0) programming model is not
/// offered, as permitted for a GIC that does not support it.
const CTLR_ARE: u32 = 1 << 4;
/// Disable Security: RAO/WI, a single security state. Linux reads it
/// (`gic_dist_security_disabled()`) to decide how to use group 0 and PM.
const CTLR_DS: u32 = 1 << 6;

// GICD_TYPER fields (IHI 0069H §12.9, GICD_TYPER).
/// IDbits[23:19]: 10 INTID bits, enough for SPIs up to 1019 and no LPIs.
const TYPER_IDBITS: u32 = 9 << 19;
/// A3V[24]: Aff3 is honoured in GICD_IROUTER and ICC_SGI1R_EL1.
const TYPER_A3V: u32 = 1 << 24;
/// RSS[26]: SGI target lists with Aff0 above 15 (ICC_SGI1R_EL1.RS) work.
const TYPER_RSS: u32 = 1 << 26;

impl VGic {
    /// A guest read of the GICv3 distributor frame at `offset`.
    pub fn dist_read(&self, offset: u64, size: u8) -> Result<u64, AccessError> {
        self.check_frame(Version::V3, offset, size, DIST_SIZE_V3)?;
        match offset {
            GICD_CTLR..=GICD_TYPER2 => {
                access::require(offset, size, &[4])?;
                Ok(u64::from(match offset {
                    GICD_CTLR => self.ctlr_read() | CTLR_ARE | CTLR_DS,
                    GICD_TYPER => self.typer_v3(),
                    GICD_IIDR => idregs::IIDR,
                    // GICD_TYPER2: no vPE IDs, no nASSGI (GICv4.1 only).
                    _ => 0,
                }))
            }
            GICD_IROUTER..GICD_IROUTER_END => self.irouter_read(offset, size),
            _ if idregs::in_block(offset, idregs::V3_BLOCK) => {
                access::require(offset, size, &[4])?;
                Ok(u64::from(idregs::read(3, offset - idregs::V3_BLOCK)))
            }
            _ => match bank::decode(offset) {
                Some(slot) => {
                    bank::check_width(offset, size, slot)?;
                    Ok(u64::from(self.bank_read(View::DistV3, slot, size)))
                }
                // Reserved, GICD_STATUSR, the message-based SPI registers
                // (no MBIS), GICD_SGIR and the SGI pending registers (RAZ/WI
                // with affinity routing) and the extended SPI range (no
                // ESPI): RAZ/WI.
                None => Ok(0),
            },
        }
    }

    /// A guest write to the GICv3 distributor frame at `offset`.
    pub fn dist_write(&mut self, offset: u64, size: u8, value: u64) -> Result<Update, AccessError> {
        self.check_frame(Version::V3, offset, size, DIST_SIZE_V3)?;
        // Word registers take the low 32 bits of the access.
        let word = value as u32;
        match offset {
            GICD_CTLR..=GICD_TYPER2 => {
                access::require(offset, size, &[4])?;
                if offset == GICD_CTLR {
                    return Ok(self.ctlr_write(word));
                }
                // TYPER, IIDR and TYPER2 are read-only.
                Ok(Update::NONE)
            }
            GICD_IROUTER..GICD_IROUTER_END => self.irouter_write(offset, size, value),
            _ if idregs::in_block(offset, idregs::V3_BLOCK) => {
                access::require(offset, size, &[4])?;
                Ok(Update::NONE)
            }
            _ => match bank::decode(offset) {
                Some(slot) => {
                    bank::check_width(offset, size, slot)?;
                    Ok(self.bank_write(View::DistV3, slot, size, word))
                }
                None => Ok(Update::NONE),
            },
        }
    }

    /// Common checks for a front-end access.
    pub(crate) fn check_frame(
        &self,
        version: Version,
        offset: u64,
        size: u8,
        frame: u64,
    ) -> Result<(), AccessError> {
        if self.version != version || self.vcpu_count == 0 {
            return Err(AccessError::WrongVersion);
        }
        access::check(offset, size)?;
        if offset >= frame {
            return Err(AccessError::OutOfRange { offset });
        }
        Ok(())
    }

    /// GICD_CTLR group enables (same bits in GICv2 without the Security
    /// Extensions, IHI 0048B §4.3 GICD_CTLR).
    pub(crate) fn ctlr_read(&self) -> u32 {
        let mut v = 0;
        if self.enable_grp0 {
            v |= CTLR_ENABLE_GRP0;
        }
        if self.enable_grp1 {
            v |= CTLR_ENABLE_GRP1;
        }
        v
    }

    /// Writes the group enables. `RWP` always reads 0: the model applies
    /// every write before the trap returns, so nothing is ever pending
    /// (IHI 0069H §12.9, GICD_CTLR.RWP).
    pub(crate) fn ctlr_write(&mut self, value: u32) -> Update {
        let before = (self.enable_grp0, self.enable_grp1);
        self.enable_grp0 = value & CTLR_ENABLE_GRP0 != 0;
        self.enable_grp1 = value & CTLR_ENABLE_GRP1 != 0;
        if before == (self.enable_grp0, self.enable_grp1) {
            Update::NONE
        } else {
            Update {
                kick: self.all_vcpus(),
            }
        }
    }

    /// ITLinesNumber[4:0]: 32 × (N + 1) INTIDs are implemented.
    pub(crate) fn it_lines(&self) -> u32 {
        (PRIVATE_INTIDS + self.num_spis) / 32 - 1
    }

    /// GICD_TYPER: no LPIs, MBIs, ESPIs or DVIS; CPUNumber is 0 because it
    /// only describes the ARE == 0 model; SecurityExtn is RAZ with DS == 1.
    fn typer_v3(&self) -> u32 {
        self.it_lines() | TYPER_IDBITS | TYPER_A3V | TYPER_RSS
    }

    /// `GICD_IROUTER<n>` (IHI 0069H §12.9): a 64-bit register; 64-bit
    /// accesses and 32-bit accesses to either half are both accepted (IHI
    /// 0069H §12.1, memory-mapped register access widths), since Linux on
    /// AArch32 writes the halves separately.
    fn irouter_read(&self, offset: u64, size: u8) -> Result<u64, AccessError> {
        access::require(offset, size, &[4, 8])?;
        let intid = ((offset - GICD_IROUTER) / 8) as u32;
        let value = self
            .spi_slot(intid)
            .and_then(|s| self.routes.get(s))
            .map_or(0, |r| r.irouter());
        Ok(match (size, offset % 8) {
            (8, _) | (4, 0) => value & access::width_mask(size),
            _ => value >> 32,
        })
    }

    fn irouter_write(&mut self, offset: u64, size: u8, value: u64) -> Result<Update, AccessError> {
        access::require(offset, size, &[4, 8])?;
        let intid = ((offset - GICD_IROUTER) / 8) as u32;
        let Some(slot) = self.spi_slot(intid) else {
            // IROUTER0-31 are reserved; beyond the SPI range RAZ/WI.
            return Ok(Update::NONE);
        };
        let before = self.spi_route_kick(intid);
        if let Some(route) = self.routes.get_mut(slot) {
            let old = route.irouter();
            let new = match (size, offset % 8) {
                (8, _) => value,
                (_, 0) => (old & !0xffff_ffff) | (value & 0xffff_ffff),
                _ => (old & 0xffff_ffff) | (value << 32),
            };
            route.set_irouter(new);
        }
        Ok(Update {
            kick: before | self.spi_route_kick(intid),
        })
    }
}
