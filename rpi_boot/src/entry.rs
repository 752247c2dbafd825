//! What the loader left in x0/x1 at `_start`.
//!
//! Three loaders enter the hypervisor, each with its own convention:
//! - U-Boot `bootelf -p`: x0 = argc (small), x1 = argv (non-null);
//!   `argv[0]` is the DTB address in hex (see `shared/notes/platform-facts.md`).
//! - The Linux arm64 boot protocol (Raspberry Pi firmware, U-Boot `booti`):
//!   x0 = physical address of the DTB, 8-byte aligned; x1 = x2 = x3 = 0
//!   (Linux `Documentation/arch/arm64/booting.rst`, "Call the kernel
//!   image").
//! - QEMU `-kernel` with an ELF: x0..x3 = 0, DTB at the start of RAM.

/// More arguments than this means x0/x1 are not an argc/argv pair (the same
/// bound as the hypervisor's `boot_args`).
pub const MAX_ARGC: u64 = 64;

/// The loader's convention, decided from the registers alone. A
/// [`EntryArgs::Dtb`] address must still be checked for the FDT magic
/// (`dtb::open_at` does) before it is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryArgs {
    /// U-Boot `bootelf`: argc/argv.
    Argv { argc: u64, argv: u64 },
    /// Linux boot protocol: the DTB's physical address.
    Dtb(u64),
    /// Nothing passed (QEMU's ELF loader): use the platform's fallback.
    None,
}

/// Classifies the entry registers (x0, x1).
pub fn classify(x0: u64, x1: u64) -> EntryArgs {
    match (x0, x1) {
        (0, 0) => EntryArgs::None,
        (argc @ 1..=MAX_ARGC, argv) if argv != 0 => EntryArgs::Argv { argc, argv },
        // booting.rst: "x0 = physical address of device tree blob (dtb) in
        // system RAM", and the blob must be 8-byte aligned.
        (dtb, 0) if dtb.is_multiple_of(8) => EntryArgs::Dtb(dtb),
        _ => EntryArgs::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions() {
        // QEMU -kernel.
        assert_eq!(classify(0, 0), EntryArgs::None);
        // U-Boot bootelf -p <addr> <dtb>.
        assert_eq!(
            classify(1, 0x7ff0_1234),
            EntryArgs::Argv {
                argc: 1,
                argv: 0x7ff0_1234
            }
        );
        // Raspberry Pi firmware / booti: DTB low in RAM, x1 = 0.
        assert_eq!(classify(0x2eff_8100, 0), EntryArgs::Dtb(0x2eff_8100));
        // Small aligned x0 with x1 = 0 is a DTB address too (argc needs argv).
        assert_eq!(classify(8, 0), EntryArgs::Dtb(8));
    }

    #[test]
    fn nonsense_is_none() {
        assert_eq!(classify(0x2eff_8101, 0), EntryArgs::None, "misaligned");
        assert_eq!(classify(65, 0x1000), EntryArgs::None, "argc too large");
        assert_eq!(classify(0, 0x1000), EntryArgs::None, "argc 0");
    }
}
