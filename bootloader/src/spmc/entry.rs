//! How TF-A's SPMD enters the SPMC (TF-A 2.12, `SPMD_SPM_AT_SEL2=1`): at
//! S-EL2 with the MMU and caches off, on the primary core first (cold boot:
//! x0/x1 = DTB addresses), later on each core the normal world powers on,
//! at the entry registered with FFA_SECONDARY_EP_REGISTER (or the cold
//! entry if none was). The core number comes from MPIDR_EL1 (Aff0 on QEMU
//! virt, at most 8 cores per cluster), which works for both entries.

core::arch::global_asm!(
    r#"
    .section .text.spmc_boot, "ax"
    .global _spmc_start
_spmc_start:
    msr     daifset, #0xf
    mov     x19, x0
    mov     x20, x1
    mrs     x21, mpidr_el1
    and     x21, x21, #0xff
    adr     x9, __hyp_vectors
    msr     vbar_el2, x9
    isb
    cbnz    x21, 2f                 // BSS belongs to the primary's cold boot
    ldr     x9, =__bss_start
    ldr     x10, =__bss_end
1:  cmp     x9, x10
    b.hs    2f
    str     xzr, [x9], #8
    b       1b
2:  bl      .Lstack
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    cbnz    x21, 3f
    bl      spmc_main
3:  mov     x0, x21
    bl      spmc_secondary_main
    b       .Lspmc_park

    .global _spmc_secondary
_spmc_secondary:
    msr     daifset, #0xf
    mrs     x21, mpidr_el1
    and     x21, x21, #0xff
    adr     x9, __hyp_vectors
    msr     vbar_el2, x9
    isb
    bl      .Lstack
    mov     x0, x21
    bl      spmc_secondary_main
    b       .Lspmc_park

// sp = __stacks_start + (x21 + 1) * STACK_SIZE (link-spmc.ld: 32 KiB).
.Lstack:
    ldr     x9, =__stacks_start
    add     x10, x21, #1
    lsl     x10, x10, #15
    add     sp, x9, x10
    ret

.Lspmc_park:
    wfi
    b       .Lspmc_park
"#
);

extern "C" {
    fn _spmc_secondary();
}

/// The physical address of the secondary entry (we run identity-mapped).
pub fn secondary_entry() -> u64 {
    _spmc_secondary as *const () as u64
}
