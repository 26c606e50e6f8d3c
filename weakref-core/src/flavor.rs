//! The two flavours, `unsync` and `sync`, as type parameters of the one generic implementation.
//!
//! Everything in [`crate::generic`] is written once, generic over a [`Flavor`]. The flavours differ
//! in three small things only: where the strong count lives and how it is changed (in the
//! object's header with plain reads and writes for one thread, in the slot's word with
//! read-modify-write atomics for many), whether the handles are `Send` and `Sync`, and whether
//! callbacks must be `Send` (the [`SendIfSync`] bound).

use std::ptr::NonNull;

use crate::obj::Meta;
use crate::primitive::{fence, update_unsync, AtomicU32, Ordering};
use crate::table::Slot;

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

/// The bits of a slot's word: `version << 32 | PINNED | strong count`.
pub(crate) mod word {
    /// Mask of the strong count in a slot's word.
    pub(crate) const COUNT_MASK: u64 = (1 << 31) - 1;
    /// `sync` only: set, together with one extra count (the guard), when the object's storage
    /// is first pinned, and kept until the death. With the guard, no plain decrement takes the
    /// count to zero: the death of a pinned object is always `drop_pinned`'s compare-and-swap
    /// from guard + 1 to 0, after it marked the header dead.
    pub(crate) const PINNED: u64 = 1 << 31;

    /// The extra count a pinned object carries (its guard).
    pub(crate) const fn guard(word: u64) -> u64 {
        (word & PINNED) >> 31
    }

    /// Whether `word`'s count reached [`MAX_COUNT`]. The count stays below `2 * MAX_COUNT`, so
    /// that is its bit of `MAX_COUNT` (one test, no mask).
    pub(crate) const fn over_limit(word: u64) -> bool {
        word & MAX_COUNT != 0
    }

    /// Whether `word`'s count is 0 (dead). A pinned object's guard keeps its count above 0, so
    /// the low half, `PINNED | count`, is 0 exactly then (one test, no mask).
    pub(crate) const fn is_zero_count(word: u64) -> bool {
        word as u32 == 0
    }

    /// Real strong references: the count without the guard.
    pub(crate) const fn real_count(word: u64) -> u64 {
        count(word) - guard(word)
    }
    /// Strong counts above this abort the process (as `Arc` does), long before the count could
    /// carry into the `PINNED` bit.
    pub(crate) const MAX_COUNT: u64 = 1 << 30;

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

// Where the strong count lives. `sync`: in the slot's word (`version << 32 | count`), so that
// one compare-and-swap decides an upgrade racing the last drop; the header's `strong` is then
// 1 while the object lives and 0 once its death is announced (pinned objects only, see
// `drop_pinned`), which is what pinned handles read. `unsync`: in the object's
// `Meta` (like `Rc`), while the slot's word reads `version << 32 | 1` alive and
// `version << 32 | 0` dead; clone and drop then never touch the table, and an upgrade only reads
// the slot. One thread owns every handle of an unsync object, so its counts change by plain
// (non-atomic) reads and writes of the same cells (`update_unsync`).

/// `sync`: marks the live object as pinned (see `word::PINNED`). The caller holds a strong
/// reference and has counted a pin in the header.
pub(crate) fn mark_pinned<F: Flavor>(meta: &Meta) {
    if !F::SYNC {
        return;
    }
    let word = &meta.slot.word;
    let mut current = word.load(Ordering::Relaxed);
    // The flag and the guard come in one step: a drop must never see the flag without it.
    while current & word::PINNED == 0 {
        match word.compare_exchange_weak(
            current,
            current + word::PINNED + 1,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

/// Adds one strong reference to a live object. The caller holds a strong reference.
#[inline]
pub(crate) fn add_strong<F: Flavor>(meta: &Meta) {
    let prev = if F::SYNC {
        meta.slot.word.fetch_add(1, Ordering::Relaxed)
    } else {
        // SAFETY: an unsync object's counts are only touched by its own thread.
        u64::from(unsafe { update_unsync(&meta.strong, |count| count + 1) })
    };
    if word::over_limit(prev) {
        count_overflow();
    }
}

/// Drops one strong reference; true when it was the last one (the instant of death).
///
/// Takes the object's `Meta` as a pointer, not a reference: once this thread's reference is
/// given up, another thread may complete the death and free the header while this call is still
/// running, so the header is only read before that (or while a reference is held again).
///
/// # Safety
/// `meta` is the `Meta` of a live object of this flavour, and the caller gives up one strong
/// reference to it.
#[inline]
pub(crate) unsafe fn sub_strong<F: Flavor>(meta: NonNull<Meta>) -> bool {
    if F::SYNC {
        // SAFETY: the caller's reference keeps the header alive until the decrement below.
        let slot = unsafe { meta.as_ref() }.slot;
        let prev = slot.word.fetch_sub(1, Ordering::Release);
        // The low half is `PINNED | count`; compared whole, without masking.
        if prev as u32 == 1 {
            // The last reference of an object never pinned (a pinned object's guard keeps its
            // count above this drop's).
            fence(Ordering::Acquire);
            return true;
        }
        if prev as u32 == (word::PINNED | 2) as u32 {
            // The last real reference of a pinned object: the guard is all that is left, and
            // the death falls to this thread (unless an upgrade takes it over).
            return reacquire_and_drop_pinned(slot, prev);
        }
        false
    } else {
        // SAFETY: an unsync object is only touched by this thread, so nobody frees it meanwhile
        // (nor touches its counts).
        let meta = unsafe { meta.as_ref() };
        // SAFETY: as just said.
        if unsafe { update_unsync(&meta.strong, |count| count - 1) } == 1 {
            mark_dead(meta.slot);
            return true;
        }
        false
    }
}

/// Sync: drops a strong reference to a pinned object, which the caller holds. The drop of the
/// last real reference marks the header dead (its `strong` to 0) and then takes the count from
/// the guard plus this reference straight to 0: the instant of death, which publishes the mark
/// with it, so a pinned handle (`hooks::LazyPin`, which reads life from the header) never reads
/// alive after someone saw the death. If an upgrade beats that compare-and-swap, the mark is
/// taken back while this thread still holds its reference (so before its release, which orders
/// it before any later mark), and the loop drops the reference as a plain one.
#[cold]
fn drop_pinned(meta: NonNull<Meta>, slot: &Slot) -> bool {
    // Called only before the successful compare-and-swap that ends this function.
    let strong = |value: u32| {
        // SAFETY: this thread holds a strong reference until that compare-and-swap, so the
        // header is alive.
        unsafe { meta.as_ref() }
            .strong
            .store(value, Ordering::Relaxed);
    };
    // Acquire: a reference dropped by another thread's `drop_pinned` was released after that
    // thread took its mark back, and this thread's mark must come after that.
    let mut current = slot.word.load(Ordering::Acquire);
    loop {
        let last = word::real_count(current) == 1;
        let next = if last {
            strong(0);
            word::pack(word::version(current), 0)
        } else {
            current - 1
        };
        match slot
            .word
            .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return last,
            Err(actual) => {
                if last {
                    strong(1);
                }
                current = actual;
            }
        }
    }
}

/// Sync: a drop left a pinned object with its guard only (it dropped the last real reference
/// with a plain decrement; `prev` is the word before it). This thread no longer holds a
/// reference and must not touch the header, which another thread could kill and free
/// meanwhile; it takes a reference back through the slot (an upgrade from the guard) and drops
/// it the pinned way, unless an upgrade already took over the death (or completed it).
#[cold]
fn reacquire_and_drop_pinned(slot: &Slot, prev: u64) -> bool {
    let guard_only = prev - 1;
    let mut current = slot.word.load(Ordering::Relaxed);
    loop {
        if current != guard_only {
            // Someone upgraded: the drop of the new last real reference dies the pinned way
            // (or already did; the slot may even hold a later object by now, whose word never
            // equals this one: its version differs).
            return false;
        }
        match slot.word.compare_exchange_weak(
            current,
            current + 1,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            // This thread holds a real reference again, so the object is alive and its `Meta`
            // (at the start of its allocation) is allocated until `drop_pinned` gives it up.
            Ok(_) => return drop_pinned(live_meta(slot), slot),
            Err(actual) => current = actual,
        }
    }
}

/// Unsync: the slot's word now reads dead (count bit cleared, version kept until the free).
#[inline]
fn mark_dead(slot: &Slot) {
    let current = slot.word.load(Ordering::Relaxed);
    slot.word
        .store(current & !word::COUNT_MASK, Ordering::Relaxed);
}

/// Adds a strong reference if the slot still holds the live object of `version`; returns that
/// object's `Meta`.
#[inline]
pub(crate) fn try_upgrade<F: Flavor>(slot: &Slot, version: u32) -> Option<NonNull<Meta>> {
    if F::SYNC {
        let mut current = slot.word.load(Ordering::Relaxed);
        loop {
            if word::version(current) != version || word::is_zero_count(current) {
                // Seeing the death synchronizes with it: what the dying thread did before its
                // instant of death (a pinned object's header marked dead, see `drop_pinned`) is
                // visible from here on. (No cost on the hit path.)
                fence(Ordering::Acquire);
                return None;
            }
            if word::over_limit(current) {
                count_overflow();
            }
            match slot.word.compare_exchange_weak(
                current,
                current + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        Some(live_meta(slot))
    } else {
        if slot.word.load(Ordering::Relaxed) != word::pack(version, 1) {
            return None;
        }
        let meta = live_meta(slot);
        // SAFETY: the slot holds the live unsync object of `version`, whose allocation starts
        // with `meta` and stays allocated while it is alive; only this thread touches it.
        add_strong::<F>(unsafe { meta.as_ref() });
        Some(meta)
    }
}

/// The `Meta` of the live object in `slot` (whose word the caller just read alive).
#[inline]
fn live_meta(slot: &Slot) -> NonNull<Meta> {
    let ptr = slot.ptr.load(Ordering::Relaxed).cast::<Meta>();
    debug_assert!(!ptr.is_null());
    // SAFETY: `Obj::publish` stores the (non-null) header pointer before the word that reads
    // alive, with release ordering that the caller's read of that word acquired (or on this
    // very thread, in `unsync`); nothing ever sets a slot's pointer back to null.
    unsafe { NonNull::new_unchecked(ptr) }
}

/// `try_unwrap`'s death: takes the count from exactly 1 to 0 (the instant of death), or does
/// nothing and returns false.
pub(crate) fn try_kill<F: Flavor>(meta: &Meta) -> bool {
    if F::SYNC {
        let current = meta.slot.word.load(Ordering::Relaxed);
        if word::real_count(current) != 1 {
            return false;
        }
        let dead = word::pack(word::version(current), 0);
        meta.slot
            .word
            .compare_exchange(current, dead, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    } else {
        if meta.strong.load(Ordering::Relaxed) != 1 {
            return false;
        }
        meta.strong.store(0, Ordering::Relaxed);
        mark_dead(meta.slot);
        true
    }
}

/// The strong count of a live object.
pub(crate) fn strong_count_of<F: Flavor>(meta: &Meta) -> usize {
    if F::SYNC {
        word::real_count(meta.slot.word.load(Ordering::Relaxed)) as usize
    } else {
        meta.strong.load(Ordering::Relaxed) as usize
    }
}

/// The strong count of the object of `version` in `slot`; 0 once it is dead.
pub(crate) fn weak_strong_count<F: Flavor>(slot: &Slot, version: u32) -> usize {
    let current = slot.word.load(Ordering::Acquire);
    if word::version(current) != version || word::count(current) == 0 {
        return 0;
    }
    if F::SYNC {
        // With its guard only, a pinned object is still alive (its last drop is completing the
        // death, or an upgrade will take it over): it counts as one, as everywhere else.
        return word::real_count(current).max(1) as usize;
    }
    match NonNull::new(slot.ptr.load(Ordering::Relaxed).cast::<Meta>()) {
        // SAFETY: as in `try_upgrade`: the live unsync object's allocation, on its own thread.
        Some(meta) => unsafe { meta.as_ref() }.strong.load(Ordering::Relaxed) as usize,
        None => 0,
    }
}

/// `fetch_add` on a header's pin state; returns the previous value.
#[inline]
pub(crate) fn state_add<F: Flavor>(state: &AtomicU32, delta: u32) -> u32 {
    if F::SYNC {
        state.fetch_add(delta, Ordering::AcqRel)
    } else {
        // SAFETY: an unsync object's header is only touched by its own thread.
        unsafe { update_unsync(state, |value| value + delta) }
    }
}

/// `fetch_sub` on a header's pin state; returns the previous value.
#[inline]
pub(crate) fn state_sub<F: Flavor>(state: &AtomicU32, delta: u32) -> u32 {
    if F::SYNC {
        state.fetch_sub(delta, Ordering::AcqRel)
    } else {
        // SAFETY: an unsync object's header is only touched by its own thread.
        unsafe { update_unsync(state, |value| value - delta) }
    }
}
