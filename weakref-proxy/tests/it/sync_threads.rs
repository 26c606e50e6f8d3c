//! The `sync` proxy across threads: pins taken and released on other threads, `T` dropped on
//! the thread that drops the last pinning handle, one handle dereferenced from many threads.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::{self, ThreadId};

use weakref_core::sync::{getweakrefcount, Obj};
use weakref_core::ReferenceError;
use weakref_proxy::sync::Proxy;

use crate::helpers::*;

/// Records the thread that drops it.
struct DroppedOn(Arc<Mutex<Vec<ThreadId>>>, u64);

impl Drop for DroppedOn {
    fn drop(&mut self) {
        lock(&self.0).push(thread::current().id());
    }
}

#[test]
fn t_drops_on_the_thread_that_drops_the_last_pinning_handle() {
    let drops = Arc::new(Mutex::new(Vec::new()));
    let obj = Obj::new(DroppedOn(Arc::clone(&drops), 7));
    let p = Proxy::new(&obj);
    let (pinned_tx, pinned_rx) = std::sync::mpsc::channel();
    let (dead_tx, dead_rx) = std::sync::mpsc::channel::<()>();
    let worker = thread::spawn(move || {
        let borrowed: &DroppedOn = &p;
        pinned_tx.send(()).unwrap();
        dead_rx.recv().unwrap();
        assert_eq!(borrowed.1, 7, "the borrow outlived the death");
        assert!(!p.is_alive());
        drop(p);
        thread::current().id()
    });
    pinned_rx.recv().unwrap();
    drop(obj);
    assert!(lock(&drops).is_empty(), "pinned on the worker");
    dead_tx.send(()).unwrap();
    let worker_id = worker.join().unwrap();
    assert_eq!(*lock(&drops), [worker_id]);
}

#[test]
fn one_handle_dereferenced_from_many_threads_pins_once() {
    let log = Log::new();
    let obj = Obj::new(Tracked::new(&log, "a"));
    let p = Proxy::new(&obj);
    let n_threads = scaled(4, 2);
    let barrier = Barrier::new(n_threads);
    thread::scope(|scope| {
        for _ in 0..n_threads {
            scope.spawn(|| {
                barrier.wait();
                assert_eq!(p.name, "a");
            });
        }
    });
    drop(obj);
    assert!(log.events().is_empty());
    drop(p);
    assert_eq!(log.events(), ["drop a"], "one pin, released once");
}

#[test]
fn pins_race_the_last_drop() {
    for round in 0..scaled(200, 4) {
        let log = Log::new();
        quiet_dead_panics();
        let obj = Obj::new(Tracked::new(&log, "a"));
        let n_threads = 3;
        let barrier = Arc::new(Barrier::new(n_threads + 1));
        let workers: Vec<_> = (0..n_threads)
            .map(|_| {
                let p = Proxy::new(&obj);
                let barrier = Arc::clone(&barrier);
                let log = log.clone();
                thread::spawn(move || {
                    barrier.wait();
                    // Either the object is dead (the message) or the borrow is valid until `p`
                    // drops, whatever the main thread does meanwhile.
                    let deref = catch_unwind(AssertUnwindSafe(|| -> &Tracked { &p }));
                    if let Ok(borrowed) = deref {
                        assert_eq!(borrowed.name, "a");
                        assert_eq!(log.count("drop a"), 0);
                        thread::yield_now();
                        assert_eq!(borrowed.shout(), "A");
                        assert_eq!(log.count("drop a"), 0);
                    }
                    drop(p);
                })
            })
            .collect();
        barrier.wait();
        drop(obj);
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(log.events(), ["drop a"], "round {round}: exactly once");
    }
}

#[test]
fn callbacks_run_on_the_thread_completing_the_death() {
    let log = Log::new();
    let obj = Obj::new(Tracked::new(&log, "a"));
    let main_id = thread::current().id();
    let p = Proxy::with_callback(&obj, {
        let log = log.clone();
        move |p: &Proxy<Tracked>| {
            assert_ne!(thread::current().id(), main_id);
            assert_eq!(p.try_get().err(), Some(ReferenceError));
            log.push("callback");
        }
    });
    assert_eq!(getweakrefcount(&obj), 1);
    thread::spawn(move || drop(obj)).join().unwrap();
    assert_eq!(log.events(), ["drop a", "callback"]);
    drop(p);
}
