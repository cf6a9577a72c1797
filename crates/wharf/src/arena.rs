//! The main thread's arena, for the commands that read, print and exit (`config`,
//! `ps`…). An allocation takes a block freed earlier of its size class, or moves a
//! pointer forward; a free puts a small block on its class's list and gives back a
//! large one only when it is the last handed out, so a buffer on top grows in place.
//! Rust tells a free the block's size, so a block needs no header: lists and pointer
//! cost a few instructions where mimalloc's bookkeeping took a tenth of a `config`,
//! and mimalloc is then never started, whose first huge page was a quarter of the
//! memory the kernel zeroed for one.
//!
//! The arena opens with the process's first allocation, on the main thread, and
//! `main` closes it for a command that runs on. Other threads, a closed arena and
//! everything past its size go to mimalloc; a block is known to be the arena's by its
//! address, so any thread may free it.

use std::alloc::Layout;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Room for a `config` of 200 services, which takes 4 MiB of it (5.4 MiB for YAML);
/// a bigger file goes on in mimalloc, so its memory grows by no more than this.
const SIZE: usize = 8 << 20;
/// The kernel's transparent huge page: the arena starts on one and asks for them.
const HUGE_PAGE: usize = 2 << 20;
/// Every block's alignment and the step of a small one's size.
const GRAIN: usize = 16;
/// Small blocks' classes: every grain up to 512 bytes, nearly every block.
const SMALL_CLASSES: usize = 32;
const SMALL: usize = GRAIN * SMALL_CLASSES;
/// Larger blocks' classes: each power of two up to 64 KiB, which a growing `Vec` or
/// `String` asks for in turn.
const LARGE: usize = 64 << 10;
const CLASSES: usize = SMALL_CLASSES + (LARGE.trailing_zeros() - SMALL.trailing_zeros()) as usize;

/// Where the arena lies, for telling its blocks apart on any thread; both 0 until it
/// is opened, and never moved after.
static START: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ARENA: Bump = const { Bump::empty() };
}

/// What is free in the arena, on one thread: `[next, end)` is never handed out yet
/// (empty but on the thread that opened it, until closed), and each list holds freed
/// blocks of one size class, each block starting with the address of the next.
struct Bump {
    next: Cell<usize>,
    end: Cell<usize>,
    lists: [Cell<usize>; CLASSES],
}

impl Bump {
    const fn empty() -> Self {
        Self {
            next: Cell::new(0),
            end: Cell::new(0),
            lists: [const { Cell::new(0) }; CLASSES],
        }
    }

    fn alloc(&self, layout: Layout) -> *mut u8 {
        let class = Class::of(layout);
        if let Some(Class { list, .. }) = class {
            let head = self.lists[list].get();
            if head != 0 {
                // SAFETY: a listed block is free, and starts with the next one's address.
                #[allow(unsafe_code)]
                self.lists[list].set(unsafe { *(head as *const usize) });
                return head as *mut u8;
            }
        }
        let align = layout.align().max(GRAIN);
        let at = (self.next.get() + align - 1) & !(align - 1);
        let bytes = class.map_or_else(|| grains(layout.size()), |class| class.bytes);
        match at.checked_add(bytes) {
            Some(after) if after <= self.end.get() => {
                self.next.set(after);
                at as *mut u8
            }
            _ => std::ptr::null_mut(),
        }
    }

    /// `block` must be the arena's, handed out for `layout`.
    fn dealloc(&self, block: *mut u8, layout: Layout) {
        if let Some(Class { list, .. }) = Class::of(layout) {
            // SAFETY: the block is free now, and at least a grain long and aligned.
            #[allow(unsafe_code, clippy::cast_ptr_alignment)]
            unsafe {
                *block.cast::<usize>() = self.lists[list].get();
            }
            self.lists[list].set(block as usize);
        } else if block as usize + grains(layout.size()) == self.next.get() {
            self.next.set(block as usize);
        }
    }

    /// Whether `block` (the arena's, handed out for `layout`) now holds `new_size`
    /// bytes where it lies: it had room, or it was the last one handed out. Either
    /// way it has the bytes of the new size's class, where a free will list it.
    fn resize_in_place(&self, block: *mut u8, layout: Layout, new_size: usize) -> bool {
        let bytes = |size| {
            let layout = Layout::from_size_align(size, layout.align()).ok()?;
            Some(Class::of(layout).map_or_else(|| grains(size), |class| class.bytes))
        };
        let (Some(had), Some(needs)) = (bytes(layout.size()), bytes(new_size)) else {
            return false;
        };
        if needs <= had {
            return true;
        }
        let at = block as usize;
        if at + had == self.next.get() && needs <= self.end.get() - at {
            self.next.set(at + needs);
            return true;
        }
        false
    }

    fn open(&self, start: usize, end: usize) {
        self.next.set(start);
        self.end.set(end);
    }
}

/// A block's size class: the list its free blocks go on, and the bytes each takes.
#[derive(Clone, Copy)]
struct Class {
    list: usize,
    bytes: usize,
}

impl Class {
    /// The class of a block, when it has one: it is no larger than 64 KiB and asks
    /// for no more than a grain's alignment.
    fn of(layout: Layout) -> Option<Self> {
        let size = layout.size().max(1);
        if layout.align() > GRAIN || size > LARGE {
            return None;
        }
        Some(if size <= SMALL {
            let grains = size.div_ceil(GRAIN);
            Self {
                list: grains - 1,
                bytes: grains * GRAIN,
            }
        } else {
            let bytes = size.next_power_of_two();
            Self {
                list: SMALL_CLASSES + (bytes.trailing_zeros() - SMALL.trailing_zeros()) as usize
                    - 1,
                bytes,
            }
        })
    }
}

/// The bytes a block of `size` takes: whole grains.
fn grains(size: usize) -> usize {
    size.max(1).next_multiple_of(GRAIN)
}

/// Maps the arena and opens it on this thread, the first time only.
fn open() {
    // SAFETY: a new private mapping, which no other code refers to.
    #[allow(unsafe_code)]
    let region = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            SIZE + HUGE_PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if region == libc::MAP_FAILED {
        END.store(usize::MAX, Relaxed); // not again
        return;
    }
    let start = (region as usize).next_multiple_of(HUGE_PAGE);
    // SAFETY: advice on a range of the mapping above; a refusal changes nothing but
    // the page size.
    #[allow(unsafe_code)]
    unsafe {
        libc::madvise(start as *mut libc::c_void, SIZE, libc::MADV_HUGEPAGE);
    }
    START.store(start, Relaxed);
    END.store(start + SIZE, Relaxed);
    ARENA.with(|arena| arena.open(start, start + SIZE));
}

/// Stops handing out new blocks on this thread: for a command that runs on, whose
/// large frees must count. Its blocks stay valid, and small ones freed are reused.
pub fn close() {
    ARENA.with(|arena| arena.open(0, 0));
}

/// Whether `block` is one of the arena's.
#[inline]
pub fn holds(block: *mut u8) -> bool {
    let at = block as usize;
    at >= START.load(Relaxed) && at < END.load(Relaxed)
}

/// A block for `layout`, or null when the arena has none for this thread.
#[inline]
pub fn alloc(layout: Layout) -> *mut u8 {
    let block = ARENA.with(|arena| arena.alloc(layout));
    if block.is_null() && END.load(Relaxed) == 0 {
        return open_for(layout);
    }
    block
}

/// The process's first allocation: opens the arena, then allocates from it.
#[cold]
#[inline(never)]
fn open_for(layout: Layout) -> *mut u8 {
    open();
    ARENA.with(|arena| arena.alloc(layout))
}

/// Frees `block`, which `holds` says is the arena's.
#[inline]
pub fn dealloc(block: *mut u8, layout: Layout) {
    ARENA.with(|arena| arena.dealloc(block, layout));
}

/// Resizes `block`, which `holds` says is the arena's, where it lies if it can.
pub fn resize_in_place(block: *mut u8, layout: Layout, new_size: usize) -> bool {
    ARENA.with(|arena| arena.resize_in_place(block, layout, new_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    /// A `Bump` over a buffer of this test's own, 16-aligned.
    fn bump_over(buffer: &mut [u128]) -> Bump {
        let bump = Bump::empty();
        let start = buffer.as_mut_ptr() as usize;
        bump.open(start, start + std::mem::size_of_val(buffer));
        bump
    }

    #[test]
    fn small_blocks_are_reused_by_size_class() {
        let mut buffer = vec![0u128; 64];
        let bump = bump_over(&mut buffer);
        let a = bump.alloc(layout(24));
        let b = bump.alloc(layout(24));
        assert_eq!(b as usize - a as usize, 32, "24 bytes take two grains");
        bump.dealloc(a, layout(20));
        assert_eq!(bump.alloc(layout(32)), a, "a freed block serves its class");
        assert_ne!(bump.alloc(layout(17)), a, "and only once");
        bump.dealloc(b, layout(24));
        assert_ne!(bump.alloc(layout(40)), b, "not another class");
    }

    #[test]
    fn larger_blocks_take_a_power_of_two_and_are_reused_by_it() {
        let mut buffer = vec![0u128; 1024];
        let bump = bump_over(&mut buffer);
        let a = bump.alloc(layout(600));
        let b = bump.alloc(layout(1024));
        assert_eq!(b as usize - a as usize, 1024);
        bump.dealloc(a, layout(600));
        assert_eq!(bump.alloc(layout(1000)), a);
        assert!(
            bump.resize_in_place(b, layout(1024), 2048),
            "the top grows in place"
        );
        assert!(
            bump.resize_in_place(b, layout(2048), 1500),
            "shrinking never moves"
        );
        bump.dealloc(b, layout(1500));
        assert_eq!(
            bump.alloc(layout(2048)),
            b,
            "listed as the class it was freed as"
        );
    }

    #[test]
    fn the_last_block_past_the_classes_grows_in_place_and_is_given_back() {
        let mut buffer = vec![0u128; 16 << 10];
        let bump = bump_over(&mut buffer);
        let first = bump.alloc(layout(70_000));
        let second = bump.alloc(layout(70_000));
        assert_eq!(second as usize, first as usize + 70_000);
        assert!(bump.resize_in_place(second, layout(70_000), 80_000));
        assert!(
            !bump.resize_in_place(first, layout(70_000), 80_000),
            "the first is not on top"
        );
        assert!(
            bump.resize_in_place(first, layout(70_000), 100),
            "shrinking never moves"
        );
        assert!(
            !bump.resize_in_place(second, layout(80_000), 1 << 20),
            "past the end"
        );
        bump.dealloc(second, layout(80_000));
        assert_eq!(bump.alloc(layout(70_000)), second, "the top was given back");
    }

    #[test]
    fn blocks_are_aligned_and_a_full_or_closed_arena_hands_out_none() {
        let mut buffer = vec![0u128; 1024];
        let bump = bump_over(&mut buffer);
        let byte = bump.alloc(Layout::from_size_align(1, 1).unwrap());
        let page = bump.alloc(Layout::from_size_align(10, 4096).unwrap());
        assert!((byte as usize).is_multiple_of(GRAIN) && (page as usize).is_multiple_of(4096));
        assert!(bump.alloc(layout(1 << 20)).is_null());
        bump.open(0, 0);
        assert!(bump.alloc(layout(600)).is_null());
    }
}
