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
/// is mapped (and if it cannot be), and never moved after.
static START: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);

/// The thread that opened the arena (`this_thread`), the only one that touches
/// `ARENA`; 0 until then. Not a thread-local: reaching one goes through a call that
/// costs as much as the allocation itself.
static OWNER: AtomicUsize = AtomicUsize::new(0);
static ARENA: Owned = Owned(Bump::empty());

struct Owned(Bump);

// SAFETY: only the thread `OWNER` names reads or writes the arena's state (`mine`).
#[allow(unsafe_code)]
unsafe impl Sync for Owned {}

/// The arena's state, when this thread owns it.
#[inline]
fn mine() -> Option<&'static Bump> {
    (OWNER.load(Relaxed) == this_thread()).then_some(&ARENA.0)
}

/// What tells this thread from the others, as cheaply as it can be had: on x86-64, the
/// thread pointer, which the ABI keeps in the first word it points at (glibc's
/// `pthread_self` returns the same, through a call).
#[inline]
fn this_thread() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let pointer: usize;
        // SAFETY: reads the word at `%fs:0`, which the x86-64 TLS ABI sets for every
        // thread to the thread's own pointer; nothing is written.
        #[allow(unsafe_code)]
        unsafe {
            std::arch::asm!("mov {}, fs:0", out(reg) pointer, options(nostack, readonly, preserves_flags));
        }
        pointer
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: `pthread_self` has no preconditions.
        #[allow(unsafe_code)]
        unsafe {
            libc::pthread_self() as usize
        }
    }
}

/// What is free in the arena: `[next, end)` is never handed out yet (empty once
/// closed), and each list holds freed blocks of one size class, each block starting
/// with the address of the next.
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

    /// Most blocks are small: their class is a shift away, and only the rest go the
    /// longer way.
    #[inline]
    fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() <= SMALL && layout.align() <= GRAIN {
            let list = small_list(layout.size());
            if let Some(block) = self.pop(list) {
                return block;
            }
            return self.bump(GRAIN, (list + 1) * GRAIN);
        }
        self.alloc_larger(layout)
    }

    #[inline(never)]
    fn alloc_larger(&self, layout: Layout) -> *mut u8 {
        let class = Class::of(layout);
        if let Some(block) = class.and_then(|class| self.pop(class.list)) {
            return block;
        }
        let bytes = class.map_or_else(|| grains(layout.size()), |class| class.bytes);
        self.bump(layout.align().max(GRAIN), bytes)
    }

    #[inline]
    fn pop(&self, list: usize) -> Option<*mut u8> {
        let head = self.lists[list].get();
        if head == 0 {
            return None;
        }
        // SAFETY: a listed block is free, and starts with the next one's address.
        #[allow(unsafe_code)]
        self.lists[list].set(unsafe { *(head as *const usize) });
        Some(head as *mut u8)
    }

    /// `bytes` never handed out yet, at `align` (a power of two), or null.
    #[inline]
    fn bump(&self, align: usize, bytes: usize) -> *mut u8 {
        let at = (self.next.get() + align - 1) & !(align - 1);
        match at.checked_add(bytes) {
            Some(after) if after <= self.end.get() => {
                self.next.set(after);
                at as *mut u8
            }
            _ => std::ptr::null_mut(),
        }
    }

    /// `block` must be the arena's, handed out for `layout`.
    #[inline]
    fn dealloc(&self, block: *mut u8, layout: Layout) {
        if layout.size() <= SMALL && layout.align() <= GRAIN {
            self.push(small_list(layout.size()), block);
        } else if let Some(Class { list, .. }) = Class::of(layout) {
            self.push(list, block);
        } else if block as usize + grains(layout.size()) == self.next.get() {
            self.next.set(block as usize);
        }
    }

    #[inline]
    fn push(&self, list: usize, block: *mut u8) {
        // SAFETY: the block is free now, and at least a grain long and aligned.
        #[allow(unsafe_code, clippy::cast_ptr_alignment)]
        unsafe {
            *block.cast::<usize>() = self.lists[list].get();
        }
        self.lists[list].set(block as usize);
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
            let list = small_list(size);
            Self {
                list,
                bytes: (list + 1) * GRAIN,
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

/// The list of a small block's class: one for each grain of size.
#[inline]
fn small_list(size: usize) -> usize {
    size.saturating_sub(1) / GRAIN
}

/// The bytes a block of `size` takes: whole grains.
fn grains(size: usize) -> usize {
    size.max(1).next_multiple_of(GRAIN)
}

/// Maps the arena and opens it for this thread, the first time only.
fn open() {
    if OWNER
        .compare_exchange(0, this_thread(), Relaxed, Relaxed)
        .is_err()
    {
        return;
    }
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
        // Owned but empty: every block comes from mimalloc.
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
    if let Some(arena) = mine() {
        arena.open(start, start + SIZE);
    }
}

/// Stops handing out new blocks: for a command that runs on, whose large frees must
/// count. Its blocks stay valid, and small ones freed on this thread are reused.
pub fn close() {
    if let Some(arena) = mine() {
        arena.open(0, 0);
    }
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
    match mine() {
        Some(arena) => arena.alloc(layout),
        None if OWNER.load(Relaxed) == 0 => open_for(layout),
        None => std::ptr::null_mut(),
    }
}

/// The process's first allocation: opens the arena, then allocates from it.
#[cold]
#[inline(never)]
fn open_for(layout: Layout) -> *mut u8 {
    open();
    mine().map_or(std::ptr::null_mut(), |arena| arena.alloc(layout))
}

/// Frees `block`, which `holds` says is the arena's; another thread's free of it
/// keeps it.
#[inline]
pub fn dealloc(block: *mut u8, layout: Layout) {
    if let Some(arena) = mine() {
        arena.dealloc(block, layout);
    }
}

/// Resizes `block`, which `holds` says is the arena's, where it lies if it can.
pub fn resize_in_place(block: *mut u8, layout: Layout, new_size: usize) -> bool {
    mine().is_some_and(|arena| arena.resize_in_place(block, layout, new_size))
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
    fn each_thread_is_told_apart() {
        let here = this_thread();
        assert_eq!(this_thread(), here);
        let there = std::thread::spawn(this_thread).join().unwrap();
        assert_ne!(there, here);
        assert_ne!(here, 0, "0 is the arena's owner before it opens");
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
