//! A child process for the exit tests of `weakref-finalize` (`tests/it/exit.rs`): runs one
//! scenario, named by its first argument, whose finalizers print to stdout at exit. Not a tool:
//! it exists so the integration tests can watch a real process exit.

use std::process::ExitCode;

use weakref_finalize::{pending, run_atexit};

fn main() -> ExitCode {
    // Reports go to stdout, between the finalizers' own lines; std's panic line is silenced.
    weakref_core::set_unraisable_hook(Box::new(|report| println!("{report}")));
    std::panic::set_hook(Box::new(|_| {}));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["test_atexit", "unsync", how] => test_atexit_unsync(how),
        ["test_atexit", "sync", how] => test_atexit_sync(how),
        ["dead_objects"] => dead_objects(),
        ["unsync_before_sync"] => unsync_before_sync(),
        ["unsync_thread"] => unsync_thread(),
        ["run_atexit"] => run_atexit_now(),
        ["sync_threads"] => sync_threads(),
        _ => {
            eprintln!("unknown scenario {args:?}");
            return ExitCode::FAILURE;
        }
    }
    println!("main returns");
    ExitCode::SUCCESS
}

/// CPython's `FinalizeTestCase.test_atexit`, generated for one flavour: finalizers f1..f4 on
/// one live object; f2 has `atexit = false`; f3 creates g1 on the object, prints `f3 error` and
/// panics. At exit: `f4`, `f3 error`, the report, `g1`, `f1`.
macro_rules! test_atexit {
    ($name:ident, $flavour:ident) => {
        fn $name(how: &str) {
            use weakref_core::$flavour::Obj;
            use weakref_finalize::$flavour::finalize;

            let obj = Obj::new(String::from("object with finalizers"));
            let weak = Obj::downgrade(&obj);
            let f1 = finalize(&obj, || println!("f1"));
            let f2 = finalize(&obj, || println!("f2"));
            let f3 = finalize(&obj, move || {
                // Created from inside a finalizer run at exit: the next one to run.
                let obj = weak.upgrade().expect("the object is alive at exit");
                finalize(&obj, || println!("g1"));
                println!("f3 error");
                panic!("f3 panicked");
            });
            let f4 = finalize(&obj, || println!("f4"));
            assert!(f1.atexit());
            f2.set_atexit(false);
            drop((f1, f2, f3, f4));
            // Alive at exit: a live object whose finalizers run anyway.
            std::mem::forget(obj);
            println!("pending {}", pending());
            if how == "exit" {
                println!("process::exit");
                std::process::exit(0);
            }
        }
    };
}

test_atexit!(test_atexit_unsync, unsync);
test_atexit!(test_atexit_sync, sync);

/// Finalizers whose objects died (or that were called or detached) do not run again at exit.
fn dead_objects() {
    let unsync_obj = weakref_core::unsync::Obj::new(1);
    weakref_finalize::unsync::finalize(&unsync_obj, || println!("unsync by death"));
    let sync_obj = weakref_core::sync::Obj::new(2);
    weakref_finalize::sync::finalize(&sync_obj, || println!("sync by death"));
    let called = weakref_finalize::sync::finalize(&sync_obj, || println!("sync called"));
    called.call();
    let detached = weakref_finalize::unsync::finalize(&unsync_obj, || println!("detached"));
    let (same_obj, func) = detached.detach().expect("alive");
    drop((same_obj, func));
    drop(unsync_obj);
    drop(sync_obj);
    println!("pending {}", pending());
}

/// The main thread's `unsync` finalizers run before the `sync` ones.
fn unsync_before_sync() {
    let sync_obj = weakref_core::sync::Obj::new(1);
    weakref_finalize::sync::finalize(&sync_obj, || println!("sync"));
    let unsync_obj = weakref_core::unsync::Obj::new(2);
    weakref_finalize::unsync::finalize(&unsync_obj, || println!("unsync"));
    std::mem::forget((sync_obj, unsync_obj));
}

/// A thread's `unsync` finalizers run at the end of that thread, not at process exit.
fn unsync_thread() {
    std::thread::spawn(|| {
        let obj = weakref_core::unsync::Obj::new(1);
        weakref_finalize::unsync::finalize(&obj, || println!("thread t1"));
        weakref_finalize::unsync::finalize(&obj, || println!("thread t2")).set_atexit(false);
        std::mem::forget(obj);
        println!("thread body ends");
    })
    .join()
    .expect("thread");
    println!("joined, pending {}", pending());
}

/// `run_atexit` runs both exit runs now; afterwards nothing of theirs runs again.
fn run_atexit_now() {
    let unsync_obj = weakref_core::unsync::Obj::new(1);
    weakref_finalize::unsync::finalize(&unsync_obj, || println!("u1"));
    let sync_obj = weakref_core::sync::Obj::new(2);
    weakref_finalize::sync::finalize(&sync_obj, || println!("s1"));
    let skipped = weakref_finalize::sync::finalize(&sync_obj, || println!("s2"));
    skipped.set_atexit(false);
    let by_death = weakref_finalize::unsync::finalize(&unsync_obj, || println!("u2"));
    by_death.set_atexit(false);
    run_atexit();
    println!("after run_atexit, pending {}", pending());
    println!("s2 call: {:?}", skipped.call());
    println!("pending {}", pending());
    let late = weakref_finalize::sync::finalize(&sync_obj, || println!("late sync"));
    weakref_finalize::unsync::finalize(&unsync_obj, || println!("late unsync"));
    println!("late alive {}, pending {}", late.is_alive(), pending());
    drop(unsync_obj); // its finalizers die running nothing
    println!("pending {}", pending());
    run_atexit(); // nothing left to run
    std::mem::forget(sync_obj);
}

/// `sync` finalizers created on several threads all run once at exit, newest first per thread.
fn sync_threads() {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..3 {
                    let obj = weakref_core::sync::Obj::new(i);
                    weakref_finalize::sync::finalize(&obj, move || println!("t{t} f{i}"));
                    std::mem::forget(obj);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    println!("pending {}", pending());
}
