//! The hypervisor's own EL2 stage-1 map: identity, RAM cacheable, the rest
//! Device (see arch_hal::mmu).

use arch_hal::mmu::{self, identity, Table};
use core::fmt;
use hyp_core::plan::{FreeMemory, PlanError};

extern "C" {
    static __image_start: u8;
    static __image_end: u8;
    static __pt_pool_start: u8;
    static __pt_pool_end: u8;
}

pub enum MemoryError {
    /// The image is not inside any RAM region the DTB describes, so the map
    /// would make our own code Device memory (and execute-never).
    ImageOutsideRam {
        start: u64,
        end: u64,
    },
    Map(identity::MapError),
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ImageOutsideRam { start, end } => write!(
                f,
                "hypervisor image {start:#x}..{end:#x} is outside the DTB's memory"
            ),
            Self::Map(e) => write!(f, "{e}"),
        }
    }
}

/// The physical range of the loaded image (text to page tables).
pub fn image_range() -> (u64, u64) {
    // Only the addresses of the linker-defined symbols are taken.
    (
        &raw const __image_start as u64,
        &raw const __image_end as u64,
    )
}

/// Builds the identity map from the DTB's memory and turns the MMU on.
/// Must be called once, on the boot CPU, with the MMU off.
pub fn enable_mmu(host: &dtb::HostInfo, id_aa64mmfr0: u64) -> Result<(), MemoryError> {
    let (start, end) = image_range();
    if !host
        .memory
        .iter()
        .any(|r| r.base <= start && end <= r.end())
    {
        return Err(MemoryError::ImageOutsideRam { start, end });
    }
    let mut ram = [(0u64, 0u64); 16];
    let mut count = 0;
    for (slot, region) in ram.iter_mut().zip(host.memory.iter()) {
        *slot = (region.base, region.size);
        count += 1;
    }

    // SAFETY: link.ld reserves [__pt_pool_start, __pt_pool_end) for page
    // tables, 4 KiB aligned and a whole number of tables; nothing else refers
    // to it, and this function runs once, so the &mut is unique.
    let pool: &'static mut [Table] = unsafe {
        let start = core::ptr::addr_of!(__pt_pool_start) as *mut Table;
        let end = core::ptr::addr_of!(__pt_pool_end) as usize;
        let len = (end - start as usize) / core::mem::size_of::<Table>();
        core::slice::from_raw_parts_mut(start, len)
    };
    let (l1, l2_pool) = pool
        .split_first_mut()
        .ok_or(MemoryError::Map(identity::MapError::OutOfTables))?;
    identity::build(l1, l2_pool, &ram[..count], |t| t as *const Table as u64)
        .map_err(MemoryError::Map)?;
    // SAFETY: the map covers all RAM (checked to contain the image, stack
    // and tables) and was written with the caches off, so the walker sees it.
    let tcr = mmu::tcr_el2(id_aa64mmfr0);
    unsafe { mmu::enable_el2(l1, tcr) };
    crate::cpus::set_mmu_params(l1 as *const Table as u64, tcr);
    Ok(())
}

/// Free RAM after taking out reserved memory, the image, the host DTB and
/// a firmware-loaded guest archive.
pub fn free_memory(
    host: &dtb::HostInfo,
    dtb: Option<dtb::Region>,
    archive: Option<dtb::Region>,
) -> Result<FreeMemory, PlanError> {
    let (start, end) = image_range();
    let image = dtb::Region::new(start, end - start);
    let keep = host
        .reserved
        .iter()
        .chain(core::iter::once(image))
        .chain(dtb)
        .chain(archive);
    FreeMemory::new(host.memory.iter(), keep)
}
