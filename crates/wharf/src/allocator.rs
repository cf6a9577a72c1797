//! The process's allocator: mimalloc. A short-lived CLI and a busy daemon both spend
//! much of their time in small allocations: loading a compose file is a fifth faster
//! with it. Its plain entry points are used whenever a word's alignment is enough,
//! which every mimalloc block has and nearly every Rust allocation asks for: the
//! aligned ones take twice the instructions.

use std::alloc::{GlobalAlloc, Layout};

use libmimalloc_sys as mi;

/// The alignment of every block mimalloc hands out.
const WORD: usize = std::mem::size_of::<usize>();

pub struct Mimalloc;

// SAFETY: each call is mimalloc's own for the layout (the plain ones only when their
// word alignment meets the layout's), and every block is freed by `mi_free`.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = if layout.align() <= WORD {
            unsafe { mi::mi_malloc(layout.size()) }
        } else {
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()) }
        };
        block.cast()
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let block = if layout.align() <= WORD {
            unsafe { mi::mi_zalloc(layout.size()) }
        } else {
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()) }
        };
        block.cast()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let block = if layout.align() <= WORD {
            unsafe { mi::mi_realloc(ptr.cast(), new_size) }
        } else {
            unsafe { mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()) }
        };
        block.cast()
    }
}
