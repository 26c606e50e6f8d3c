//! The `sync` flavour across real threads: upgrade racing the last drop, where deaths run, shared use.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::{self, ThreadId};

use weakref_core::sync::{getweakrefcount, Obj, WeakMethod, WeakRef};

use crate::helpers::*;

#[test]
fn an_upgrade_racing_the_last_drop_sees_the_object_whole_or_not_at_all() {
    let n_rounds = scaled(300, 4);
    let n_upgraders = scaled(3, 2);
    for round in 0..n_rounds {
        let drops = DropCounter::new();
        let obj = Obj::new(drops.token(round));
        let weak = Obj::downgrade(&obj);
        let n_callbacks = Arc::new(AtomicUsize::new(0));
        let callback_count = n_callbacks.clone();
        let weak_ref = WeakRef::with_callback(&obj, move |_| {
            callback_count.fetch_add(1, Ordering::SeqCst);
        });
        let barrier = Barrier::new(n_upgraders + 1);
        thread::scope(|scope| {
            let upgraders: Vec<_> = (0..n_upgraders)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        // Either outcome is allowed; a won upgrade must see the live value.
                        if let Some(upgraded) = weak.upgrade() {
                            assert_eq!(upgraded.id, round, "upgraded to the wrong object");
                            assert_eq!(drops.get(), 0, "upgraded to a dropped value");
                        }
                    })
                })
                .collect();
            barrier.wait();
            drop(obj);
            for upgrader in upgraders {
                upgrader.join().expect("upgrader panicked");
            }
        });
        assert_eq!(drops.get(), 1, "round {round}: T dropped exactly once");
        assert_eq!(
            n_callbacks.load(Ordering::SeqCst),
            1,
            "round {round}: the callback ran once"
        );
        assert!(weak.upgrade().is_none());
        assert_eq!(weak.strong_count(), 0);
        assert!(!weak_ref.is_alive());
    }
}

/// Records the thread its value is dropped on.
struct DroppedOn(Arc<Mutex<Vec<(&'static str, ThreadId)>>>);

impl Drop for DroppedOn {
    fn drop(&mut self) {
        lock(&self.0).push(("drop", thread::current().id()));
    }
}

#[test]
fn drop_and_callbacks_run_on_the_thread_that_completes_the_death() {
    for last_dropper_is_worker in [true, false] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let obj = Obj::new(DroppedOn(seen.clone()));
        let callback_seen = seen.clone();
        let weak_ref = WeakRef::with_callback(&obj, move |_| {
            lock(&callback_seen).push(("callback", thread::current().id()));
        });
        let for_worker = obj.clone();
        let expected_thread = if last_dropper_is_worker {
            drop(obj);
            thread::spawn(move || {
                drop(for_worker);
                thread::current().id()
            })
            .join()
            .expect("worker panicked")
        } else {
            thread::spawn(move || drop(for_worker))
                .join()
                .expect("worker panicked");
            drop(obj);
            thread::current().id()
        };
        assert_eq!(
            *lock(&seen),
            [("drop", expected_thread), ("callback", expected_thread)]
        );
        assert!(!weak_ref.is_alive());
    }
}

#[test]
fn handles_are_used_from_many_threads() {
    let n_threads = scaled(4, 2);
    let n_clones = scaled(200, 5);
    let drops = DropCounter::new();
    let obj = Obj::new(drops.token(7));
    let weak = Obj::downgrade(&obj);
    let shared = WeakRef::new(&obj);
    let method = WeakMethod::<Counted, fn(&Counted, usize) -> usize>::new(&obj, |counted, add| {
        counted.id + add
    });
    thread::scope(|scope| {
        for _ in 0..n_threads {
            scope.spawn(|| {
                for _ in 0..n_clones {
                    let clone = obj.clone();
                    let upgraded = weak.upgrade().expect("alive");
                    let got = shared.get().expect("alive");
                    assert!(Obj::ptr_eq(&clone, &upgraded) && Obj::ptr_eq(&clone, &got));
                    assert_eq!(method.call(1), Some(8));
                }
            });
        }
    });
    assert_eq!(Obj::strong_count(&obj), 1);
    assert_eq!(drops.get(), 0);
    let obj = thread::spawn(move || obj)
        .join()
        .expect("moved across threads");
    drop(obj);
    assert_eq!(drops.get(), 1);
    assert!(!shared.is_alive() && !method.is_alive());
}

#[test]
fn concurrent_weak_ref_new_calls_share_one_ref_object() {
    let n_threads = scaled(4, 2);
    let obj = Obj::new(String::from("shared"));
    let barrier = Barrier::new(n_threads);
    let refs: Vec<WeakRef<String>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..n_threads)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    WeakRef::new(&obj)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("no panic"))
            .collect()
    });
    assert!(refs.iter().all(|r| WeakRef::ptr_eq(r, &refs[0])));
    assert_eq!(getweakrefcount(&obj), 1);
}

#[test]
fn a_callback_registered_on_one_thread_runs_on_another() {
    let log = Log::new();
    let obj = Obj::new(Tracked::new(&log, "a"));
    let callback_log = log.clone();
    let weak_ref = WeakRef::with_callback(&obj, move |r: &WeakRef<Tracked>| {
        callback_log.push(format!("callback alive={}", r.is_alive()));
    });
    let worker_ref = weak_ref.clone();
    thread::spawn(move || {
        assert!(worker_ref.is_alive());
        drop(obj);
        assert!(!worker_ref.is_alive());
    })
    .join()
    .expect("worker panicked");
    assert_eq!(log.events(), ["drop a", "callback alive=false"]);
    assert!(!weak_ref.has_callback());
}
