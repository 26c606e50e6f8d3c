//! Python's `weakref.finalize` for Rust: functions that run once when an object dies, when
//! called, or at exit, in a single-thread (`unsync`) and a thread-safe (`sync`) flavour.
//!
//! | Python | Rust (`unsync` and `sync`) |
//! |---|---|
//! | `weakref.finalize(obj, func, *args, **kwargs)` | [`finalize(&obj, move \|\| func(args))`](unsync::finalize) |
//! | the `finalize` type | [`Finalizer<T, R>`](unsync::Finalizer) |
//! | `f()` | [`f.call()`](generic::Finalizer::call) |
//! | `f.detach()` | [`f.detach()`](generic::Finalizer::detach) |
//! | `f.peek()` | [`f.peek()`](generic::Finalizer::peek) |
//! | `f.alive` | [`f.is_alive()`](generic::Finalizer::is_alive) |
//! | `f.atexit`, `f.atexit = b` | [`f.atexit()`](generic::Finalizer::atexit), [`f.set_atexit(b)`](generic::Finalizer::set_atexit) |
//! | `repr(f)` | `Debug`: `<finalize object at 0x…; for 'T' at 0x…>` / `<finalize object at 0x…; dead>` |
//! | the exit run (`atexit` handler) | at exit, or now with [`run_atexit()`] |
//! | (no counterpart) alive finalizers | [`pending()`] |
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use weakref_core::unsync::Obj;
//! use weakref_finalize::unsync::finalize;
//!
//! let log = Rc::new(RefCell::new(Vec::new()));
//! let obj = Obj::new("expensive");
//! let out = Rc::clone(&log);
//! // The handle may be dropped: the finalizer stays registered until it runs.
//! finalize(&obj, move || out.borrow_mut().push("on_finalize('extra argument')"));
//! drop(obj);
//! assert_eq!(*log.borrow(), ["on_finalize('extra argument')"]);
//! ```
//!
//! # When a finalizer runs
//! Exactly once, at the first of:
//! - its object's death: finalizers run as the object's callbacks, in its one newest-registered
//!   first order with its `WeakRef` callbacks; a panic goes to core's unraisable hook
//!   ([`weakref_core::set_unraisable_hook`]) and the other callbacks still run;
//! - [`call()`](generic::Finalizer::call): the panic of a function called this way propagates;
//! - the exit run of its scope, if its [`atexit`](generic::Finalizer::atexit) flag is set (the
//!   default): every alive such finalizer runs, newest created first, including those created
//!   while the run is under way, even though their objects are alive; panics go to the
//!   unraisable hook. For `sync` finalizers the scope is the process: the run happens at normal
//!   process exit (return from `main`, `std::process::exit`), from a C `atexit` handler. For
//!   `unsync` ones it is the thread that created them: the run happens at the end of that
//!   thread (for the main thread, at process exit, before the `sync` run).
//!   [`run_atexit()`] does both runs of the calling thread now.
//!
//! [`detach()`](generic::Finalizer::detach) takes a finalizer back unrun. Once its scope's exit
//! run is over, no finalizer of that scope runs its function any more (as Python's `_shutdown`):
//! those the run skipped and those created afterwards stay alive and counted by [`pending()`]
//! until `call()` (which then returns `None`), `detach()` or their object's death ends them.
//!
//! Under Miri the `sync` exit run is not registered with the C library (Miri has no `atexit`);
//! [`run_atexit()`] still works there.
//!
//! # The pitfall: a finalizer that holds its object
//! The function must not own the object (or a clone of its `Obj`): the finalizer is kept alive
//! by its object, and the object by the finalizer's function, so the object never dies and the
//! finalizer runs only at exit. [`pending()`] makes such leaks visible:
//!
//! ```
//! use weakref_core::unsync::Obj;
//! use weakref_finalize::{pending, unsync::finalize};
//!
//! struct Resource {
//!     name: String,
//! }
//!
//! let obj = Obj::new(Resource { name: "db".into() });
//! let held = obj.clone();
//! let f = finalize(&obj, move || println!("closing {}", held.name)); // owns the object!
//! drop(obj);
//! assert!(f.is_alive()); // the object never died
//! assert_eq!(pending(), 1);
//! # f.detach();
//! ```
//!
//! The fix: give the function only what the cleanup needs, not the object.
//!
//! ```
//! use weakref_core::unsync::Obj;
//! use weakref_finalize::{pending, unsync::finalize};
//!
//! struct Resource {
//!     name: String,
//! }
//!
//! let obj = Obj::new(Resource { name: "db".into() });
//! let name = obj.name.clone();
//! let f = finalize(&obj, move || println!("closing {name}"));
//! drop(obj); // prints "closing db"
//! assert!(!f.is_alive());
//! assert_eq!(pending(), 0);
//! ```

#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod finalizer;
mod flavours;
mod primitive;
mod scope;

pub use flavours::{sync, unsync};

pub mod generic {
    //! The type behind both flavours, generic over the flavour. Name it through
    //! `weakref_finalize::unsync` and `weakref_finalize::sync`.

    #[doc(inline)]
    pub use crate::finalizer::Finalizer;
}

/// Runs the exit run now, process-wide: the calling thread's `unsync` finalizers, then the
/// `sync` ones (every alive finalizer with `atexit` set, newest created first, including those
/// created meanwhile). Afterwards no finalizer of these scopes runs its function again in this
/// process, at exit or otherwise: call it only where the process (or, for `unsync`, the thread)
/// is about to end. Tests that call it must run in their own process.
///
/// ```
/// use weakref_core::sync::Obj;
/// use weakref_finalize::{run_atexit, sync::finalize};
///
/// let obj = Obj::new(1);
/// let f = finalize(&obj, || println!("flushed"));
/// run_atexit(); // prints "flushed" although `obj` is alive
/// assert!(!f.is_alive());
/// let late = finalize(&obj, || unreachable!());
/// assert_eq!(late.call(), None); // the scope's exit run is over
/// ```
pub fn run_atexit() {
    scope::run_atexit();
}

/// The number of alive finalizers of both flavours, on all threads: those that may still run.
/// A count that only grows reveals finalizers whose objects never die (see the crate docs).
///
/// ```
/// use weakref_core::unsync::Obj;
/// use weakref_finalize::{pending, unsync::finalize};
///
/// let obj = Obj::new(1);
/// let f = finalize(&obj, || ());
/// assert_eq!(pending(), 1);
/// drop(obj);
/// assert_eq!(pending(), 0);
/// # drop(f);
/// ```
pub fn pending() -> usize {
    scope::pending()
}
