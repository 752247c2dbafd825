//! Finding the host DTB.
//!
//! U-Boot passes its control DTB address as argv[0]. Without it (QEMU
//! `-kernel`, or a boot script that forgot it), or if it does not point at a
//! valid FDT, we fall back to QEMU `virt`'s own copy at 0x4000_0000 and warn.

use core::fmt;
use fdt::Fdt;

/// Where QEMU's `virt` machine places its DTB (start of RAM).
pub const FALLBACK_DTB: u64 = 0x4000_0000;

pub enum Source {
    Argument,
    Fallback(Reason),
}

pub enum Reason {
    Argument(dtb::DtbArgError),
    Blob { addr: u64, err: dtb::DtbError },
}

pub struct Located {
    pub addr: u64,
    pub fdt: Fdt<'static>,
    pub source: Source,
}

/// Neither the loader's DTB nor the fallback is a device tree.
pub struct NoDtb;

/// Picks the DTB: the argument's if valid, else the fallback.
/// What the loader handed us to find the DTB.
pub enum Hint<'a> {
    /// U-Boot `bootelf`: argv[0], a hex string (or nothing).
    Argument(Option<&'a [u8]>),
    /// The Linux boot protocol (Raspberry Pi firmware): x0 = the DTB.
    Register(u64),
}

pub fn locate(hint: Hint<'_>) -> Result<Located, NoDtb> {
    let parsed = match hint {
        Hint::Argument(arg) => dtb::parse_dtb_address(arg),
        Hint::Register(addr) => Ok(addr),
    };
    let reason = match parsed {
        // SAFETY: parse_dtb_address only returns 8-byte aligned addresses
        // below 2^48, and U-Boot's DTB stays untouched while we run. If
        // nothing is at the address, the access raises an external abort,
        // which the early vectors turn into a PSCI power-off.
        Ok(addr) => match unsafe { dtb::open_at(addr) } {
            Ok(fdt) => {
                return Ok(Located {
                    addr,
                    fdt,
                    source: Source::Argument,
                })
            }
            Err(err) => Reason::Blob { addr, err },
        },
        Err(e) => Reason::Argument(e),
    };
    // SAFETY: QEMU `virt` RAM starts at FALLBACK_DTB and holds its DTB there;
    // on other boards see above.
    match unsafe { dtb::open_at(FALLBACK_DTB) } {
        Ok(fdt) => Ok(Located {
            addr: FALLBACK_DTB,
            fdt,
            source: Source::Fallback(reason),
        }),
        Err(_) => Err(NoDtb),
    }
}

/// Says which DTB is in use, and why if it is the fallback.
pub fn log_source(found: &Located) {
    match &found.source {
        Source::Argument => log::info!("boot: DTB at {:#x} (from the loader)", found.addr),
        Source::Fallback(reason) => {
            log::warn!("{reason}; using the DTB at {:#x} instead", found.addr)
        }
    }
    // Which board this is (everything else still comes from the DTB).
    match rpi_boot::detect(&found.fdt) {
        Ok(p) => log::info!("boot: platform {}", p.name()),
        Err(e) => log::warn!("boot: unknown platform ({e}); going by the DTB alone"),
    }
}

/// The DTB is readable but lacks what we need: say so on whatever PL011 it
/// names, then power off.
pub fn report_unusable(found: &Located, err: &dtb::DtbError) -> ! {
    if let Some(base) = found
        .fdt
        .find_compatible(&["arm,pl011"])
        .and_then(|n| n.reg())
        .and_then(|mut r| r.next())
        .map(|r| r.starting_address as usize)
    {
        crate::console::raw_line(
            base,
            format_args!("error: DTB at {:#x} unusable: {err}", found.addr),
        );
    }
    crate::power::off_without_console()
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Argument(e) => write!(f, "DTB argument: {e}"),
            Self::Blob { addr, err } => {
                write!(f, "no valid DTB at {addr:#x} (from the loader): {err}")
            }
        }
    }
}
