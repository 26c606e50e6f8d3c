//! Locks and atomics from std, or from loom under `cfg(weakref_loom)`.

#[cfg(weakref_loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(weakref_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(weakref_loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(weakref_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
