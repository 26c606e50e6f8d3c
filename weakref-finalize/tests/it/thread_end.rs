//! `unsync` exit runs at the end of the thread that created the finalizers.

use std::cell::RefCell;

use weakref_core::unsync::Obj;
use weakref_finalize::{pending, unsync::finalize};

use crate::helpers::{serial, Log};

std::thread_local! {
    /// Keeps objects alive until this thread's thread-locals are torn down.
    static KEEP: RefCell<Vec<Obj<u32>>> = const { RefCell::new(Vec::new()) };
}

#[test]
fn a_threads_finalizers_run_when_it_ends() {
    let _serial = serial();
    let base = pending();
    let log = Log::new();
    let thread_log = log.clone();
    std::thread::spawn(move || {
        // Touched first, so its destructor runs after the finalizers' exit run (std runs
        // thread-local destructors newest registered first).
        KEEP.with(|keep| keep.borrow_mut().push(Obj::new(0)));
        let obj = Obj::new(1);
        KEEP.with(|keep| keep.borrow_mut().push(obj.clone()));
        finalize(&obj, thread_log.pusher("f1"));
        finalize(&obj, thread_log.pusher("f2")).set_atexit(false);
        finalize(&obj, thread_log.pusher("f3"));
        let sink = thread_log.clone();
        let weak = Obj::downgrade(&obj);
        finalize(&obj, move || {
            // Created during the exit run: runs next.
            let obj = weak.upgrade().expect("alive at exit");
            finalize(&obj, sink.pusher("g1"));
            sink.push("f4");
        });
        drop(obj);
        thread_log.push("thread body ends");
    })
    .join()
    .unwrap();
    // f2 was skipped, and the object's later death ran nothing.
    assert_eq!(log.events(), ["thread body ends", "f4", "g1", "f3", "f1"]);
    assert_eq!(pending(), base);
}

#[test]
fn finalizers_whose_objects_died_do_not_run_again_at_thread_end() {
    let _serial = serial();
    let log = Log::new();
    let thread_log = log.clone();
    std::thread::spawn(move || {
        let obj = Obj::new(1);
        finalize(&obj, thread_log.pusher("by death"));
        let called = finalize(&obj, thread_log.pusher("called"));
        called.call();
        drop(obj);
    })
    .join()
    .unwrap();
    assert_eq!(log.events(), ["called", "by death"]);
}
