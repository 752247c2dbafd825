//! [`GuestDebug`] for the Linux VM: what GDB's commands do to the vCPUs.
//!
//! Registers come from each parked vCPU's snapshot (control.rs). Memory is
//! read by guest virtual address through that vCPU's stage-1 tables (a
//! software walk, arch_hal::s1walk) and then our Stage-2, which maps guest
//! RAM only: nothing outside it can be read or written.

use super::control::{self, DEBUG_REGS};
use crate::vm::Vm;
use arch_hal::debug::El1State;
use arch_hal::debug::{self as hw, WatchAccess};
use arch_hal::s1walk::{self, S1Regs};
use core::fmt;
use gdb_remote::{DebugError, GuestDebug, RegId, Regs, ResumePlan, WatchKind};
use hyp_core::debug_tables::{HwSlot, SwBreak, SwBreakpoints, TableError};
use virtio::GuestMemory;

/// Reads one EL1 register out of a stopped vCPU's snapshot.
type Getter = fn(&El1State) -> u64;

pub struct HypDebug {
    vm: &'static Vm,
    sw: SwBreakpoints<64>,
}

impl HypDebug {
    pub fn new(vm: &'static Vm) -> Self {
        Self {
            vm,
            sw: SwBreakpoints::new(),
        }
    }

    fn parked(&self, vcpu: usize) -> Result<(), DebugError> {
        if control::wait_parked(self.vm, vcpu) {
            Ok(())
        } else {
            Err(DebugError::NoVcpu)
        }
    }

    /// The stage-1 registers of `vcpu` (it must be parked).
    fn s1(&self, vcpu: usize) -> Result<S1Regs, DebugError> {
        self.parked(vcpu)?;
        control::with_snapshot(vcpu, |s| S1Regs {
            sctlr: s.el1.sctlr_el1,
            tcr: s.el1.tcr_el1,
            ttbr0: s.el1.ttbr0_el1,
            ttbr1: s.el1.ttbr1_el1,
        })
        .ok_or(DebugError::NoVcpu)
    }

    /// The IPA behind `va` for `vcpu`, and how many bytes from there stay
    /// in the same page or block.
    fn translate(&self, s1: &S1Regs, va: u64) -> Result<(u64, u64), DebugError> {
        let ram = self.vm.ram;
        let t = s1walk::translate(s1, va, |ipa| {
            let mut b = [0u8; 8];
            ram.read(ipa, &mut b).ok()?;
            Some(u64::from_le_bytes(b))
        })
        .map_err(|_| DebugError::Fault)?;
        Ok((t.ipa, t.bytes_left()))
    }

    fn plant(&mut self, va: u64) -> Result<(), DebugError> {
        if self.sw.at_va(va).is_some() {
            return Ok(());
        }
        let s1 = self.s1(0).or_else(|_| self.first_parked_s1())?;
        let (ipa, _) = self.translate(&s1, va)?;
        let pa = self.vm.ram.translate(ipa, 4).ok_or(DebugError::Fault)?;
        if va & 3 != 0 {
            return Err(DebugError::Invalid);
        }
        let original = match self.sw.at_pa(pa) {
            // Another VA already planted BRK here: keep the real original.
            Some(b) => b.original,
            None => self.read_u32(ipa)?,
        };
        self.sw
            .insert(SwBreak { va, pa, original })
            .map_err(|TableError::Full| DebugError::NoResources)?;
        self.write_insn(ipa, pa, hw::BRK_INSN)
    }

    fn unplant(&mut self, va: u64) -> Result<(), DebugError> {
        match self.sw.remove(va) {
            Some(b) => self.restore(b),
            None => Ok(()),
        }
    }

    /// Puts back the instruction a removed breakpoint replaced, unless
    /// another VA still plants BRK at the same PA.
    fn restore(&self, b: SwBreak) -> Result<(), DebugError> {
        if self.sw.at_pa(b.pa).is_some() {
            return Ok(());
        }
        let ipa = b.pa - self.vm.ram.pa + self.vm.ram.ipa;
        self.write_insn(ipa, b.pa, b.original)
    }

    fn read_u32(&self, ipa: u64) -> Result<u32, DebugError> {
        let mut b = [0u8; 4];
        self.vm
            .ram
            .read(ipa, &mut b)
            .map_err(|_| DebugError::Fault)?;
        Ok(u32::from_le_bytes(b))
    }

    fn write_insn(&self, ipa: u64, pa: u64, insn: u32) -> Result<(), DebugError> {
        let mut ram = self.vm.ram;
        ram.write(ipa, &insn.to_le_bytes())
            .map_err(|_| DebugError::Fault)?;
        hw::sync_instruction(pa);
        Ok(())
    }

    fn first_parked_s1(&self) -> Result<S1Regs, DebugError> {
        (0..self.vm.vcpus)
            .find_map(|v| self.s1(v).ok())
            .ok_or(DebugError::NoVcpu)
    }

    /// Whether a BRK at `pc` on `vcpu` is one of ours.
    /// Whether a BRK at `pc` (physical address `pa`, if the running vCPU's
    /// translation gave one) is one GDB planted.
    pub fn is_our_break(&self, pc: u64, pa: Option<u64>) -> bool {
        // By PA too: the same code reached through another mapping.
        self.sw.at_va(pc).is_some() || pa.is_some_and(|pa| self.sw.at_pa(pa).is_some())
    }

    fn hw_slot(addr: u64, len: u64, kind: u8, value: u64, control: u64) -> HwSlot {
        HwSlot {
            addr,
            len,
            kind,
            value,
            control,
        }
    }
}

fn watch_access(kind: WatchKind) -> WatchAccess {
    match kind {
        WatchKind::Write => WatchAccess::Store,
        WatchKind::Read => WatchAccess::Load,
        WatchKind::ReadWrite => WatchAccess::Both,
    }
}

pub fn watch_kind_code(kind: WatchKind) -> u8 {
    match kind {
        WatchKind::Write => 1,
        WatchKind::Read => 2,
        WatchKind::ReadWrite => 3,
    }
}

pub fn watch_kind_of(code: u8) -> WatchKind {
    match code {
        2 => WatchKind::Read,
        3 => WatchKind::ReadWrite,
        _ => WatchKind::Write,
    }
}

impl GuestDebug for HypDebug {
    fn vcpu_count(&self) -> usize {
        self.vm.vcpus
    }

    fn read_regs(&mut self, vcpu: usize, regs: &mut Regs) -> Result<(), DebugError> {
        self.parked(vcpu)?;
        control::with_snapshot(vcpu, |s| {
            regs.x.copy_from_slice(&s.frame.x);
            regs.pc = s.frame.elr;
            regs.cpsr = s.frame.spsr as u32;
            // SP as the guest sees it: SPSel (M[0]) picks SP_ELx or SP_EL0.
            regs.sp = if s.frame.spsr & 1 != 0 && s.frame.spsr & 0xc != 0 {
                s.el1.sp_el1
            } else {
                s.el1.sp_el0
            };
            regs.v = s.fp.v;
            regs.fpsr = s.fp.fpsr as u32;
            regs.fpcr = s.fp.fpcr as u32;
        })
        .ok_or(DebugError::NoVcpu)
    }

    fn write_regs(&mut self, vcpu: usize, regs: &Regs) -> Result<(), DebugError> {
        self.parked(vcpu)?;
        control::with_snapshot(vcpu, |s| {
            s.frame.x.copy_from_slice(&regs.x);
            s.frame.elr = regs.pc;
            // Keep the exception level and the register width: GDB may
            // edit flags, not make the guest return to EL2 or AArch32.
            let keep = 0x1f;
            s.frame.spsr = (regs.cpsr as u64 & !keep) | (s.frame.spsr & keep);
            if s.frame.spsr & 1 != 0 && s.frame.spsr & 0xc != 0 {
                s.el1.sp_el1 = regs.sp;
            } else {
                s.el1.sp_el0 = regs.sp;
            }
            s.fp.v = regs.v;
            s.fp.fpsr = regs.fpsr as u64;
            s.fp.fpcr = regs.fpcr as u64;
        })
        .ok_or(DebugError::NoVcpu)
    }

    fn read_mem(&mut self, vcpu: usize, va: u64, buf: &mut [u8]) -> Result<usize, DebugError> {
        let s1 = self.s1(vcpu)?;
        let mut done = 0;
        while done < buf.len() {
            let Ok((ipa, left)) = self.translate(&s1, va.wrapping_add(done as u64)) else {
                break;
            };
            let n = (buf.len() - done).min(left as usize);
            if self.vm.ram.read(ipa, &mut buf[done..done + n]).is_err() {
                break;
            }
            // Show the original instruction, not our BRK.
            for (i, b) in buf[done..done + n].iter_mut().enumerate() {
                let ipa = ipa + i as u64;
                let Some(pa) = self.vm.ram.translate(ipa & !3, 4) else {
                    continue;
                };
                if let Some(bp) = self.sw.at_pa(pa) {
                    *b = bp.original.to_le_bytes()[(ipa & 3) as usize];
                }
            }
            done += n;
        }
        if done == 0 && !buf.is_empty() {
            return Err(DebugError::Fault);
        }
        Ok(done)
    }

    fn write_mem(&mut self, vcpu: usize, va: u64, data: &[u8]) -> Result<(), DebugError> {
        let s1 = self.s1(vcpu)?;
        let mut done = 0;
        while done < data.len() {
            let (ipa, left) = self.translate(&s1, va.wrapping_add(done as u64))?;
            let n = (data.len() - done).min(left as usize);
            let mut ram = self.vm.ram;
            ram.write(ipa, &data[done..done + n])
                .map_err(|_| DebugError::Fault)?;
            if let Some(pa) = self.vm.ram.translate(ipa, n) {
                hw::sync_instruction(pa);
            }
            done += n;
        }
        Ok(())
    }

    fn read_sysreg(&mut self, vcpu: usize, id: RegId) -> Result<Option<u64>, DebugError> {
        const EL1: [(RegId, Getter); 16] = [
            (RegId::SCTLR_EL1, |e| e.sctlr_el1),
            (RegId::TCR_EL1, |e| e.tcr_el1),
            (RegId::TTBR0_EL1, |e| e.ttbr0_el1),
            (RegId::TTBR1_EL1, |e| e.ttbr1_el1),
            (RegId::MAIR_EL1, |e| e.mair_el1),
            (RegId::VBAR_EL1, |e| e.vbar_el1),
            (RegId::ESR_EL1, |e| e.esr_el1),
            (RegId::FAR_EL1, |e| e.far_el1),
            (RegId::ELR_EL1, |e| e.elr_el1),
            (RegId::SPSR_EL1, |e| e.spsr_el1),
            (RegId::SP_EL0, |e| e.sp_el0),
            (RegId::SP_EL1, |e| e.sp_el1),
            (RegId::TPIDR_EL1, |e| e.tpidr_el1),
            (RegId::CONTEXTIDR_EL1, |e| e.contextidr_el1),
            (RegId::CPACR_EL1, |e| e.cpacr_el1),
            (RegId::MDSCR_EL1, |e| e.mdscr_el1),
        ];
        let Some(&(_, get)) = EL1.iter().find(|(r, _)| *r == id) else {
            return Ok(None);
        };
        self.parked(vcpu)?;
        control::with_snapshot(vcpu, |s| Some(get(&s.el1))).ok_or(DebugError::NoVcpu)
    }

    fn set_sw_break(&mut self, va: u64) -> Result<(), DebugError> {
        self.plant(va)
    }

    fn clear_sw_break(&mut self, va: u64) -> Result<(), DebugError> {
        self.unplant(va)
    }

    fn set_hw_break(&mut self, va: u64) -> Result<(), DebugError> {
        if va & 3 != 0 {
            return Err(DebugError::Invalid);
        }
        let slot = Self::hw_slot(va, 4, 0, va, hw::BCR_ADDRESS_EL1_EL0);
        DEBUG_REGS
            .lock()
            .breakpoints
            .add(slot)
            .map_err(|_| DebugError::NoResources)?;
        control::regs_changed();
        Ok(())
    }

    fn clear_hw_break(&mut self, va: u64) -> Result<(), DebugError> {
        DEBUG_REGS.lock().breakpoints.remove(va, 4, 0);
        control::regs_changed();
        Ok(())
    }

    fn set_watch(&mut self, va: u64, len: u64, kind: WatchKind) -> Result<(), DebugError> {
        let (value, control) =
            hw::watchpoint(va, len, watch_access(kind)).map_err(|_| DebugError::Invalid)?;
        let slot = Self::hw_slot(va, len, watch_kind_code(kind), value, control);
        DEBUG_REGS
            .lock()
            .watchpoints
            .add(slot)
            .map_err(|_| DebugError::NoResources)?;
        control::regs_changed();
        Ok(())
    }

    fn clear_watch(&mut self, va: u64, len: u64, kind: WatchKind) -> Result<(), DebugError> {
        DEBUG_REGS
            .lock()
            .watchpoints
            .remove(va, len, watch_kind_code(kind));
        control::regs_changed();
        Ok(())
    }

    fn resume(&mut self, plan: &ResumePlan) -> Result<(), DebugError> {
        let vcpus = self.vm.vcpus;
        control::resume(|v| if v < vcpus { plan.mode(v) } else { None });
        Ok(())
    }

    fn stop_all(&mut self) {
        control::request_stop(self.vm);
    }

    fn attach(&mut self) {
        log::info!("debug: GDB attached; stopping all vCPUs");
        control::set_debugging(true);
        control::request_stop(self.vm);
    }

    fn detach(&mut self, killed: bool) {
        while let Some(b) = self.sw.pop() {
            let _ = self.restore(b);
        }
        {
            let mut r = DEBUG_REGS.lock();
            r.breakpoints.clear();
            r.watchpoints.clear();
        }
        control::set_debugging(false);
        control::resume(|_| Some(gdb_remote::ResumeMode::Continue));
        log::info!(
            "debug: GDB {}; breakpoints removed, guest resumed",
            if killed {
                "killed the session"
            } else {
                "detached"
            }
        );
    }

    fn describe_vcpu(&self, vcpu: usize, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "vCPU {vcpu} ({:?})", self.vm.power(vcpu))
    }

    fn monitor_s2(&mut self, ipa: u64, out: &mut dyn fmt::Write) -> fmt::Result {
        let ram = self.vm.ram;
        match ram.translate(ipa, 1) {
            Some(pa) => writeln!(
                out,
                "IPA {ipa:#x} -> PA {pa:#x}: guest RAM (IPA {:#x}..{:#x}), normal memory, RW",
                ram.ipa,
                ram.ipa + ram.size
            ),
            None => match crate::vm::layout::device_at(ipa) {
                Some(name) => writeln!(
                    out,
                    "IPA {ipa:#x}: not mapped; traps to the emulated {name}"
                ),
                None => writeln!(
                    out,
                    "IPA {ipa:#x}: not mapped; a guest access gets an external abort"
                ),
            },
        }
    }

    fn monitor_irqs(&mut self, out: &mut dyn fmt::Write) -> fmt::Result {
        let vgic = self.vm.vgic.lock();
        for v in 0..self.vm.vcpus {
            writeln!(
                out,
                "vCPU {v}: pending virtual interrupts: {}",
                vgic.has_pending(v)
            )?;
        }
        Ok(())
    }

    fn monitor_other(&mut self, cmd: &str, out: &mut dyn fmt::Write) -> Result<bool, fmt::Error> {
        let mut words = cmd.split_whitespace();
        match (words.next(), words.next(), words.next(), words.next()) {
            // `monitor ipa <addr> [len]`: guest-physical memory, hex dump.
            (Some("ipa"), Some(addr), len, None) => {
                let parse = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
                let (Some(addr), Some(len)) = (parse(addr), len.map_or(Some(16), parse)) else {
                    writeln!(out, "usage: monitor ipa <hex address> [hex length]")?;
                    return Ok(true);
                };
                let len = len.min(256) as usize;
                let mut buf = [0u8; 256];
                match self.vm.ram.read(addr, &mut buf[..len]) {
                    Ok(()) => {
                        for (i, chunk) in buf[..len].chunks(16).enumerate() {
                            write!(out, "{:#014x}:", addr + 16 * i as u64)?;
                            for b in chunk {
                                write!(out, " {b:02x}")?;
                            }
                            writeln!(out)?;
                        }
                    }
                    Err(_) => writeln!(out, "IPA {addr:#x}+{len:#x} is not guest RAM")?,
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
