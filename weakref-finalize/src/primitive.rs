//! Atomics and locks of the finalizer state machine, switched between std and loom
//! (`cfg(weakref_loom)`), so the loom models in `tests/it/loom.rs` explore the very code the
//! library runs.

#[cfg(not(weakref_loom))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, Ordering},
    Mutex, MutexGuard,
};

#[cfg(weakref_loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicBool, Ordering},
    Mutex, MutexGuard,
};

/// Locks `mutex`, ignoring poison: no user code runs while one of this crate's locks is held,
/// so a poisoned lock can only come from the library's own short critical sections, which leave
/// the data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
