//! Entry, MMU and exception vectors: the only assembly in the test guest.
//!
//! The hypervisor enters `_start` on vCPU 0 at EL1h with the MMU off and
//! x0 = the guest DTB (Linux booting.rst); PSCI CPU_ON enters `_secondary`
//! with x0 = our context id, which is the CPU index. Both turn on the MMU
//! before any Rust runs, because with it off every data access is Device
//! memory: no exclusives (spin locks) and no unaligned accesses.
//!
//! The stage-1 map is one level-1 table of 1 GiB identity blocks over a
//! 39-bit address space (Arm ARM D8.2, 4 KiB granule, T0SZ = 25):
//! - block 1 (0x4000_0000..0x8000_0000, guest RAM and what lies past it):
//!   Normal write-back;
//! - block 3 (VA 0xc000_0000) aliases PA 0 as Normal non-cacheable, so the
//!   hostile guest can make unaligned and atomic accesses to device IPAs
//!   that stage 1 would otherwise fault (Device memory);
//! - every other block: Device-nGnRnE, execute-never.
//!
//! TPIDR_EL1 holds the CPU index for `cpu::index()`.

core::arch::global_asm!(
    r#"
    .equ STACK_SIZE, 0x10000
    // MAIR: attr0 Device-nGnRnE, attr1 Normal WB RA/WA, attr2 Normal NC.
    .equ MAIR_VALUE, 0x44ff00
    // TCR_EL1: T0SZ 25, walks WB cacheable inner shareable, 4 KiB granule,
    // no TTBR1 walks (EPD1), IPS 40 bits.
    .equ TCR_VALUE, 0x200803519
    // SCTLR_EL1: RES1 bits (Arm ARM D17.2.118) + M, C, I.
    .equ SCTLR_VALUE, 0x30d01805
    .equ BLOCK_DEVICE, 0x0060000000000401
    .equ BLOCK_NORMAL, 0x705
    .equ BLOCK_NC, 0x0060000000000709

    .section .text.boot, "ax"
    .global _start
_start:
    // arm64 Image header (booting.rst): text_offset 0, LE, 4 KiB pages.
    b       1f
    .word   0
    .quad   0                       // text_offset
    .quad   __image_size
    .quad   0x2                     // flags
    .quad   0, 0, 0
    .ascii  "ARM\x64"
    .word   0
1:  msr     daifset, #0xf
    mov     x19, x0
    ldr     x9, =__bss_start
    ldr     x10, =__bss_end
2:  cmp     x9, x10
    b.hs    3f
    str     xzr, [x9], #8
    b       2b
3:  bl      .Lbuild_table
    mov     x20, #0
    bl      .Lcpu_setup
    mov     x0, x19
    bl      guest_main
    b       .Lpark

    .global _secondary
_secondary:
    msr     daifset, #0xf
    mov     x20, x0
    bl      .Lcpu_setup
    mov     x0, x20
    bl      secondary_main
    b       .Lpark

// x20 = CPU index: MMU on, vectors, stack, TPIDR_EL1.
.Lcpu_setup:
    ldr     x9, =MAIR_VALUE
    msr     mair_el1, x9
    ldr     x9, =TCR_VALUE
    msr     tcr_el1, x9
    ldr     x9, =__l1_table
    msr     ttbr0_el1, x9
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x9, =SCTLR_VALUE
    msr     sctlr_el1, x9
    isb
    ldr     x9, =guest_vectors
    msr     vbar_el1, x9
    msr     tpidr_el1, x20
    isb
    ldr     x9, =__stacks_start
    ldr     x10, =STACK_SIZE
    add     x11, x20, #1
    madd    x9, x10, x11, x9
    mov     sp, x9
    ret

.Lbuild_table:
    ldr     x9, =__l1_table
    mov     x10, #0
4:  lsl     x11, x10, #30
    cmp     x10, #1
    b.eq    5f
    cmp     x10, #3
    b.eq    6f
    ldr     x12, =BLOCK_DEVICE
    b       7f
5:  ldr     x12, =BLOCK_NORMAL
    b       7f
6:  mov     x11, #0
    ldr     x12, =BLOCK_NC
7:  orr     x11, x11, x12
    str     x11, [x9, x10, lsl #3]
    add     x10, x10, #1
    cmp     x10, #512
    b.lo    4b
    dsb     sy
    ret

.Lpark:
    wfe
    b       .Lpark

    // Exception vectors (Arm ARM D1.3.1): 16 entries of 0x80 bytes. Each
    // saves x0/x1, passes its index, and shares one save/restore path.
    .macro VECTOR index
    .balign 0x80
    sub     sp, sp, #272
    stp     x0, x1, [sp, #0]
    mov     x0, #\index
    b       .Lsave_rest
    .endm

    .section .text.vectors, "ax"
    .balign 2048
    .global guest_vectors
guest_vectors:
    VECTOR 0
    VECTOR 1
    VECTOR 2
    VECTOR 3
    VECTOR 4
    VECTOR 5
    VECTOR 6
    VECTOR 7
    VECTOR 8
    VECTOR 9
    VECTOR 10
    VECTOR 11
    VECTOR 12
    VECTOR 13
    VECTOR 14
    VECTOR 15

// The frame matches `traps::Frame`: x0..x30, ELR, SPSR, padding.
.Lsave_rest:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x1, elr_el1
    mrs     x2, spsr_el1
    stp     x30, x1, [sp, #240]
    str     x2, [sp, #256]
    mov     x1, x0
    mov     x0, sp
    bl      trap_entry
    ldr     x2, [sp, #256]
    ldp     x30, x1, [sp, #240]
    msr     elr_el1, x1
    msr     spsr_el1, x2
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #272
    eret
"#
);

extern "C" {
    fn _secondary();
}

/// The physical (= virtual) address PSCI CPU_ON should start a CPU at.
pub fn secondary_entry() -> u64 {
    _secondary as *const () as u64
}
