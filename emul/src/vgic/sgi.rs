//! Software-generated interrupts: GICv3 `ICC_SGI1R_EL1`/`ICC_SGI0R_EL1`
//! writes (trapped to EL2, since they have no virtual counterpart in the CPU
//! interface) and GICv2 `GICD_SGIR` / `GICD_{S,C}PENDSGIRn`.

use super::{vcpu_bit, VGic, Version};

// ICC_SGI1R_EL1 / ICC_SGI0R_EL1 fields (IHI 0069H §12.2, ICC_SGI1R_EL1):
// TargetList[15:0], Aff1[23:16], INTID[27:24], Aff2[39:32], IRM[40],
// RS[47:44], Aff3[55:48].
const SGIR_TARGET_LIST: u64 = 0xffff;
const SGIR_AFF1_SHIFT: u32 = 16;
const SGIR_INTID_SHIFT: u32 = 24;
const SGIR_AFF2_SHIFT: u32 = 32;
const SGIR_IRM: u64 = 1 << 40;
const SGIR_RS_SHIFT: u32 = 44;
const SGIR_AFF3_SHIFT: u32 = 48;

// GICD_SGIR (IHI 0048B §4.3, GICD_SGIR): TargetListFilter[25:24],
// CPUTargetList[23:16], SGIINTID[3:0].
const V2_FILTER_SHIFT: u32 = 24;
const V2_TARGETS_SHIFT: u32 = 16;

impl VGic {
    /// A write of `value` to `ICC_SGI1R_EL1` by vCPU `sender`: marks the
    /// SGI pending on each target and returns the bit mask of targets for
    /// which it is now deliverable (kick them).
    ///
    /// With `IRM == 1` every vCPU but the sender is targeted; otherwise
    /// each TargetList bit n names the vCPU with affinity
    /// Aff3.Aff2.Aff1.(RS × 16 + n); names matching no vCPU are ignored.
    /// With a single security state, `ICC_SGI1R_EL1` may generate an SGI
    /// of either group, as configured at the target, while `ICC_SGI0R_EL1`
    /// only generates group 0 ones (the SGI forwarding rules with
    /// `GICD_CTLR.DS == 1` in the ICC_SGI1R_EL1 / ICC_SGI0R_EL1 descriptions,
    /// IHI 0069H §12.2; KVM's vGIC applies the same reading).
    /// Returns 0 on a GICv2 model or an unknown sender.
    pub fn sgi1r_write(&mut self, sender: usize, value: u64) -> u32 {
        self.send_sgi_v3(sender, value, true)
    }

    /// A write to `ICC_SGI0R_EL1` (or `ICC_ASGI1R_EL1`, which with a single
    /// security state behaves the same): like [`Self::sgi1r_write`] but only
    /// SGIs configured as group 0 at the target are generated.
    pub fn sgi0r_write(&mut self, sender: usize, value: u64) -> u32 {
        self.send_sgi_v3(sender, value, false)
    }

    fn send_sgi_v3(&mut self, sender: usize, value: u64, any_group: bool) -> u32 {
        if self.version != Version::V3 || sender >= self.vcpu_count {
            return 0;
        }
        // INTID is a four-bit field.
        let sgi = ((value >> SGIR_INTID_SHIFT) & 0xf) as usize;
        let targets = if value & SGIR_IRM != 0 {
            self.all_vcpus() & !vcpu_bit(sender)
        } else {
            self.sgi_target_list(value)
        };
        let mut kick = 0;
        for target in 0..self.vcpu_count {
            if targets & vcpu_bit(target) == 0 {
                continue;
            }
            let Some(irq) = self.vcpus[target].private.get_mut(sgi) else {
                continue;
            };
            if any_group || !irq.group1 {
                irq.latch = true;
                if self.deliverable(&self.vcpus[target].private[sgi]) {
                    kick |= vcpu_bit(target);
                }
            }
        }
        kick
    }

    /// Resolves the affinity-addressed target list to a vCPU mask.
    fn sgi_target_list(&self, value: u64) -> u32 {
        let field = |shift: u32| ((value >> shift) & 0xff) as u32;
        let base = (field(SGIR_AFF3_SHIFT) << 24)
            | (field(SGIR_AFF2_SHIFT) << 16)
            | (field(SGIR_AFF1_SHIFT) << 8);
        let range = ((value >> SGIR_RS_SHIFT) & 0xf) as u32 * 16;
        let list = value & SGIR_TARGET_LIST;
        (0..16u32)
            .filter(|n| list & (1 << n) != 0)
            .filter_map(|n| self.vcpu_by_affinity(base | (range + n)))
            .fold(0, |mask, v| mask | vcpu_bit(v))
    }

    /// A GICv2 `GICD_SGIR` write by `sender`; returns the vCPUs to kick.
    pub(crate) fn sgir_write_v2(&mut self, sender: usize, value: u32) -> u32 {
        let all = self.all_vcpus();
        let targets = match (value >> V2_FILTER_SHIFT) & 3 {
            0 => (value >> V2_TARGETS_SHIFT) & 0xff & all,
            1 => all & !vcpu_bit(sender),
            2 => vcpu_bit(sender),
            // 0b11 is reserved: no SGI is sent.
            _ => 0,
        };
        let sgi = (value & 0xf) as usize;
        let source = vcpu_bit(sender) as u8;
        let mut kick = 0;
        for target in 0..self.vcpu_count {
            if targets & vcpu_bit(target) != 0 {
                kick |= self.set_sgi_sources(target, sgi, source, true);
            }
        }
        kick
    }

    /// GICv2: adds (`set`) or removes source CPUs of SGI `sgi` pending on
    /// `target`. Returns `target`'s bit if the SGI is now deliverable.
    pub(crate) fn set_sgi_sources(
        &mut self,
        target: usize,
        sgi: usize,
        sources: u8,
        set: bool,
    ) -> u32 {
        let implemented = self.all_vcpus() as u8;
        let Some(vcpu) = self.vcpus.get_mut(target) else {
            return 0;
        };
        let (Some(pending), Some(irq)) = (vcpu.sgi_sources.get_mut(sgi), vcpu.private.get_mut(sgi))
        else {
            return 0;
        };
        let before = *pending;
        if set {
            *pending |= sources & implemented;
        } else {
            *pending &= !sources;
        }
        irq.latch = *pending != 0;
        let changed = *pending != before;
        let irq = *irq;
        if (changed && self.deliverable(&irq)) || irq.in_lr() {
            vcpu_bit(target)
        } else {
            0
        }
    }
}
