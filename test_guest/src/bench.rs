//! Exit-cost micro-benchmarks, timed with CNTVCT. One line each:
//! `bench-exit: NAME median_ns=M min_ns=A max_ns=B samples=S`, where a
//! sample is the mean of a batch of calls (round trips) or one event
//! (latencies). The SVC round trip is the floor: an exception the guest
//! takes and returns from itself, with no hypervisor involved.

use crate::platform::Platform;
use crate::{cpu, gic, mmio, println, secondary, smccc};

const BATCHES: usize = 15;
const PER_BATCH: u64 = 200;
const EVENTS: usize = 31;

pub fn run(plat: &Platform) {
    round_trip("svc", || {
        // SAFETY: our vector returns from an SVC at once (traps.rs).
        unsafe { core::arch::asm!("svc #0", options(nostack)) }
    });
    round_trip("hvc", || {
        smccc::hvc(smccc::PSCI_VERSION, 0, 0, 0);
    });
    let fr = plat.uart + 0x18;
    round_trip("mmio_read", || {
        mmio::read32(fr);
    });
    round_trip("cntvct", || {
        cpu::now();
    });
    vtimer();
    match secondary::start(plat, 1) {
        Ok(()) => {
            vipi();
            secondary::stop();
        }
        Err(e) => println!("bench-exit: vipi skipped: {e}"),
    }
    println!("test-guest: bench done");
}

fn round_trip(name: &str, mut op: impl FnMut()) {
    let mut samples = [0u64; BATCHES];
    for s in samples.iter_mut() {
        let t0 = cpu::now();
        for _ in 0..PER_BATCH {
            op();
        }
        *s = cpu::ticks_to_ns(cpu::now() - t0) / PER_BATCH;
    }
    report(name, &mut samples);
}

/// From the virtual timer's deadline to our IRQ handler.
fn vtimer() {
    let mut samples = [0u64; EVENTS];
    let tick_100us = cpu::counter_hz() / 10_000;
    cpu::irqs_on();
    for s in samples.iter_mut() {
        let before = gic::count(0, gic::VTIMER);
        let at = cpu::now() + tick_100us;
        cpu::arm_vtimer(at);
        if !wait(|| gic::count(0, gic::VTIMER) != before) {
            fail("vtimer: interrupt did not arrive within 1 s");
        }
        *s = cpu::ticks_to_ns(gic::stamp(0, gic::VTIMER).saturating_sub(at));
    }
    cpu::irqs_off();
    report("vtimer_latency", &mut samples);
}

/// From writing ICC_SGI1R_EL1 on CPU 0 to CPU 1's IRQ handler.
fn vipi() {
    let mut samples = [0u64; EVENTS];
    for s in samples.iter_mut() {
        let before = gic::count(1, gic::SGI_PING);
        let t0 = cpu::now();
        gic::send_sgi(gic::SGI_PING, 1 << 1, false);
        if !wait(|| gic::count(1, gic::SGI_PING) != before) {
            fail("vipi: CPU 1 did not take the SGI within 1 s");
        }
        *s = cpu::ticks_to_ns(gic::stamp(1, gic::SGI_PING).saturating_sub(t0));
    }
    report("vipi_latency", &mut samples);
}

/// Polls `done` for up to a second of guest time.
pub fn wait(done: impl Fn() -> bool) -> bool {
    let deadline = cpu::now() + cpu::counter_hz();
    while !done() {
        if cpu::now() > deadline {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

fn report(name: &str, samples: &mut [u64]) {
    samples.sort_unstable();
    println!(
        "bench-exit: {name} median_ns={} min_ns={} max_ns={} samples={}",
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1],
        samples.len()
    );
}

fn fail(why: &str) -> ! {
    println!("test-guest: FAIL: {why}");
    smccc::system_off()
}
