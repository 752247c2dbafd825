//! Volatile device access at addresses taken from the DTB.

pub fn read32(addr: usize) -> u32 {
    // SAFETY: callers pass device register addresses from the DTB (or
    // deliberately bad ones inside `traps::probe`, which catches the abort);
    // our identity map covers every address below 512 GiB.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

pub fn write32(addr: usize, value: u32) {
    // SAFETY: as for `read32`.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}
