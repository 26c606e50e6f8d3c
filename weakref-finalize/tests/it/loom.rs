//! Loom models of the finalizer state machine (run with `RUSTFLAGS="--cfg weakref_loom"`):
//! call, death, detach and the exit run race from two loom threads; each runs the function at
//! most once, and exactly one of them takes the finalizer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;
use weakref_core::sync::Obj;
use weakref_finalize::run_atexit;
use weakref_finalize::sync::{finalize, Finalizer};

/// An object with one finalizer that counts its runs.
fn setup() -> (Obj<u32>, Finalizer<u32>, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let obj = Obj::new(7);
    let counter = Arc::clone(&runs);
    let f = finalize(&obj, move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    (obj, f, runs)
}

#[test]
fn call_races_death() {
    loom::model(|| {
        let (obj, f, runs) = setup();
        let caller = {
            let f = f.clone();
            thread::spawn(move || f.call().is_some())
        };
        drop(obj);
        let called = caller.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1, "called: {called}");
        assert!(!f.is_alive());
        assert_eq!(f.call(), None);
    });
}

#[test]
fn detach_races_death() {
    loom::model(|| {
        let (obj, f, runs) = setup();
        let detacher = {
            let f = f.clone();
            thread::spawn(move || f.detach().map(|(obj, func)| (obj, func)))
        };
        drop(obj);
        let detached = detacher.join().unwrap();
        let ran = runs.load(Ordering::SeqCst);
        match detached {
            Some((obj, func)) => {
                assert_eq!(ran, 0);
                drop(obj); // the object dies now; the detached function does not run
                assert_eq!(runs.load(Ordering::SeqCst), 0);
                func();
                assert_eq!(runs.load(Ordering::SeqCst), 1);
            }
            None => assert_eq!(ran, 1),
        }
        assert!(!f.is_alive());
    });
}

#[test]
fn call_races_detach() {
    loom::model(|| {
        let (obj, f, runs) = setup();
        let caller = {
            let f = f.clone();
            thread::spawn(move || f.call().is_some())
        };
        let detached = f.detach();
        let called = caller.join().unwrap();
        assert!(called != detached.is_some(), "exactly one takes it");
        assert_eq!(runs.load(Ordering::SeqCst), usize::from(called));
        drop(detached);
        drop(obj);
        assert_eq!(runs.load(Ordering::SeqCst), usize::from(called));
    });
}

#[test]
fn exit_run_races_call() {
    loom::model(|| {
        let (obj, f, runs) = setup();
        let exiter = thread::spawn(run_atexit);
        let called = f.call().is_some();
        exiter.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1, "called: {called}");
        assert!(!f.is_alive());
        drop(obj);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn exit_run_races_death() {
    loom::model(|| {
        let (obj, f, runs) = setup();
        let exiter = thread::spawn(run_atexit);
        drop(obj);
        exiter.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!f.is_alive());
    });
}
