//! The second vCPU: started with PSCI CPU_ON, it takes interrupts until
//! told to stop, so the other CPU can time IPIs to it and flood it.

use crate::platform::Platform;
use crate::{cpu, gic, println, smccc, start};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static GICR: AtomicUsize = AtomicUsize::new(0);
static READY: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);

/// Starts CPU `index` and waits until its GIC is up.
pub fn start(plat: &Platform, index: usize) -> Result<(), &'static str> {
    if index >= plat.cpus {
        return Err("the guest has only one vCPU");
    }
    GICR.store(plat.gicr_of(index), Ordering::SeqCst);
    let r = smccc::cpu_on(plat.mpidrs[index], start::secondary_entry(), index as u64);
    if r != 0 {
        println!("test-guest: CPU_ON returned {r:#x}");
        return Err("PSCI CPU_ON failed");
    }
    let deadline = cpu::now() + cpu::counter_hz() * 5;
    while !READY.load(Ordering::SeqCst) {
        if cpu::now() > deadline {
            return Err("secondary CPU did not come up within 5 s");
        }
        core::hint::spin_loop();
    }
    Ok(())
}

/// Asks the secondary to stop taking part (it parks with IRQs masked).
pub fn stop() {
    STOP.store(true, Ordering::SeqCst);
}

#[no_mangle]
extern "C" fn secondary_main(index: usize) -> ! {
    if let Err(e) = gic::init_cpu(GICR.load(Ordering::SeqCst)) {
        println!("test-guest: FAIL: CPU {index}: {e}");
        smccc::system_off();
    }
    READY.store(true, Ordering::SeqCst);
    cpu::irqs_on();
    while !STOP.load(Ordering::SeqCst) {
        core::hint::spin_loop();
    }
    cpu::irqs_off();
    loop {
        core::hint::spin_loop();
    }
}
