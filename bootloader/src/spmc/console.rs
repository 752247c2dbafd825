//! The SPMC's log: whole lines prefixed `[spmc]`, on the PL011 the DTB
//! names. The secure world shares TF-A's boot console with the normal
//! world, so every line says who wrote it.

use arch_hal::pl011::Pl011;
use core::fmt::{self, Write};

static UART: spin::Mutex<Option<Pl011>> = spin::Mutex::new(None);

struct Out<'a>(&'a mut Pl011);

impl Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.0.write_byte(b'\r');
            }
            self.0.write_byte(b);
        }
        Ok(())
    }
}

pub fn init(base: usize) {
    // SAFETY: `base` is a PL011 from the DTB (or QEMU's fixed one); TF-A
    // has finished its boot messages when it enters us, and the normal
    // world does not run until we answer FFA_MSG_WAIT.
    let mut uart = unsafe { Pl011::new(base) };
    uart.init();
    *UART.lock() = Some(uart);
}

pub fn line(args: fmt::Arguments<'_>) {
    if let Some(uart) = UART.lock().as_mut() {
        let _ = writeln!(Out(uart), "[spmc] {args}");
    }
}

/// The first `arm,pl011` in whichever of `candidates` holds a DTB.
pub fn find_uart(candidates: &[u64]) -> Option<usize> {
    candidates.iter().find_map(|&addr| {
        if addr == 0 || addr % 8 != 0 {
            return None;
        }
        // SAFETY: TF-A passes DTB addresses in secure or non-secure RAM that
        // is readable with the MMU off; `from_ptr` checks the magic and
        // total size before reading further.
        let fdt = unsafe { fdt::Fdt::from_ptr(addr as usize as *const u8) }.ok()?;
        let node = fdt.find_compatible(&["arm,pl011"])?;
        node.reg()?.next().map(|r| r.starting_address as usize)
    })
}
