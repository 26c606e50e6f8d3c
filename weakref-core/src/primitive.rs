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
