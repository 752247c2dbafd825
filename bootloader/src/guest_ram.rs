//! The guest's RAM as the hypervisor's devices see it: one contiguous block
//! of physical memory (from the memory plan) that Stage-2 maps at a fixed
//! IPA. Every access is checked against that window, so a guest buffer
//! address can never reach hypervisor memory.

use virtio::{GuestMemory, GuestMemoryError};

#[derive(Clone, Copy, Debug)]
pub struct GuestRam {
    pub ipa: u64,
    pub pa: u64,
    pub size: u64,
}

impl GuestRam {
    /// The physical address of [ipa, ipa + len), if it lies in guest RAM.
    pub fn translate(&self, ipa: u64, len: usize) -> Option<u64> {
        let off = ipa.checked_sub(self.ipa)?;
        let end = off.checked_add(len as u64)?;
        (end <= self.size).then_some(self.pa + off)
    }

    /// Whether [pa, pa + len) lies inside guest RAM.
    pub fn pa_contains(&self, pa: u64, len: u64) -> bool {
        pa >= self.pa
            && pa
                .checked_add(len)
                .is_some_and(|end| end <= self.pa + self.size)
    }

    /// The guest RAM at [ipa, ipa + len) as a mutable byte slice, for
    /// loading images before the guest runs.
    pub fn slice_mut(&mut self, ipa: u64, len: usize) -> Option<&mut [u8]> {
        let pa = self.translate(ipa, len)?;
        // SAFETY: the range is inside guest RAM, which the memory plan gave
        // to the guest alone and our identity map maps Normal. Loading runs
        // before any vCPU starts, so nothing else accesses it concurrently.
        Some(unsafe { core::slice::from_raw_parts_mut(pa as usize as *mut u8, len) })
    }
}

impl GuestMemory for GuestRam {
    fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        let pa = self.translate(ipa, buf.len()).ok_or(GuestMemoryError {
            ipa,
            len: buf.len(),
        })?;
        // SAFETY: the range is inside guest RAM (checked). The guest may
        // change it concurrently; a byte copy of racy data is still sound
        // for plain memory, and the virtio protocol makes such races the
        // guest's own problem.
        unsafe {
            core::ptr::copy_nonoverlapping(pa as usize as *const u8, buf.as_mut_ptr(), buf.len())
        };
        Ok(())
    }

    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        let pa = self.translate(ipa, data.len()).ok_or(GuestMemoryError {
            ipa,
            len: data.len(),
        })?;
        // SAFETY: as for `read`.
        unsafe {
            core::ptr::copy_nonoverlapping(data.as_ptr(), pa as usize as *mut u8, data.len())
        };
        Ok(())
    }
}
