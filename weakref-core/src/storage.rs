//! The storage of objects' headers: the global allocator, behind a small per-thread cache of
//! freed blocks.
//!
//! A header of at most [`MAX_CACHED`] bytes (and alignment at most [`GRANULE`]) is allocated in
//! a block of its size class, a multiple of [`GRANULE`]. When an object's storage is freed, the
//! block goes to the freeing thread's cache for its class (a short intrusive list, at most
//! [`CLASS_CAP`] blocks per class) and the next object of that class created on that thread
//! takes it back, so a steady create/die cycle never reaches the allocator. A thread's cache
//! holds at most `CLASS_CAP` blocks per class (about 34 KiB in all) and is given back to the
//! allocator when the thread ends. Larger or over-aligned headers go straight to the allocator.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};

use crate::table;

/// The size classes are multiples of this, and blocks are aligned to it.
pub(crate) const GRANULE: usize = 16;
/// Headers larger than this are never cached.
pub(crate) const MAX_CACHED: usize = 256;
/// Number of size classes.
const N_CLASSES: usize = MAX_CACHED / GRANULE;
/// Most blocks a thread keeps per size class. None under loom, whose executions would each
/// leave their blocks behind.
#[cfg(not(weakref_loom))]
const CLASS_CAP: u16 = 16;
#[cfg(weakref_loom)]
const CLASS_CAP: u16 = 0;

/// The size class of a layout, or `None` when it is not cached.
const fn class_of(layout: Layout) -> Option<usize> {
    if layout.size() == 0 || layout.size() > MAX_CACHED || layout.align() > GRANULE {
        None
    } else {
        Some(layout.size().div_ceil(GRANULE) - 1)
    }
}

/// The layout of the blocks of a size class.
const fn class_layout(class: usize) -> Layout {
    match Layout::from_size_align((class + 1) * GRANULE, GRANULE) {
        Ok(layout) => layout,
        Err(_) => panic!("size classes are valid layouts"),
    }
}

/// The layout a value of type `H` is stored in: its class's when cached.
const fn layout_for<H>() -> Layout {
    match class_of(Layout::new::<H>()) {
        Some(class) => class_layout(class),
        None => Layout::new::<H>(),
    }
}

/// One thread's cache of free blocks: per size class, an intrusive list (each free block's
/// first word points to the next) and its length.
pub(crate) struct BlockCache {
    heads: [Cell<*mut u8>; N_CLASSES],
    /// Blocks in each list; `CLASS_CAP` also once the cache is closed (thread teardown), so that
    /// later frees go to the allocator.
    lens: [Cell<u16>; N_CLASSES],
}

impl BlockCache {
    #[cfg(not(weakref_loom))]
    pub(crate) const fn new() -> BlockCache {
        BlockCache {
            heads: [const { Cell::new(ptr::null_mut()) }; N_CLASSES],
            lens: [const { Cell::new(0) }; N_CLASSES],
        }
    }

    #[cfg(weakref_loom)]
    pub(crate) fn new() -> BlockCache {
        BlockCache {
            heads: std::array::from_fn(|_| Cell::new(ptr::null_mut())),
            lens: std::array::from_fn(|_| Cell::new(0)),
        }
    }

    #[inline]
    fn pop(&self, class: usize) -> Option<NonNull<u8>> {
        let head = NonNull::new(self.heads[class].get())?;
        // SAFETY: a cached block is a live allocation of at least `GRANULE` bytes aligned to
        // `GRANULE` whose first word `push` set to the next block; only this thread owns it.
        let next = unsafe { head.cast::<*mut u8>().read() };
        self.heads[class].set(next);
        self.lens[class].set(self.lens[class].get() - 1);
        Some(head)
    }

    /// Caches `block`, or gives it back when the class is full.
    #[inline]
    fn push(&self, class: usize, block: NonNull<u8>) -> Result<(), NonNull<u8>> {
        let len = self.lens[class].get();
        if len >= CLASS_CAP {
            return Err(block);
        }
        // SAFETY: the caller hands over a block of this class (at least `GRANULE` bytes,
        // aligned to it) that nobody uses any more.
        unsafe { block.cast::<*mut u8>().write(self.heads[class].get()) };
        self.heads[class].set(block.as_ptr());
        self.lens[class].set(len + 1);
        Ok(())
    }

    /// Gives every cached block back to the allocator and closes the cache: later frees on
    /// this thread go to the allocator directly.
    pub(crate) fn close(&self) {
        for class in 0..N_CLASSES {
            while let Some(block) = self.pop(class) {
                // SAFETY: cached blocks of `class` were allocated with `class_layout(class)`.
                unsafe { alloc::dealloc(block.as_ptr(), class_layout(class)) };
            }
            self.lens[class].set(CLASS_CAP);
        }
    }

    /// Blocks cached on this thread (tests).
    #[cfg(test)]
    pub(crate) fn cached(&self) -> usize {
        (0..N_CLASSES)
            .filter(|&class| !self.heads[class].get().is_null())
            .map(|class| usize::from(self.lens[class].get()))
            .sum()
    }
}

/// Allocates uninitialized storage for one `H`.
#[inline]
pub(crate) fn alloc<H>() -> NonNull<H> {
    if let Some(class) = const { class_of(Layout::new::<H>()) } {
        if let Some(Some(block)) = table::with_local(|local| local.blocks.pop(class)) {
            return block.cast::<H>();
        }
    }
    alloc_fresh::<H>()
}

#[cold]
fn alloc_fresh<H>() -> NonNull<H> {
    let layout = const { layout_for::<H>() };
    // SAFETY: `layout` has a non-zero size (headers are never zero-sized).
    let raw = unsafe { alloc::alloc(layout) };
    match NonNull::new(raw) {
        Some(block) => block.cast::<H>(),
        None => alloc::handle_alloc_error(layout),
    }
}

/// Frees storage from [`alloc`] (its value already dropped or moved out).
///
/// # Safety
/// `block` came from `alloc::<H>()` and nobody uses it any more.
#[inline]
pub(crate) unsafe fn dealloc<H>(block: NonNull<H>) {
    if let Some(class) = const { class_of(Layout::new::<H>()) } {
        let block = block.cast::<u8>();
        let kept = table::with_local(|local| {
            // A closed cache (thread teardown) refuses the block in `push` too.
            let _open = local.arm_flush();
            local.blocks.push(class, block).is_ok()
        });
        if kept != Some(true) {
            // SAFETY: a block of this class, allocated with its layout.
            unsafe { alloc::dealloc(block.as_ptr(), class_layout(class)) };
        }
        return;
    }
    // SAFETY: allocated by `alloc_fresh` with exactly this layout.
    unsafe { alloc::dealloc(block.as_ptr().cast::<u8>(), const { layout_for::<H>() }) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_small_layouts() {
        assert_eq!(class_of(Layout::new::<u8>()), Some(0));
        assert_eq!(class_of(Layout::new::<[u8; 16]>()), Some(0));
        assert_eq!(class_of(Layout::new::<[u8; 17]>()), Some(1));
        assert_eq!(class_of(Layout::new::<[u8; 256]>()), Some(N_CLASSES - 1));
        assert_eq!(class_of(Layout::new::<[u8; 257]>()), None);
        assert_eq!(class_of(Layout::new::<()>()), None);
        #[repr(align(32))]
        struct Wide(#[allow(dead_code)] u8);
        assert_eq!(class_of(Layout::new::<Wide>()), None);
        for class in 0..N_CLASSES {
            let layout = class_layout(class);
            assert_eq!(class_of(layout), Some(class));
            assert!(layout.size() >= GRANULE);
        }
    }

    #[test]
    fn freed_blocks_are_reused_and_bounded() {
        let blocks: Vec<NonNull<[u64; 4]>> = (0..usize::from(CLASS_CAP) + 4)
            .map(|_| alloc::<[u64; 4]>())
            .collect();
        let before = table::with_local(|l| l.blocks.cached()).unwrap();
        for &block in &blocks {
            // SAFETY: each block came from `alloc` and is freed once.
            unsafe { dealloc(block) };
        }
        let after = table::with_local(|l| l.blocks.cached()).unwrap();
        assert!(after <= before + usize::from(CLASS_CAP));
        if CLASS_CAP > 0 {
            // The last cached block comes back first.
            let again = alloc::<[u64; 4]>();
            assert!(blocks.contains(&again));
            // SAFETY: from `alloc`, freed once.
            unsafe { dealloc(again) };
        }
    }
}
