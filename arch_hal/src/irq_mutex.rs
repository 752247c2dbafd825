//! A spin lock that also masks interrupts on this CPU while held.
//!
//! `spin::Mutex` alone deadlocks if an interrupt handler on the same CPU takes
//! a lock that the interrupted code holds (e.g. the console). Masking DAIF.I
//! and .F for the critical section rules that out.

use core::ops::{Deref, DerefMut};

pub struct IrqMutex<T> {
    inner: spin::Mutex<T>,
}

pub struct IrqMutexGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    saved: u64,
}

impl<T> IrqMutex<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
        }
    }

    pub fn lock(&self) -> IrqMutexGuard<'_, T> {
        let saved = mask_irqs();
        IrqMutexGuard {
            guard: Some(self.inner.lock()),
            saved,
        }
    }

    /// Takes the lock only if it is free; used on paths (panic) that must not
    /// wait for a holder that will never run again.
    pub fn try_lock(&self) -> Option<IrqMutexGuard<'_, T>> {
        let saved = mask_irqs();
        match self.inner.try_lock() {
            Some(guard) => Some(IrqMutexGuard {
                guard: Some(guard),
                saved,
            }),
            None => {
                restore_irqs(saved);
                None
            }
        }
    }
}

impl<T> Deref for IrqMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // The option is only emptied in drop.
        self.guard.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl<T> DerefMut for IrqMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl<T> Drop for IrqMutexGuard<'_, T> {
    fn drop(&mut self) {
        // Release the lock before unmasking, so a pending interrupt that wants
        // the lock finds it free.
        drop(self.guard.take());
        restore_irqs(self.saved);
    }
}

#[cfg(target_arch = "aarch64")]
fn mask_irqs() -> u64 {
    let daif: u64;
    // SAFETY: reading DAIF and masking I/F only changes this CPU's interrupt
    // mask, which `restore_irqs` puts back.
    unsafe {
        core::arch::asm!("mrs {}, daif", "msr daifset, #3", out(reg) daif, options(nomem, nostack));
    }
    daif
}

#[cfg(target_arch = "aarch64")]
fn restore_irqs(daif: u64) {
    // SAFETY: restores the mask saved by `mask_irqs` on this CPU.
    unsafe { core::arch::asm!("msr daif, {}", in(reg) daif, options(nomem, nostack)) };
}

#[cfg(not(target_arch = "aarch64"))]
fn mask_irqs() -> u64 {
    0
}

#[cfg(not(target_arch = "aarch64"))]
fn restore_irqs(_: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_lock_fails_while_held() {
        let m = IrqMutex::new(5);
        let mut g = m.lock();
        *g += 1;
        assert!(m.try_lock().is_none());
        drop(g);
        assert_eq!(*m.try_lock().expect("free"), 6);
    }
}
