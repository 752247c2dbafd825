//! Console output while a debugger may be attached. Guest console bytes and
//! the hypervisor's log lines share the UART with GDB, so once a session is
//! open they go through the stub: as RSP `O` packets while the guest runs,
//! held while it is stopped (GDB would take an `O` packet for the reply to
//! its command) and sent when it resumes. Without a debugger they are
//! written straight to the UART, as before.
//!
//! Writers never wait for the session lock: they queue the bytes and drain
//! the queue if the lock is free; whoever holds the lock drains it when it
//! is done (`super::with_session`).

use arch_hal::irq_mutex::IrqMutex;
use core::sync::atomic::{AtomicBool, Ordering};
use hyp_core::ring::ByteRing;

/// A session is open: output is routed through it.
static ROUTED: AtomicBool = AtomicBool::new(false);
/// Output waiting for the stub. 16 KiB holds a screenful and more of guest
/// output produced around a stop; beyond that the oldest text would be
/// lost, so the ring drops the newest and counts it.
static QUEUE: IrqMutex<ByteRing<16384>> = IrqMutex::new(ByteRing::new());

pub fn set_routed(on: bool) {
    ROUTED.store(on, Ordering::Release);
}

pub fn routed() -> bool {
    ROUTED.load(Ordering::Acquire)
}

/// Console bytes (guest UART output or hypervisor text).
pub fn write(bytes: &[u8]) {
    if !routed() {
        crate::console::write_raw(bytes);
        return;
    }
    {
        let mut q = QUEUE.lock();
        for &b in bytes {
            q.push(b);
        }
    }
    drain();
}

/// Formatted hypervisor text, routed like [`write`].
pub fn write_fmt(args: core::fmt::Arguments<'_>) {
    struct Queue;
    impl core::fmt::Write for Queue {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let mut q = QUEUE.lock();
            for &b in s.as_bytes() {
                q.push(b);
            }
            Ok(())
        }
    }
    let _ = core::fmt::Write::write_fmt(&mut Queue, args);
    drain();
}

/// Sends queued output if the session lock is free.
pub fn drain() {
    super::try_with_session(|_| ());
}

/// Sends queued output through `session` (its lock is held), unless the
/// guest is stopped under a debugger.
pub fn drain_into(session: &mut super::Session) {
    loop {
        if session.attached() && !session.running() {
            return;
        }
        let mut chunk = [0u8; 128];
        let mut n = 0;
        {
            let mut q = QUEUE.lock();
            while n < chunk.len() {
                match q.pop() {
                    Some(b) => {
                        chunk[n] = b;
                        n += 1;
                    }
                    None => break,
                }
            }
        }
        if n == 0 {
            return;
        }
        session.console_output(&chunk[..n]);
    }
}
