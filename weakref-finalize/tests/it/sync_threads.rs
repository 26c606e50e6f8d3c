//! `sync` finalizers created, called, detached and triggered from several threads at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use weakref_core::sync::Obj;
use weakref_finalize::{pending, sync::finalize};

use crate::helpers::{scaled, serial};

#[test]
fn each_function_runs_at_most_once_under_races() {
    let _serial = serial();
    let base = pending();
    let rounds = scaled(300, 8);
    for _ in 0..rounds {
        let runs = Arc::new(AtomicUsize::new(0));
        let obj = Obj::new(0u64);
        let counter = Arc::clone(&runs);
        let f = finalize(&obj, move || counter.fetch_add(1, Ordering::SeqCst));
        let barrier = Arc::new(Barrier::new(3));
        let caller = {
            let (f, barrier) = (f.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                f.call().is_some()
            })
        };
        let detacher = {
            let (f, barrier) = (f.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                f.detach().is_some()
            })
        };
        barrier.wait();
        drop(obj);
        let called = caller.join().unwrap();
        let detached = detacher.join().unwrap();
        let ran = runs.load(Ordering::SeqCst);
        assert!(ran <= 1);
        assert!(!(called && detached));
        // Exactly one of call, detach and death took it.
        assert_eq!(ran == 1, !detached, "called {called}, detached {detached}");
        assert!(!f.is_alive());
    }
    assert_eq!(pending(), base);
}

#[test]
fn many_threads_create_and_trigger_finalizers_on_shared_objects() {
    let _serial = serial();
    let base = pending();
    let n_threads = scaled(4, 2);
    let per_thread = scaled(200, 10);
    let runs = Arc::new(AtomicUsize::new(0));
    let objs: Vec<Obj<usize>> = (0..8).map(Obj::new).collect();
    let handles: Vec<_> = (0..n_threads)
        .map(|t| {
            let objs = objs.clone();
            let runs = Arc::clone(&runs);
            std::thread::spawn(move || {
                let mut expected = 0;
                for i in 0..per_thread {
                    let obj = &objs[(t + i) % objs.len()];
                    let counter = Arc::clone(&runs);
                    let f = finalize(obj, move || counter.fetch_add(1, Ordering::SeqCst));
                    match i % 3 {
                        0 => {
                            assert!(f.call().is_some());
                            expected += 1;
                        }
                        1 => assert!(f.detach().is_some()),
                        // Left to the objects' deaths.
                        _ => expected += 1,
                    }
                }
                expected
            })
        })
        .collect();
    let expected: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    drop(objs);
    assert_eq!(runs.load(Ordering::SeqCst), expected);
    assert_eq!(pending(), base);
}

#[test]
fn the_last_drop_on_another_thread_runs_the_finalizer_there() {
    let _serial = serial();
    let obj = Obj::new(1);
    let ran_on = Arc::new(std::sync::Mutex::new(None));
    let sink = Arc::clone(&ran_on);
    let f = finalize(&obj, move || {
        *sink.lock().unwrap() = Some(std::thread::current().id());
    });
    let dropper = std::thread::spawn(move || {
        drop(obj);
        std::thread::current().id()
    });
    let dropper_id = dropper.join().unwrap();
    assert_eq!(*ran_on.lock().unwrap(), Some(dropper_id));
    assert!(!f.is_alive());
}
