//! Panics print their location and message, then power the machine off.
//! The "!!! PANIC" prefix is what the test harness treats as a failure.

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    crate::console::emergency_write(format_args!(
        "\n!!! PANIC at {file}:{line}: {}\n",
        info.message()
    ));
    crate::power::off()
}
