//! A small heap in the SPMC's own image. The SPMC itself does not allocate
//! yet, but crates it links (the DTB writer) declare `alloc`, so an
//! allocator must exist; it stays empty until something needs it.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();
