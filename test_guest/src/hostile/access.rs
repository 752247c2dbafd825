//! Single-instruction accesses of every shape the hostile guest tries. Each
//! is one instruction a `traps::probe` can skip when it faults.

use core::arch::asm;

/// Where PA `pa` (below 1 GiB) appears as Normal non-cacheable memory
/// (start.rs maps block 3 to PA 0), so stage 1 allows unaligned and
/// atomic accesses and only the hypervisor's Stage-2 can refuse them.
pub fn normal_alias(pa: usize) -> usize {
    0xc000_0000 + pa
}

macro_rules! load {
    ($name:ident, $insn:literal, $ty:ty) => {
        #[inline(never)]
        pub fn $name(addr: usize) -> u64 {
            let v: u64;
            // SAFETY: a single load; a fault is caught by the probe around
            // the call, which skips this instruction.
            unsafe { asm!($insn, v = out(reg) v, a = in(reg) addr, options(nostack)) };
            v as $ty as u64
        }
    };
}

macro_rules! store {
    ($name:ident, $insn:literal) => {
        #[inline(never)]
        pub fn $name(addr: usize, value: u64) {
            // SAFETY: as for the loads.
            unsafe { asm!($insn, v = in(reg) value, a = in(reg) addr, options(nostack)) };
        }
    };
}

load!(read8, "ldrb {v:w}, [{a}]", u8);
load!(read16, "ldrh {v:w}, [{a}]", u16);
load!(read32, "ldr {v:w}, [{a}]", u32);
load!(read64, "ldr {v}, [{a}]", u64);
store!(write8, "strb {v:w}, [{a}]");
store!(write32, "str {v:w}, [{a}]");
store!(write64, "str {v}, [{a}]");

/// LDP of two 32-bit registers: the syndrome has no ISV, so the hypervisor
/// must decode the instruction itself.
#[inline(never)]
pub fn read_pair(addr: usize) -> u64 {
    let (a, b): (u64, u64);
    // SAFETY: as for the loads.
    unsafe {
        asm!("ldp {a:w}, {b:w}, [{p}]", a = out(reg) a, b = out(reg) b, p = in(reg) addr, options(nostack))
    };
    (b << 32) | a
}

/// LDR with post-index writeback (no ISV either).
#[inline(never)]
pub fn read_post_index(addr: usize) -> u64 {
    let v: u64;
    // SAFETY: as for the loads; the written-back base is discarded.
    unsafe {
        asm!("ldr {v:w}, [{a}], #4", v = out(reg) v, a = inout(reg) addr => _, options(nostack))
    };
    v
}

/// LDADD (FEAT_LSE atomic), encoded by hand so the crate needs no target
/// feature: `ldadd w1, w0, [x2]` = 0xb8210040.
#[inline(never)]
pub fn atomic_add(addr: usize) -> u64 {
    let v: u64;
    // SAFETY: as for the loads.
    unsafe {
        asm!(".inst 0xb8210040", out("x0") v, in("x1") 1u64, in("x2") addr, options(nostack))
    };
    v
}

/// STXR: an exclusive store (status discarded).
#[inline(never)]
pub fn store_exclusive(addr: usize) -> u64 {
    let status: u64;
    // SAFETY: as for the loads.
    unsafe {
        asm!("stxr {s:w}, {v:w}, [{a}]", s = out(reg) status, v = in(reg) 0u64, a = in(reg) addr, options(nostack))
    };
    status
}

/// DC ZVA: zeroes a whole block with one instruction.
#[inline(never)]
pub fn zero_block(addr: usize) -> u64 {
    // SAFETY: as for the loads.
    unsafe { asm!("dc zva, {a}", a = in(reg) addr, options(nostack)) };
    0
}

/// Branches to `addr`, which returns (if it could run) or faults on the
/// fetch; the probe's handler then returns here through x30.
#[inline(never)]
pub fn exec(addr: usize) -> u64 {
    // SAFETY: the target is outside guest RAM: the fetch aborts and the
    // probe handler resumes at the return address in x30.
    unsafe { asm!("blr {a}", a = in(reg) addr, out("x30") _, clobber_abi("C")) };
    0
}
