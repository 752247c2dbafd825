//! elf-spmc: the hypervisor's secure variant, the FF-A SPMC at Secure EL2
//! under TF-A's SPMD (`cargo xbuild --spmc`). This file only wires the
//! stages together; the FF-A logic is `hyp_core::ffa`, host-tested.
#![no_std]
#![no_main]

mod spmc;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    spmc::console::line(format_args!("!!! PANIC: {info}"));
    // PSCI is not available to the secure world (TF-A answers SMC_UNK):
    // stop this core; the SPMD sees no answer from it.
    arch_hal::psci::park()
}
