//! Loom models of the `sync` slot protocol (run with `RUSTFLAGS="--cfg weakref_loom"`).
//!
//! Each model drives the public `sync` API from two loom threads; loom explores their
//! interleavings (bounded by `LOOM_MAX_PREEMPTIONS`) over the library's own atomics and locks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use loom::thread;
use weakref_core::sync::{getweakrefcount, Obj, WeakRef};

/// A value that counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counted() -> (Obj<Counted>, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    (Obj::new(Counted(Arc::clone(&drops))), drops)
}

#[test]
fn upgrade_races_last_drop() {
    loom::model(|| {
        let (obj, drops) = counted();
        let weak = Obj::downgrade(&obj);
        let upgrader = thread::spawn(move || {
            let upgraded = weak.upgrade();
            let won = upgraded.is_some();
            drop(upgraded);
            won
        });
        drop(obj);
        upgrader.join().unwrap();
        // Whichever thread dropped last completed the death: exactly one drop, and every
        // handle reads dead afterwards.
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert!(weak.upgrade().is_none());
        assert_eq!(weak.strong_count(), 0);
    });
}

#[test]
fn clone_races_last_drop() {
    loom::model(|| {
        let (obj, drops) = counted();
        let weak = Obj::downgrade(&obj);
        let other = obj.clone();
        let cloner = thread::spawn(move || {
            let again = other.clone();
            drop(other);
            drop(again);
        });
        drop(obj);
        cloner.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert!(!weak.is_alive());
    });
}

#[test]
fn two_threads_drop_the_last_two_strong_refs() {
    loom::model(|| {
        let (obj, drops) = counted();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = WeakRef::with_callback(&obj, {
            let runs = Arc::clone(&runs);
            let drops = Arc::clone(&drops);
            move |r: &WeakRef<Counted>| {
                // Step 3 follows step 2: the value is gone, the ref reads dead.
                assert_eq!(drops.load(Ordering::SeqCst), 1);
                assert!(r.get().is_none());
                runs.fetch_add(1, Ordering::SeqCst);
            }
        });
        let second = obj.clone();
        let dropper = thread::spawn(move || drop(second));
        drop(obj);
        dropper.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!r.has_callback());
    });
}

#[test]
fn callback_runs_while_another_thread_upgrades() {
    loom::model(|| {
        let (obj, drops) = counted();
        let seen_in_callback = Arc::new(Mutex::new(None));
        let r = WeakRef::with_callback(&obj, {
            let seen = Arc::clone(&seen_in_callback);
            move |r: &WeakRef<Counted>| *seen.lock().unwrap() = Some(r.get().is_some())
        });
        let weak = Obj::downgrade(&obj);
        let upgrader = thread::spawn(move || weak.upgrade().map(drop).is_some());
        drop(obj);
        upgrader.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // Inside the callback every ref already read dead.
        assert_eq!(*seen_in_callback.lock().unwrap(), Some(false));
        drop(r);
    });
}

#[test]
fn ref_dropped_while_the_object_dies() {
    loom::model(|| {
        let (obj, drops) = counted();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = WeakRef::with_callback(&obj, {
            let runs = Arc::clone(&runs);
            move |_: &WeakRef<Counted>| {
                runs.fetch_add(1, Ordering::SeqCst);
            }
        });
        assert_eq!(getweakrefcount(&obj), 1);
        let ref_dropper = thread::spawn(move || drop(r));
        drop(obj);
        ref_dropper.join().unwrap();
        // The callback ran iff the ref still existed at the instant of death: at most once.
        assert!(runs.load(Ordering::SeqCst) <= 1);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}
