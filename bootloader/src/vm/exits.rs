//! Synchronous exits from the guest (ESR_EL2.EC, Arm ARM D19.2.40).

use super::{mmio_bus, Vm};
use arch_hal::el2;
use arch_hal::exception::TrapFrame;
use arch_hal::mmio::{self, Regs};
use hyp_core::psci_guest::{self, Action, VcpuPower};

const EC_WFX: u64 = 0x01;
const EC_HVC64: u64 = 0x16;
const EC_SMC64: u64 = 0x17;
const EC_SYSREG: u64 = 0x18;
const EC_IABT_LOWER: u64 = 0x20;
const EC_DABT_LOWER: u64 = 0x24;

/// ICC_SGI1R_EL1 in ISS form (Op0=3, Op2=5, Op1=0, CRn=12, CRm=11).
const ISS_SYSREG_MASK: u64 = 0x3f_fc1e;
const ISS_ICC_SGI1R: u64 = (3 << 20) | (5 << 17) | (12 << 10) | (11 << 1);
/// MDSCR_EL1 (Op0=2, Op2=2, Op1=0, CRn=0, CRm=2).
const ISS_MDSCR: u64 = (2 << 20) | (2 << 17) | (2 << 1);

pub fn handle(vm: &Vm, vcpu: usize, frame: &mut TrapFrame) {
    let ec = (frame.esr >> 26) & 0x3f;
    match ec {
        EC_HVC64 => smccc_call(vm, vcpu, frame),
        EC_SMC64 => {
            // SMC is trapped before it executes: ELR points at it.
            frame.elr += 4;
            smccc_call(vm, vcpu, frame);
        }
        EC_DABT_LOWER => data_abort(vm, vcpu, frame),
        EC_SYSREG => sysreg(vm, vcpu, frame),
        EC_WFX => frame.elr += 4,
        EC_IABT_LOWER => {
            // Instruction fetch from an IPA that is not guest RAM.
            log::warn!("guest vCPU {vcpu}: instruction fetch outside guest RAM at pc {:#x}; prefetch abort injected", frame.elr);
            check_fault_loop(vm, vcpu, frame.elr);
            let esr = el2::external_instruction_abort_esr(frame.spsr);
            let far = frame.elr;
            el2::inject_sync(frame, esr, far);
        }
        _ => {
            log::warn!(
                "guest vCPU {vcpu}: unhandled exit EC {ec:#x} (ESR {:#x}) at pc {:#x}; injecting undefined instruction",
                frame.esr,
                frame.elr
            );
            check_fault_loop(vm, vcpu, frame.elr);
            el2::inject_sync(frame, el2::UNDEFINED_ESR, 0);
        }
    }
}

/// An SMCCC call from the guest (HVC or trapped SMC): FF-A goes to the
/// proxy, everything else to the emulated PSCI.
fn smccc_call(vm: &Vm, vcpu: usize, frame: &mut TrapFrame) {
    if crate::ffa_proxy::is_ffa(frame.x[0]) {
        let mut regs = [0u64; 8];
        regs.copy_from_slice(&frame.x[..8]);
        frame.x[..8].copy_from_slice(&crate::ffa_proxy::guest_call(regs));
        return;
    }
    let args = [frame.x[1], frame.x[2], frame.x[3]];
    let action = psci_guest::handle(
        frame.x[0],
        args,
        |m| vm.vcpu_of_mpidr(m),
        |v| vm.power(v),
        |entry| vm.ram.translate(entry, 4).is_some(),
    );
    match action {
        Action::Return(v) => frame.x[0] = v,
        Action::CpuOn {
            vcpu: target,
            entry,
            context,
        } => {
            vm.set_power(target, VcpuPower::OnPending);
            frame.x[0] =
                match crate::cpus::start_secondary(target, vm.mpidrs[target], entry, context) {
                    Ok(_) => 0,
                    Err(e) => {
                        log::error!("guest: CPU_ON of vCPU {target} failed in firmware: {e:?}");
                        vm.set_power(target, VcpuPower::Off);
                        e.code() as u64
                    }
                };
        }
        Action::CpuOff => {
            vm.set_power(vcpu, VcpuPower::Off);
            // SAFETY: CPU_OFF does not return on success; this CPU holds no
            // locks here.
            let ret = unsafe {
                arch_hal::psci::call(crate::power::conduit(), arch_hal::psci::CPU_OFF, 0, 0, 0)
            };
            log::error!("guest: firmware CPU_OFF returned {ret:#x}");
            frame.x[0] = ret;
        }
        Action::SystemOff => {
            log::info!("guest: PSCI SYSTEM_OFF");
            super::shutdown();
            crate::power::off();
        }
        Action::SystemReset => {
            log::info!("guest: PSCI SYSTEM_RESET");
            super::shutdown();
            // SAFETY: SYSTEM_RESET does not return.
            unsafe {
                arch_hal::psci::call(
                    crate::power::conduit(),
                    arch_hal::psci::SYSTEM_RESET,
                    0,
                    0,
                    0,
                )
            };
            crate::power::off();
        }
    }
}

fn sysreg(vm: &Vm, vcpu: usize, frame: &mut TrapFrame) {
    let iss = frame.esr & 0x1ff_ffff;
    let rt = ((iss >> 5) & 0x1f) as usize;
    let is_read = iss & 1 == 1;
    if (iss >> 20) & 3 == 2 {
        // Op0 = 2: a debug register, trapped because a debugger owns them
        // (MDCR_EL2.TDE); MDSCR_EL1 is shadowed, the rest are RAZ/WI.
        let write = (!is_read).then(|| if rt == 31 { 0 } else { frame.x[rt] });
        let v = crate::debug::control::guest_debug_sysreg(
            vcpu,
            iss & ISS_SYSREG_MASK == ISS_MDSCR,
            write,
        );
        if is_read && rt != 31 {
            frame.x[rt] = v;
        }
    } else if iss & ISS_SYSREG_MASK == ISS_ICC_SGI1R && !is_read {
        let value = if rt == 31 { 0 } else { frame.x[rt] };
        let targets = vm.vgic.lock().sgi1r_write(vcpu, value);
        super::irq::kick_mask(vm, vcpu, targets);
    } else {
        log::warn!(
            "guest vCPU {vcpu}: trapped system register access ISS {iss:#x} at pc {:#x}: ignored",
            frame.elr
        );
        if is_read && rt != 31 {
            frame.x[rt] = 0;
        }
    }
    frame.elr += 4;
}

fn data_abort(vm: &Vm, vcpu: usize, frame: &mut TrapFrame) {
    let syn = match mmio::decode_esr(frame.esr, frame.far, el2::hpfar()) {
        Ok(s) => s,
        Err(e) => {
            return abort_guest(
                vm,
                frame,
                vcpu,
                format_args!("undecodable data abort: {e}"),
                false,
            )
        }
    };
    // The guest's own SP, for accesses that use it as base (writeback).
    let mut sp = el2::guest_sp(frame.spsr);
    let access = match syn.access {
        Some(a) => a,
        None => {
            let insn = el2::guest_va_to_pa(frame.elr).and_then(|pa| {
                let ipa_ok = vm.ram.pa_contains(pa, 4);
                // SAFETY: `pa` lies in guest RAM (checked), which our
                // identity map covers; a 4-byte aligned read of code.
                ipa_ok.then(|| unsafe { core::ptr::read_volatile(pa as usize as *const u32) })
            });
            let regs = Regs {
                x: &mut frame.x,
                sp: &mut sp,
            };
            let resolved = match insn.map(mmio::decode_instruction) {
                Some(Ok(d)) => d.resolve(&syn, &regs).map_err(|e| e.into()),
                Some(Err(e)) => Err(e.into()),
                None => Err(AbortReason::NoInstruction),
            };
            match resolved {
                Ok(a) => a,
                Err(why) => return abort_guest(vm, frame, vcpu, format_args!("{why}"), syn.write),
            }
        }
    };
    let data = access.store_data(&Regs {
        x: &mut frame.x,
        sp: &mut sp,
    });
    match perform(vm, vcpu, &access, data) {
        Ok(loaded) => {
            let before = sp;
            // Loads fill their registers; loads and stores alike apply
            // their base writeback (`str w1, [x0, #4]!` moves x0).
            access.complete(
                &mut Regs {
                    x: &mut frame.x,
                    sp: &mut sp,
                },
                loaded,
            );
            if sp != before {
                el2::set_guest_sp(frame.spsr, sp);
            }
            frame.elr += 4;
        }
        Err(e) => abort_guest(
            vm,
            frame,
            vcpu,
            format_args!(
                "{} {} bytes at IPA {:#x}: {e}",
                if access.write { "write" } else { "read" },
                access.size,
                access.ipa
            ),
            access.write,
        ),
    }
}

/// Why an abort without a usable syndrome could not be emulated.
enum AbortReason {
    Decode(mmio::DecodeError),
    NoInstruction,
}

impl From<mmio::DecodeError> for AbortReason {
    fn from(e: mmio::DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl core::fmt::Display for AbortReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "{e}"),
            Self::NoInstruction => f.write_str("cannot read the faulting instruction"),
        }
    }
}

/// The device accesses of one emulated instruction (two for a pair);
/// returns what a load read.
fn perform(
    vm: &Vm,
    vcpu: usize,
    access: &mmio::MmioAccess,
    data: [u64; 2],
) -> Result<[u64; 2], mmio_bus::BusError> {
    let second = access.ipa + access.size as u64;
    if access.write {
        mmio_bus::write(vm, vcpu, access.ipa, access.size, data[0])?;
        if access.pair.is_some() {
            mmio_bus::write(vm, vcpu, second, access.size, data[1])?;
        }
        Ok([0, 0])
    } else {
        let lo = mmio_bus::read(vm, vcpu, access.ipa, access.size)?;
        let hi = match access.pair {
            Some(_) => mmio_bus::read(vm, vcpu, second, access.size)?,
            None => 0,
        };
        Ok([lo, hi])
    }
}

/// The guest touched something it may not: log it and give it a
/// synchronous external abort, as real hardware would for a bus error.
fn abort_guest(
    vm: &Vm,
    frame: &mut TrapFrame,
    vcpu: usize,
    why: core::fmt::Arguments<'_>,
    write: bool,
) {
    log::warn!(
        "guest vCPU {vcpu}: {why} (pc {:#x}, VA {:#x}); external abort injected",
        frame.elr,
        frame.far
    );
    check_fault_loop(vm, vcpu, frame.elr);
    let esr = el2::external_abort_esr(frame.spsr, write);
    let far = frame.far;
    el2::inject_sync(frame, esr, far);
}

/// A guest whose exception vector itself faults (e.g. no VBAR_EL1 yet)
/// would bounce between fault and injection forever. After a few nested
/// faults in a row at the same pc, stop it with a clear message instead of
/// spinning (see `Vm::note_fault` for what counts as nested).
fn check_fault_loop(vm: &Vm, vcpu: usize, pc: u64) {
    const LIMIT: u32 = 16;
    if vm.note_fault(vcpu, pc, el2::guest_elr_el1()) > LIMIT {
        log::error!("guest vCPU {vcpu} is stuck: {LIMIT} faults in a row at pc {pc:#x}");
        super::shutdown();
        log::info!("guest: stopped; powering off");
        crate::power::off();
    }
}
