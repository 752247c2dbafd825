//! The hypervisor heap: a region the memory plan carved out for us.
//! Allocation happens at boot and in thread context only, never in an
//! interrupt handler, so `linked_list_allocator`'s plain spin lock is safe.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

pub fn init(region: dtb::Region) {
    // SAFETY: the plan hands out `region` to the heap alone: it is RAM,
    // mapped Normal by our identity map, outside the image, the DTB, guest
    // RAM and reserved memory. init runs once, before any allocation.
    unsafe {
        HEAP.lock()
            .init(region.base as *mut u8, region.size as usize)
    };
}

/// Heap bytes in use (logged at guest entry).
pub fn used() -> usize {
    HEAP.lock().used()
}
