//! The process's allocator: the main thread's arena while it is open (`arena.rs`),
//! mimalloc otherwise. A short-lived CLI and a busy daemon both spend much of their
//! time in small allocations: loading a compose file is a fifth faster with mimalloc
//! than with glibc's. Its plain entry points are used whenever a word's alignment is
//! enough, which every mimalloc block has and nearly every Rust allocation asks for:
//! the aligned ones take twice the instructions.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::{c_int, c_long};

use libmimalloc_sys as mi;

use crate::arena;

// mimalloc's own entry point; the `libmimalloc-sys` build exports it, its bindings do
// only with their "extended" feature.
#[allow(unsafe_code)]
unsafe extern "C" {
    fn mi_option_set(option: c_int, value: c_long);
}

/// `mi_option_destroy_on_exit` in mimalloc 2's `mimalloc.h`.
const DESTROY_ON_EXIT: c_int = 22;

/// Leaves the heap to the kernel when the process ends. Otherwise mimalloc first
/// gives its pages back a range at a time, splitting the huge pages it asked for to do
/// so, which the end of the process does anyway at once: 2–3 % of a `wharf config`.
/// 2 is mimalloc's own setting for "skip the clean-up at exit".
pub fn leave_heap_to_exit() {
    // SAFETY: sets an option's value; mimalloc reads it only at exit.
    #[allow(unsafe_code)]
    unsafe {
        mi_option_set(DESTROY_ON_EXIT, 2);
    }
}

/// The alignment of every block mimalloc hands out.
const WORD: usize = std::mem::size_of::<usize>();

/// The arena's blocks while it is open, mimalloc's otherwise.
pub struct Allocator;

// SAFETY: a block is the arena's or mimalloc's, told apart by its address; each
// mimalloc call is its own for the layout (the plain ones only when their word
// alignment meets the layout's), and mimalloc's blocks are freed by `mi_free`.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = arena::alloc(layout);
        if !block.is_null() {
            return block;
        }
        let block = if layout.align() <= WORD {
            unsafe { mi::mi_malloc(layout.size()) }
        } else {
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()) }
        };
        block.cast()
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let block = arena::alloc(layout);
        if !block.is_null() {
            // A block given back and handed out again is not zero any more.
            unsafe { block.write_bytes(0, layout.size()) };
            return block;
        }
        let block = if layout.align() <= WORD {
            unsafe { mi::mi_zalloc(layout.size()) }
        } else {
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()) }
        };
        block.cast()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if arena::holds(ptr) {
            arena::dealloc(ptr, layout);
        } else {
            unsafe { mi::mi_free(ptr.cast()) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if arena::holds(ptr) {
            if arena::resize_in_place(ptr, layout, new_size) {
                return ptr;
            }
            // SAFETY: the caller's layout was valid, and only its size changes.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            let moved = unsafe { self.alloc(new_layout) };
            if !moved.is_null() {
                // SAFETY: both blocks hold the smaller of the two sizes, and are apart
                // (another thread's shrink of an arena block moves it too).
                unsafe {
                    std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                }
            }
            return moved;
        }
        let block = if layout.align() <= WORD {
            unsafe { mi::mi_realloc(ptr.cast(), new_size) }
        } else {
            unsafe { mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()) }
        };
        block.cast()
    }
}
