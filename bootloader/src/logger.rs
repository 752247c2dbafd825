//! `log` backend: every line carries milliseconds since hypervisor entry.

use arch_hal::sysreg::HwSysRegs;
use arch_hal::time::Epoch;
use spin::Once;

struct ConsoleLogger {
    epoch: Once<Epoch>,
}

static LOGGER: ConsoleLogger = ConsoleLogger { epoch: Once::new() };

pub fn init(epoch: Epoch) {
    LOGGER.epoch.call_once(|| epoch);
    // set_logger only fails if a logger is already set; then the first stays.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
}

impl log::Log for ConsoleLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let ms = self.epoch.get().map_or(0, |e| e.elapsed_ms(&HwSysRegs));
        let level = match record.level() {
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            _ => "",
        };
        crate::console::write_fmt(format_args!("[{ms:>7} ms] {level}{}\n", record.args()));
    }

    fn flush(&self) {
        crate::console::flush();
    }
}
