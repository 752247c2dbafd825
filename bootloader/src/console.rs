//! The hypervisor console: the PL011 named by the DTB, behind an IRQ-safe
//! lock so that log lines from different CPUs and handlers do not interleave.

use arch_hal::irq_mutex::IrqMutex;
use arch_hal::pl011::Pl011;
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

static CONSOLE: IrqMutex<Option<Pl011>> = IrqMutex::new(None);
/// The UART base, kept apart from the lock for the panic path.
static UART_BASE: AtomicUsize = AtomicUsize::new(0);

pub fn init(base: usize) {
    // SAFETY: `base` comes from the DTB's PL011 node, is mapped Device by the
    // identity map, and from here on only this module drives that UART.
    let mut uart = unsafe { Pl011::new(base) };
    uart.init();
    *CONSOLE.lock() = Some(uart);
    UART_BASE.store(base, Ordering::Release);
}

/// Writes formatted text to the console (dropped if there is none yet);
/// through the GDB stub while a debugger is attached.
pub fn write_fmt(args: core::fmt::Arguments<'_>) {
    if crate::debug::output::routed() {
        return crate::debug::output::write_fmt(args);
    }
    if let Some(uart) = CONSOLE.lock().as_mut() {
        // Pl011's Write impl cannot fail.
        let _ = uart.write_fmt(args);
    }
}

/// One byte of guest console output (through the GDB stub while a
/// debugger is attached).
pub fn write_byte(b: u8) {
    crate::debug::output::write(&[b]);
}

/// Bytes straight to the UART: the stub's own traffic, and console output
/// when no debugger is attached.
pub fn write_raw(bytes: &[u8]) {
    if let Some(uart) = CONSOLE.lock().as_mut() {
        for &b in bytes {
            uart.write_byte(b);
        }
    }
}

/// One received byte, if any.
pub fn read_byte() -> Option<u8> {
    CONSOLE.lock().as_mut().and_then(|u| u.read_byte())
}

/// The physical UART's interrupt, once receive interrupts are on.
static RX_INTID: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(u32::MAX);

pub fn enable_rx_interrupt(intid: u32) {
    if let Some(uart) = CONSOLE.lock().as_mut() {
        uart.enable_rx_interrupt();
        RX_INTID.store(intid, Ordering::Release);
    }
}

/// Masks or unmasks the receive interrupt (flow control), if it is in use.
pub fn set_rx_interrupt(on: bool) {
    static MASKED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    if rx_intid().is_none() || MASKED.load(Ordering::Relaxed) != on {
        return;
    }
    if let Some(uart) = CONSOLE.lock().as_mut() {
        if on {
            uart.enable_rx_interrupt();
        } else {
            uart.disable_rx_interrupt();
        }
        MASKED.store(!on, Ordering::Relaxed);
    }
}

pub fn rx_intid() -> Option<u32> {
    let v = RX_INTID.load(Ordering::Acquire);
    (v != u32::MAX).then_some(v)
}

/// Waits until all console output has left the UART.
pub fn flush() {
    if let Some(uart) = CONSOLE.try_lock().as_mut().and_then(|g| g.as_mut()) {
        uart.flush();
    }
}

/// Writes a line on the panic path: through the console if its lock is free,
/// otherwise straight to the UART registers (the holder may never run again).
pub fn emergency_write(args: core::fmt::Arguments<'_>) {
    if let Some(mut guard) = CONSOLE.try_lock() {
        if let Some(uart) = guard.as_mut() {
            let _ = uart.write_fmt(args);
            uart.flush();
            return;
        }
    }
    let base = UART_BASE.load(Ordering::Acquire);
    if base != 0 {
        raw_write(base, args);
    }
}

/// One line to the host's UART before the console exists (MMU off, no
/// locks), used to report why boot cannot go on.
pub fn emergency_line(host: &dtb::HostInfo, args: core::fmt::Arguments<'_>) {
    if let Some(uart) = host.uart.as_ref() {
        raw_line(uart.base as usize, args);
    }
}

/// One line straight to the PL011 at `base` (see `emergency_line`).
pub fn raw_line(base: usize, args: core::fmt::Arguments<'_>) {
    raw_write(base, format_args!("{args}\n"));
}

fn raw_write(base: usize, args: core::fmt::Arguments<'_>) {
    // SAFETY: `base` is a PL011 named by the DTB. On this path the normal
    // console is unusable and the system is about to power off, so a second
    // handle to the same registers cannot interfere with anything later.
    let mut uart = unsafe { Pl011::new(base) };
    let _ = uart.write_fmt(args);
    uart.flush();
}

#[macro_export]
macro_rules! println {
    () => { $crate::console::write_fmt(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}
