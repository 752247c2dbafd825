//! PL011 output (ARM DDI 0183G §3.3): the hypervisor's emulated UART. Each
//! line is written under a lock so lines from two CPUs do not interleave.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};

const DR: usize = 0x00;
const FR: usize = 0x18;
const FR_TXFF: u32 = 1 << 5;

static BASE: AtomicUsize = AtomicUsize::new(0x0900_0000);
static LOCK: spin::Mutex<()> = spin::Mutex::new(());

pub fn init(base: usize) {
    BASE.store(base, Ordering::Relaxed);
}

pub fn base() -> usize {
    BASE.load(Ordering::Relaxed)
}

struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let base = base();
        for b in s.bytes() {
            // Bounded: an emulated UART never stays full, a broken one must
            // not hang the test.
            for _ in 0..100_000 {
                if crate::mmio::read32(base + FR) & FR_TXFF == 0 {
                    break;
                }
            }
            crate::mmio::write32(base + DR, u32::from(b));
        }
        Ok(())
    }
}

pub fn print(args: fmt::Arguments<'_>) {
    let _guard = LOCK.lock();
    let _ = Uart.write_fmt(args);
}

#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::uart::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
