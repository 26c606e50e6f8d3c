//! The two flavours, `unsync` and `sync`, as type parameters of the one generic implementation.
//!
//! Everything in [`crate::generic`] is written once, generic over a [`Flavor`]. The flavours differ
//! in three small things only: how the strong count in a slot's word is changed (plain loads and
//! stores for one thread, read-modify-write atomics for many), whether the handles are `Send`
//! and `Sync`, and whether callbacks must be `Send` (the [`SendIfSync`] bound).

use crate::primitive::{fence, AtomicU32, AtomicU64, Ordering};

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::UnsyncFlavor {}
    impl Sealed for super::SyncFlavor {}
}

/// A flavour of the library: [`UnsyncFlavor`] (one thread, like `Rc`) or [`SyncFlavor`]
/// (many threads, like `Arc`). Sealed: the two flavours are the only ones.
///
/// ```
/// use weakref_core::flavor::{Flavor, SyncFlavor, UnsyncFlavor};
/// assert!(SyncFlavor::SYNC);
/// assert!(!UnsyncFlavor::SYNC);
/// ```
pub trait Flavor: sealed::Sealed + Sized + Send + Sync + 'static {
    /// Whether handles of this flavour may cross threads.
    const SYNC: bool;
}

/// The flavour behind `weakref_core::unsync`: handles are `!Send` and `!Sync`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct UnsyncFlavor;

/// The flavour behind `weakref_core::sync`: handles are `Send + Sync` for `Send + Sync` referents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SyncFlavor;

impl Flavor for UnsyncFlavor {
    const SYNC: bool = false;
}

impl Flavor for SyncFlavor {
    const SYNC: bool = true;
}

/// `Send` in the [`SyncFlavor`], nothing in the [`UnsyncFlavor`]: the bound on callbacks and
/// finalizer functions, which the `sync` flavour may run on another thread.
///
/// ```
/// use weakref_core::flavor::{SendIfSync, SyncFlavor, UnsyncFlavor};
/// fn unsync_ok<X: SendIfSync<UnsyncFlavor>>(_: X) {}
/// fn sync_ok<X: SendIfSync<SyncFlavor>>(_: X) {}
/// unsync_ok(std::rc::Rc::new(1)); // not Send: fine for one thread
/// sync_ok(std::sync::Arc::new(1));
/// ```
///
/// ```compile_fail
/// use weakref_core::flavor::{SendIfSync, SyncFlavor};
/// fn sync_ok<X: SendIfSync<SyncFlavor>>(_: X) {}
/// sync_ok(std::rc::Rc::new(1)); // Rc is not Send
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent to another thread, which the `sync` flavour requires",
    label = "callbacks and finalizers of the `sync` flavour must be `Send`"
)]
pub trait SendIfSync<F: Flavor> {}

impl<X: ?Sized> SendIfSync<UnsyncFlavor> for X {}
impl<X: ?Sized + Send> SendIfSync<SyncFlavor> for X {}

/// The bits of a slot's word: `version << 32 | strong count`.
pub(crate) mod word {
    /// Mask of the strong count in a slot's word.
    pub(crate) const COUNT_MASK: u64 = u32::MAX as u64;
    /// Strong counts above this abort the process (as `Arc` does), long before the count could
    /// carry into the version bits.
    pub(crate) const MAX_COUNT: u64 = i32::MAX as u64;

    pub(crate) const fn pack(version: u32, count: u64) -> u64 {
        ((version as u64) << 32) | count
    }

    pub(crate) const fn version(word: u64) -> u32 {
        (word >> 32) as u32
    }

    pub(crate) const fn count(word: u64) -> u64 {
        word & COUNT_MASK
    }
}

/// Aborts the process: a strong count would overflow.
#[cold]
pub(crate) fn count_overflow() -> ! {
    std::process::abort()
}

/// Adds one strong reference to a live slot's word. The caller holds a strong reference.
#[inline]
pub(crate) fn add_strong<F: Flavor>(slot_word: &AtomicU64) {
    let prev = if F::SYNC {
        slot_word.fetch_add(1, Ordering::Relaxed)
    } else {
        // One thread owns every handle of an unsync object: a load and a store suffice.
        let prev = slot_word.load(Ordering::Relaxed);
        slot_word.store(prev + 1, Ordering::Relaxed);
        prev
    };
    if word::count(prev) >= word::MAX_COUNT {
        count_overflow();
    }
}

/// Drops one strong reference; true when it was the last one (the instant of death).
#[inline]
pub(crate) fn sub_strong<F: Flavor>(slot_word: &AtomicU64) -> bool {
    if F::SYNC {
        let prev = slot_word.fetch_sub(1, Ordering::Release);
        if word::count(prev) == 1 {
            fence(Ordering::Acquire);
            return true;
        }
        false
    } else {
        let prev = slot_word.load(Ordering::Relaxed);
        slot_word.store(prev - 1, Ordering::Relaxed);
        word::count(prev) == 1
    }
}

/// Adds a strong reference if the slot still holds `version` with a non-zero count.
#[inline]
pub(crate) fn try_upgrade<F: Flavor>(slot_word: &AtomicU64, version: u32) -> bool {
    let mut current = slot_word.load(Ordering::Relaxed);
    loop {
        if word::version(current) != version || word::count(current) == 0 {
            return false;
        }
        if word::count(current) >= word::MAX_COUNT {
            count_overflow();
        }
        if !F::SYNC {
            slot_word.store(current + 1, Ordering::Relaxed);
            return true;
        }
        match slot_word.compare_exchange_weak(
            current,
            current + 1,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => return true,
            Err(actual) => current = actual,
        }
    }
}

/// Replaces `current` with `new` if the word still equals `current`.
#[inline]
pub(crate) fn replace_word<F: Flavor>(slot_word: &AtomicU64, current: u64, new: u64) -> bool {
    if F::SYNC {
        slot_word
            .compare_exchange(current, new, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    } else if slot_word.load(Ordering::Relaxed) == current {
        slot_word.store(new, Ordering::Relaxed);
        true
    } else {
        false
    }
}

/// `fetch_add` on a header's pin state; returns the previous value.
#[inline]
pub(crate) fn state_add<F: Flavor>(state: &AtomicU32, delta: u32) -> u32 {
    if F::SYNC {
        state.fetch_add(delta, Ordering::AcqRel)
    } else {
        let prev = state.load(Ordering::Relaxed);
        state.store(prev + delta, Ordering::Relaxed);
        prev
    }
}

/// `fetch_sub` on a header's pin state; returns the previous value.
#[inline]
pub(crate) fn state_sub<F: Flavor>(state: &AtomicU32, delta: u32) -> u32 {
    if F::SYNC {
        state.fetch_sub(delta, Ordering::AcqRel)
    } else {
        let prev = state.load(Ordering::Relaxed);
        state.store(prev - delta, Ordering::Relaxed);
        prev
    }
}
