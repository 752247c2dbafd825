//! The hostile guest: attempts on the hypervisor that must each be refused
//! or contained while the hypervisor stays up. Each attempt prints
//! `hostile: GROUP CASE: OUTCOME ok|FAIL`; the run ends with `hostile: N
//! cases, F failed` and a clean PSCI SYSTEM_OFF, which proves the
//! hypervisor survived everything before it.

mod access;
mod calls;
mod memory;
mod mmio;
mod sgi;
mod virtio;

use crate::platform::Platform;
use crate::println;
use crate::traps::Fault;
use core::fmt;

/// What the hypervisor must do with an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The access must not complete: the guest takes an abort.
    Refused,
    /// Either answer is correct (the architecture or device spec leaves it
    /// open); the hypervisor and guest must still survive it.
    Either,
}

#[derive(Default)]
pub struct Tally {
    cases: u32,
    failed: u32,
}

impl Tally {
    pub fn check(&mut self, group: &str, case: &str, ok: bool, outcome: fmt::Arguments<'_>) {
        self.cases += 1;
        if !ok {
            self.failed += 1;
        }
        println!(
            "hostile: {group} {case}: {outcome} {}",
            if ok { "ok" } else { "FAIL" }
        );
    }

    /// Judges an access probe against `expect`.
    pub fn access<T: fmt::LowerHex>(
        &mut self,
        group: &str,
        case: &str,
        expect: Expect,
        r: Result<T, Fault>,
    ) {
        match r {
            Err(f) => {
                // A data abort (EC 0x25) or undefined instruction, both of
                // which the hypervisor may inject for a refused access.
                let ok = matches!(f.ec(), 0x25 | 0x21 | 0x00);
                self.check(
                    group,
                    case,
                    ok,
                    format_args!("refused (ESR {:#x}, FAR {:#x})", f.esr, f.far),
                );
            }
            Ok(v) => self.check(
                group,
                case,
                expect == Expect::Either,
                format_args!("accepted (value {v:#x})"),
            ),
        }
    }
}

pub fn run(plat: &Platform) {
    let mut t = Tally::default();
    memory::run(plat, &mut t);
    mmio::run(plat, &mut t);
    calls::run(plat, &mut t);
    match plat.virtio {
        Some(base) => virtio::run(plat, base, &mut t),
        None => t.check(
            "virtio",
            "device",
            false,
            format_args!("no virtio-mmio node in the DTB"),
        ),
    }
    sgi::run(plat, &mut t);
    println!("hostile: {} cases, {} failed", t.cases, t.failed);
    println!("test-guest: hostile done");
}
