//! The shard lock of the `sync` collections: a test-and-test-and-set lock whose release is a
//! plain store, for critical sections that are a hash-table probe and a few `Hash`, `Eq` or
//! `Clone` calls.
//!
//! `std::sync::Mutex` pays a read-modify-write on release (to find sleepers to wake) and a
//! poison check on both ends; on a `get` that hits, that release is as costly as the lookup.
//! Here a waiter spins briefly, then yields its time slice until the lock is free, so the
//! release needs no atomic read-modify-write. There is no poisoning: the tables never run user
//! code while half-updated, so a panic under the lock leaves them consistent.

use std::cell::UnsafeCell;
use std::hint;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

/// Spins of a waiter before it starts yielding its time slice.
const SPINS: u32 = 64;

/// A mutual-exclusion lock around a `T`.
pub(crate) struct Mutex<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one thread at a time (the `locked` flag, taken with
// `Acquire` and released with `Release`, orders every access), so sharing the lock between
// threads moves `T` between them: `T: Send` is enough, as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for Mutex<T> {}

/// The lock, held: gives access to the value until dropped. Neither `Send` nor `Sync`, as
/// std's guard: sharing it would hand out `&T` on two threads for a `T` that may not be `Sync`.
pub(crate) struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    _not_send_sync: PhantomData<*const ()>,
}

impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        Mutex {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, waiting as long as needed.
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        MutexGuard {
            mutex: self,
            _not_send_sync: PhantomData,
        }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0;
        loop {
            // Wait until the lock looks free without writing to its cache line.
            while self.locked.load(Ordering::Relaxed) {
                if spins < SPINS {
                    spins += 1;
                    hint::spin_loop();
                } else {
                    thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so no other reference to the value exists.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the lock, so no other reference to the value exists, and
        // `&mut self` makes this the only one borrowed from the guard.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::Mutex;

    #[test]
    fn excludes() {
        let counter = Mutex::new(0u32);
        let per_thread = if cfg!(miri) { 50 } else { 10_000 };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..per_thread {
                        *counter.lock() += 1;
                    }
                });
            }
        });
        assert_eq!(*counter.lock(), 4 * per_thread);
    }
}
