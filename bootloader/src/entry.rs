//! `_start`: the first instructions run, on the boot CPU only.
//!
//! Two loaders enter here, in different states:
//! - U-Boot `bootelf -p`: EL2, MMU and caches ON with U-Boot's identity map,
//!   x0 = argc, x1 = argv, SError unmasked, VBAR_EL2 = U-Boot's vectors.
//! - QEMU `-kernel elf`: EL2, MMU off, x0..x3 = 0.
//!
//! We bring both to one state before any Rust runs: exceptions masked, our
//! vectors installed, every dirty cache line of the previous owner written
//! back, MMU and caches off, BSS zeroed and our own stack. The cache clean is
//! by set/way (Arm ARM D7.5.9.8) and touches no memory, since memory writes
//! with the caches on would create new dirty lines. It runs twice: once while
//! the old map is live to write back dirty data (U-Boot's DTB copy, argv),
//! and once after the MMU is off to discard lines allocated speculatively in
//! between, which would otherwise shadow what we write with caches off.

core::arch::global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    // An arm64 Image header (Linux booting.rst), so that loaders speaking
    // the Linux protocol (QEMU -kernel, U-Boot booti) load us at
    // 2 MiB-aligned RAM base + text_offset = 0x4100_0000 on QEMU virt and
    // enter with x0 = DTB. bootelf and the Pi firmware just run the branch.
    b       .Lafter_header          // code0
    .word   0                       // code1
    .quad   0x01000000              // text_offset
    .quad   __image_size            // image_size, BSS and stacks included
    .quad   0x2                     // flags: little-endian, 4 KiB pages
    .quad   0, 0, 0                 // res2-res4
    .ascii  "ARM\x64"               // magic
    .word   0                       // res5
.Lafter_header:
    mov     x19, x0                 // argc
    mov     x20, x1                 // argv
    msr     daifset, #0xf
    mrs     x9, CurrentEL
    ubfx    x9, x9, #2, #2
    cmp     x9, #2
    b.ne    .Lnot_el2

    adr     x9, __hyp_vectors
    msr     vbar_el2, x9
    isb

    bl      .Ldcache_clean_inval_all

    mrs     x9, sctlr_el2
    bic     x9, x9, #(1 << 0)       // M
    bic     x9, x9, #(1 << 2)       // C
    bic     x9, x9, #(1 << 12)      // I
    msr     sctlr_el2, x9
    isb
    ic      iallu
    tlbi    alle2
    dsb     sy
    isb

    bl      .Ldcache_clean_inval_all

    ldr     x9, =__stacks_start
    ldr     x10, =0x40000           // STACK_SIZE in link.ld
    add     sp, x9, x10
    sub     sp, sp, #512            // the top 512 bytes hold the guest's trap frame

    ldr     x9, =__bss_start
    ldr     x10, =__bss_end
1:  cmp     x9, x10
    b.hs    2f
    str     xzr, [x9], #8
    b       1b
2:
    mov     x0, x19
    mov     x1, x20
    bl      hyp_main
    b       .Lpark

// Secondary CPUs, started by the hypervisor with PSCI CPU_ON: EL2, MMU and
// caches off (PSCI DEN0022E §6.4), x0 = the CPU's index (our context id).
    .global _secondary_start
_secondary_start:
    msr     daifset, #0xf
    mov     x19, x0
    adr     x9, __hyp_vectors
    msr     vbar_el2, x9
    ic      iallu
    tlbi    alle2
    dsb     sy
    isb
    ldr     x9, =__stacks_start
    add     x10, x19, #1
    lsl     x10, x10, #18           // (index + 1) * STACK_SIZE
    add     sp, x9, x10
    sub     sp, sp, #512            // the top 512 bytes hold the guest's trap frame
    mov     x0, x19
    bl      hyp_secondary_main
    b       .Lpark

.Lnot_el2:
    // Not at EL2 (e.g. firmware that dropped to EL1): we cannot be a
    // hypervisor here and have no console yet. Power off via PSCI.
    ldr     x0, =0x84000008         // SYSTEM_OFF
    smc     #0
.Lpark:
    wfi
    b       .Lpark

// Clean and invalidate every data/unified cache level up to the Level of
// Coherence by set/way. Registers only: x0-x17 clobbered, no stack.
.Ldcache_clean_inval_all:
    mrs     x0, clidr_el1
    ubfx    w3, w0, #24, #3         // LoC
    lsl     w3, w3, #1              // 2 * LoC
    cbz     w3, 5f
    mov     w10, #0                 // 2 * level
    mov     w8, #1
    mrs     x12, id_aa64mmfr2_el1
    ubfx    x12, x12, #20, #4       // CCIDX: 64-bit CCSIDR format
1:  add     w2, w10, w10, lsr #1    // 3 * level
    lsr     w1, w0, w2
    and     w1, w1, #7              // cache type at this level
    cmp     w1, #2
    b.lt    4f                      // no data cache here
    msr     csselr_el1, x10
    isb
    mrs     x1, ccsidr_el1
    and     w2, w1, #7
    add     w2, w2, #4              // log2(line size)
    cbnz    x12, 6f
    ubfx    w4, w1, #3, #10         // max way
    ubfx    w13, w1, #13, #15       // max set
    b       7f
6:  ubfx    x4, x1, #3, #21
    ubfx    x13, x1, #32, #24
7:  clz     w5, w4                  // way shift
    lsl     w9, w4, w5              // way, positioned (w5 = 32 if w4 = 0)
    lsl     w16, w8, w5
2:  lsl     w7, w13, w2             // set, positioned
    lsl     w17, w8, w2
3:  orr     w11, w10, w9
    orr     w11, w11, w7
    dc      cisw, x11
    subs    w7, w7, w17
    b.ge    3b
    subs    x9, x9, x16
    b.ge    2b
4:  add     w10, w10, #2
    cmp     w3, w10
    b.gt    1b
5:  dsb     sy
    isb
    ret
"#
);
