//! Locks and atomics from std (and this crate's shard lock), or from loom under
//! `cfg(weakref_loom)`.

#[cfg(weakref_loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(weakref_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(weakref_loom))]
pub(crate) use crate::lock::{Mutex, MutexGuard};
#[cfg(not(weakref_loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};

/// Takes `mutex` (a panic under a loom lock leaves the tables consistent: poison is ignored).
#[inline]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(weakref_loom)]
    return mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    #[cfg(not(weakref_loom))]
    return mutex.lock();
}
