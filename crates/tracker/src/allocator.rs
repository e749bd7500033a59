//! The tracker's memory allocator: blocks in power-of-two sizes, a free list for
//! each size, carved from pages the module grows when it runs out.
//!
//! The tracker allocates small texts and short lists, keeps little for long and
//! lives as long as a page. Rounding every block up to a power of two wastes some
//! memory but needs no headers, no splitting and no merging: the whole allocator
//! is a few hundred bytes of WebAssembly, where talc cost two kilobytes.
//! Freed blocks are reused for blocks of the same size; memory is never given back
//! to the browser (WebAssembly cannot shrink a memory).

// The allocator is the one place that hands out raw memory.
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr;

/// WebAssembly grows its memory by pages of this size.
const PAGE_BYTES: usize = 65_536;
/// The smallest block: room for the link of the free list it may join.
const MIN_BLOCK_BYTES: usize = 8;
/// Blocks are aligned to their size up to this much, which covers every type the
/// tracker allocates; a request for more fails.
const MAX_ALIGN: usize = 16;
/// The largest block: a request for more fails (a 32-bit memory holds 4 GiB).
const MAX_BLOCK_BYTES: usize = 1 << 30;

pub struct Allocator(UnsafeCell<Heap>);

struct Heap {
    /// The first free block of each size (2 to the power of the index), 0 for
    /// none; each free block holds the address of the next one.
    free: [usize; usize::BITS as usize],
    /// Memory not handed out yet, from `next` to `end`; both 0 before the first
    /// allocation.
    next: usize,
    end: usize,
}

impl Allocator {
    pub const fn new() -> Allocator {
        Allocator(UnsafeCell::new(Heap {
            free: [0; usize::BITS as usize],
            next: 0,
            end: 0,
        }))
    }
}

// SAFETY: WebAssembly without the threads proposal (this crate's only target,
// built without `atomics`) runs on one thread, so the heap is never shared
// between threads.
unsafe impl Sync for Allocator {}

// SAFETY: a block handed out is at least as large as asked and aligned to the
// layout (see `block_bytes`), lies in the module's memory, and is handed out
// again only after it was freed.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > MAX_ALIGN || layout.size() > MAX_BLOCK_BYTES {
            return ptr::null_mut();
        }
        let bytes = block_bytes(layout);
        // SAFETY: one thread, and no allocator call runs inside another.
        let heap = unsafe { &mut *self.0.get() };
        let size_class = bytes.trailing_zeros() as usize;
        let first_free = heap.free[size_class];
        if first_free != 0 {
            // SAFETY: a free block of this size holds the next one's address.
            heap.free[size_class] = unsafe { *(first_free as *const usize) };
            return first_free as *mut u8;
        }
        heap.carve(bytes)
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let heap = unsafe { &mut *self.0.get() };
        let size_class = block_bytes(layout).trailing_zeros() as usize;
        // SAFETY: the block was handed out for this layout, so it has room for a
        // link, and is the caller's no longer.
        unsafe { *(block as *mut usize) = heap.free[size_class] };
        heap.free[size_class] = block as usize;
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller keeps `layout.align()` valid with `new_size`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if block_bytes(new_layout) == block_bytes(layout) {
            return block;
        }
        // SAFETY: as `GlobalAlloc::realloc` asks of its callers.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

impl Heap {
    /// A new block of `bytes` (a power of two) from memory not handed out yet,
    /// growing the memory when there is too little; null when the browser refuses.
    /// Nothing else in the module grows its memory, so the new pages always
    /// follow `end`.
    fn carve(&mut self, bytes: usize) -> *mut u8 {
        if self.end == 0 {
            // The pages the module started with hold its stack and data.
            self.next = wasm32::memory_size(0) * PAGE_BYTES;
            self.end = self.next;
        }
        let align = bytes.min(MAX_ALIGN);
        let start = (self.next + align - 1) & !(align - 1);
        let Some(stop) = start.checked_add(bytes) else {
            return ptr::null_mut();
        };
        if stop > self.end {
            let pages = (stop - self.end).div_ceil(PAGE_BYTES);
            if wasm32::memory_grow(0, pages) == usize::MAX {
                return ptr::null_mut();
            }
            self.end += pages * PAGE_BYTES;
        }
        self.next = stop;
        start as *mut u8
    }
}

/// The size of the block that serves `layout`: its size or alignment, whichever
/// is larger, rounded up to a power of two. Every block of one size is aligned to
/// that size (up to `MAX_ALIGN`), so it serves any layout that rounds to it.
fn block_bytes(layout: Layout) -> usize {
    layout
        .size()
        .max(layout.align())
        .max(MIN_BLOCK_BYTES)
        .next_power_of_two()
}
