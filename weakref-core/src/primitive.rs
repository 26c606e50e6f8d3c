//! Atomics, locks and thread-locals, switched between std and loom (`cfg(weakref_loom)`).
//!
//! Everything in the slot protocol that another thread can observe goes through these names, so
//! the loom models in `tests/it/loom.rs` explore the very code the library runs.

#[cfg(not(weakref_loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Mutex, MutexGuard,
};

#[cfg(weakref_loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Mutex, MutexGuard,
};

/// Locks `mutex`, ignoring poison: no user code ever runs while one of our locks is held, so a
/// poisoned lock can only come from a panic inside the library's own short critical sections,
/// which leave the data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Replaces `cell`'s value with `f` of it using plain (non-atomic) reads and writes, and
/// returns the old value: the `unsync` flavour's counts, which one thread alone ever touches.
///
/// Relaxed atomics compile to the same `mov`s on x86, but they keep the compiler from folding
/// a read, change and write into one memory-operand instruction (`dec dword [m]`), and the
/// unsync upgrade-and-drop loop measured nearly twice as slow with them (see ARCHITECTURE.md,
/// "Performance notes"). Loom's atomics have no raw pointer; loom models only the `sync`
/// flavour, so there this is a relaxed load and store.
///
/// # Safety
/// No other thread accesses `cell` while this runs (nor without synchronizing with it).
#[inline]
pub(crate) unsafe fn update_unsync(cell: &AtomicU32, f: impl FnOnce(u32) -> u32) -> u32 {
    #[cfg(not(weakref_loom))]
    {
        let ptr = cell.as_ptr();
        // SAFETY: `ptr` points to the live `cell`; the caller rules out concurrent access, so
        // these plain accesses race with nothing (atomic accesses to the same cell on this
        // thread are ordered with them by program order).
        unsafe {
            let old = ptr.read();
            ptr.write(f(old));
            old
        }
    }
    #[cfg(weakref_loom)]
    {
        let old = cell.load(Ordering::Relaxed);
        cell.store(f(old), Ordering::Relaxed);
        old
    }
}
