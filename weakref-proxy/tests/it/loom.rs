//! Loom models of the `sync` proxy's pin protocol (run with `RUSTFLAGS="--cfg weakref_loom"`).
//!
//! A `Deref` pins by upgrading (the CAS proves the object alive), counting a pin in the
//! object's allocation, and dropping the temporary strong reference; the death and the last
//! unpin decide with one atomic who drops `T`. Loom explores the interleavings of those steps
//! with the last drop of the object (bounded by `LOOM_MAX_PREEMPTIONS`) and checks that `T`
//! drops exactly once, never while a borrow from a `Deref` is live.

use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use loom::thread;
use weakref_core::sync::Obj;
use weakref_proxy::sync::Proxy;

const DEAD: &str = "weakly-referenced object no longer exists";

/// A value that counts its drops and carries a payload to read through borrows.
struct Counted {
    drops: Arc<AtomicUsize>,
    payload: u64,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn counted() -> (Obj<Counted>, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let obj = Obj::new(Counted {
        drops: Arc::clone(&drops),
        payload: 42,
    });
    (obj, drops)
}

/// Silences std's panic message for the dead-proxy panics the models cause on purpose.
fn quiet_dead_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied());
            if message != Some(DEAD) {
                previous(info);
            }
        }));
    });
}

/// Runs `f` under `loom::model` and checks that loom explored more than one interleaving
/// (a model whose threads never touch a loom primitive would pass vacuously).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    loom::model(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    let runs = runs.load(Ordering::Relaxed);
    eprintln!("explored {runs} interleavings");
    assert!(runs > 1, "loom explored only {runs} interleaving(s)");
}

/// Dereferences `p` (pinning it) unless the object is already dead; then checks, across loom
/// yield points, that the borrow stays valid and `T` is not dropped while it is live.
/// Returns whether the `Deref` succeeded.
fn use_through_deref(p: &Proxy<Counted>) -> bool {
    let deref = catch_unwind(AssertUnwindSafe(|| -> &Counted { p }));
    match deref {
        Ok(borrowed) => {
            assert_eq!(borrowed.drops.load(Ordering::SeqCst), 0);
            thread::yield_now();
            assert_eq!(borrowed.payload, 42);
            assert_eq!(borrowed.drops.load(Ordering::SeqCst), 0);
            true
        }
        Err(payload) => {
            assert_eq!(
                payload.downcast_ref::<String>().map(String::as_str),
                Some(DEAD)
            );
            assert!(!p.is_alive());
            false
        }
    }
}

#[test]
fn pin_races_the_last_drop() {
    quiet_dead_panics();
    model(|| {
        let (obj, drops) = counted();
        let p = Proxy::new(&obj);
        let user = thread::spawn(move || {
            let pinned = use_through_deref(&p);
            drop(p);
            pinned
        });
        drop(obj);
        user.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn the_pinning_thread_drops_one_of_the_last_two_strong_refs() {
    model(|| {
        let (obj, drops) = counted();
        let mine = obj.clone();
        let p = Proxy::new(&obj);
        let user = thread::spawn(move || {
            let borrowed: &Counted = &p; // alive: this thread holds a strong reference
            drop(mine); // may be the last one: then this thread completes the death
            thread::yield_now();
            assert_eq!(borrowed.payload, 42);
            assert_eq!(borrowed.drops.load(Ordering::SeqCst), 0);
            drop(p);
        });
        drop(obj);
        user.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn two_pinning_handles_race_each_other_and_the_last_drop() {
    quiet_dead_panics();
    model(|| {
        let (obj, drops) = counted();
        let first = Proxy::new(&obj);
        let second = first.clone();
        let users: Vec<_> = [first, second]
            .into_iter()
            .map(|p| {
                thread::spawn(move || {
                    use_through_deref(&p);
                    drop(p);
                })
            })
            .collect();
        drop(obj);
        for user in users {
            user.join().unwrap();
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// `Obj::try_unwrap` racing a pin on another thread: the pin and try_unwrap's check-and-kill
/// are serialized by the object's lock shard, so either the unwrap wins (the `Deref` then sees a
/// dead object) or the pin is seen and the unwrap refuses.
#[test]
fn try_unwrap_races_a_pin() {
    quiet_dead_panics();
    model(|| {
        let (obj, drops) = counted();
        let p = Proxy::new(&obj);
        let user = thread::spawn(move || {
            use_through_deref(&p);
            drop(p);
        });
        match Obj::try_unwrap(obj) {
            Ok(value) => drop(value),
            Err(obj) => drop(obj),
        }
        user.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// Two threads take the first pin of one shared handle at once: one pin stays, the other is
/// given back, and `T` still drops exactly once after the last drop.
#[test]
fn two_threads_pin_one_handle_at_once() {
    quiet_dead_panics();
    model(|| {
        let (obj, drops) = counted();
        let p = Arc::new(Proxy::new(&obj));
        let other = Arc::clone(&p);
        let user = thread::spawn(move || {
            use_through_deref(&other);
        });
        use_through_deref(&p);
        drop(obj);
        user.join().unwrap();
        drop(p);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// A pinned `Deref` reads life from the object's header, which the last drop of a pinned object
/// marks dead before the instant of death. So a thread that saw the death through a `Weak`
/// (`is_alive` or `upgrade`) finds the proxy dead too and never sees the object alive again,
/// and a thread holding a strong reference always dereferences, even while the last drop it
/// raced marks the death and then takes the mark back.
#[test]
fn a_pinned_deref_agrees_with_a_weak_and_never_fails_while_held() {
    quiet_dead_panics();
    model(|| {
        let (obj, drops) = counted();
        let weak = Obj::downgrade(&obj);
        let p = Arc::new(Proxy::new(&obj));
        assert_eq!(p.payload, 42); // pinned before the race
        let q = Arc::clone(&p);
        let observer = thread::spawn(move || {
            if !weak.is_alive() {
                assert!(
                    weak.upgrade().is_none(),
                    "upgraded after is_alive read dead"
                );
                assert!(
                    !use_through_deref(&q),
                    "the proxy read alive after is_alive read dead"
                );
                return;
            }
            observe_through_upgrade(&weak, &q);
        });
        drop(obj);
        observer.join().unwrap();
        assert!(!use_through_deref(&p));
        drop(p);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// Upgrades `weak`: a held object's proxy dereferences; a dead one's does not.
fn observe_through_upgrade(weak: &weakref_core::sync::Weak<Counted>, q: &Proxy<Counted>) {
    match weak.upgrade() {
        Some(strong) => {
            assert!(use_through_deref(q), "a held object's proxy read dead");
            drop(strong);
        }
        None => assert!(
            !use_through_deref(q),
            "the proxy read alive after a Weak saw the death"
        ),
    }
}
