//! The loader's argument vector.
//!
//! U-Boot's `bootelf -p <addr> ${fdtcontroladdr}` enters us with x0 = argc
//! and x1 = argv, where argv[0] is the first word after the address: the DTB
//! address in hex without "0x" (measured; see shared/notes/platform-facts.md).

/// Longest argument we read: a 64-bit hex address plus a prefix fits easily.
const MAX_ARG_LEN: usize = 32;
/// More arguments than this means x0/x1 are not an argc/argv pair.
const MAX_ARGC: u64 = 64;

/// Returns argv[index] as bytes, or None if there is no usable argument.
///
/// # Safety
/// If `argc` is in 1..=MAX_ARGC and `argv` is non-null and aligned, `argv`
/// must point to `argc` pointers, each null or pointing to a NUL-terminated
/// string that stays valid for the program's lifetime (U-Boot's memory is not
/// reused before the hypervisor has consumed its arguments).
pub unsafe fn argument(argc: u64, argv: *const *const u8, index: u64) -> Option<&'static [u8]> {
    if index >= argc || argc > MAX_ARGC || argv.is_null() || !argv.is_aligned() {
        return None;
    }
    // SAFETY: index < argc, so argv[index] exists per the contract.
    let s = unsafe { argv.add(index as usize).read() };
    if s.is_null() {
        return None;
    }
    let mut len = 0;
    // SAFETY: the string is NUL-terminated; we stop at the NUL or after
    // MAX_ARG_LEN bytes, whichever comes first.
    while len < MAX_ARG_LEN && unsafe { s.add(len).read() } != 0 {
        len += 1;
    }
    // SAFETY: the `len` bytes just read are valid and unchanging.
    Some(unsafe { core::slice::from_raw_parts(s, len) })
}

/// Self-tests that exercise the failure paths on real hardware or QEMU,
/// selected by argv[1] (`bootelf -p <elf> <dtb> selftest=...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelfTest {
    /// A Rust panic: the handler must print its location and power off.
    Panic,
    /// A load from an address no device or RAM answers: the exception
    /// vectors must report the data abort and power off.
    Abort,
}

pub fn self_test(arg: Option<&[u8]>) -> Option<SelfTest> {
    match arg? {
        b"selftest=panic" => Some(SelfTest::Panic),
        b"selftest=abort" => Some(SelfTest::Abort),
        _ => None,
    }
}
