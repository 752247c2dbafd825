//! `virtio-drivers`' view of our memory. The hypervisor runs identity-mapped,
//! so physical == virtual, and virtio-mmio on QEMU is cache-coherent (the
//! DTB marks it `dma-coherent`), so sharing a buffer needs no maintenance.

use core::alloc::Layout;
use core::ptr::NonNull;
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

pub struct HypHal;

fn dma_layout(pages: usize) -> Layout {
    // PAGE_SIZE is a power of two and pages come from the driver (small).
    Layout::from_size_align(pages.max(1) * PAGE_SIZE, PAGE_SIZE).unwrap_or_else(|_| unreachable!())
}

// SAFETY: dma_alloc returns zeroed, page-aligned, heap memory that stays
// allocated until dma_dealloc; identity mapping makes its physical address
// the pointer value; share/unshare need no copies on coherent hardware.
unsafe impl Hal for HypHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        // SAFETY: the layout has non-zero size.
        let ptr = unsafe { alloc::alloc::alloc_zeroed(dma_layout(pages)) };
        let Some(ptr) = NonNull::new(ptr) else {
            panic!("out of heap for {pages} virtio DMA pages");
        };
        (ptr.as_ptr() as PhysAddr, ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        // SAFETY: `vaddr` came from dma_alloc with the same page count.
        unsafe { alloc::alloc::dealloc(vaddr.as_ptr(), dma_layout(pages)) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as usize as *mut u8)
            .unwrap_or_else(|| panic!("virtio MMIO at address 0"))
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.cast::<u8>().as_ptr() as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}
