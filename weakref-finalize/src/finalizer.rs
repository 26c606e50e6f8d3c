//! `Finalizer<T, R, F>`: the handle, and the shared state whose one-way `alive` switch decides
//! which of call, death, detach and the exit run gets the function.
//!
//! Ownership: the finalizer's record in its object's record list (core) holds a callback that
//! holds the state, and the state holds a handle of that record, so the record stays linked and
//! the finalizer registered whether or not a `Finalizer` handle exists. Whoever flips `alive`
//! from true to false owns the rest: it withdraws the finalizer from its scope's registry, drops
//! the record handle (core unlinks the record if the object is alive, which drops the callback
//! and so ends the cycle) and takes the function.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use weakref_core::flavor::SyncFlavor;
use weakref_core::generic::{Obj, WeakRef};
use weakref_core::{hooks, Unraisable};

use crate::primitive::{lock, AtomicBool, Mutex, Ordering};
use crate::scope::{self, Entry, Scope};

/// Python's `weakref.finalize` object: a function that runs once, when its object dies, when
/// [`call`](Finalizer::call)ed, or at exit (see the [crate docs](crate)).
///
/// This is the generic type behind `weakref_finalize::unsync::Finalizer` and
/// `weakref_finalize::sync::Finalizer`; use those names, and create it with their `finalize`.
///
/// ```
/// use weakref_core::unsync::Obj;
/// use weakref_finalize::unsync::{finalize, Finalizer};
///
/// struct Connection {
///     closer: Finalizer<String, u32>,
/// }
/// let socket = Obj::new(String::from("socket"));
/// let conn = Connection { closer: finalize(&socket, || 7) };
/// assert_eq!(conn.closer.call(), Some(7));
/// assert_eq!(conn.closer.call(), None); // at most once
/// ```
pub struct Finalizer<T: 'static, R: 'static, F: Scope> {
    state: Arc<State<T, R, F>>,
    /// A `sync` handle may cross threads only when the object may ([`Finalizer::peek`] and
    /// [`Finalizer::detach`] hand it out), exactly as a `WeakRef<T>` may.
    _marker: PhantomData<WeakRef<T, F>>,
}

/// The state shared by a finalizer's handles, its record's callback and its scope's registry.
pub struct State<T: 'static, R: 'static, F: Scope> {
    /// Creation number: the key in the scope's registry.
    seq: u64,
    /// True until call, death, detach or the exit run takes the finalizer; flipped exactly once.
    alive: AtomicBool,
    atexit: AtomicBool,
    func: Mutex<Option<F::Func<R>>>,
    link: Mutex<Link<T, F>>,
    /// `std::any::type_name` of the user's function.
    func_name: &'static str,
}

/// The finalizer's record in its object's record list.
struct Link<T: 'static, F: Scope> {
    /// A handle of the record, until the finalizer dies.
    record: Option<WeakRef<T, F>>,
    /// The record's address, the finalizer's address in `Debug`.
    addr: usize,
}

// SAFETY: the function is a `Box<dyn FnOnce() -> R + Send>` in `sync` and its result is
// produced and consumed on one thread; every other part is behind a lock or an atomic. The record
// handle is the only part that depends on `T`: through the state it is only dropped or printed
// (which touch the record's own atomics and locks, never `T`), except in `peek` and `detach`,
// which reach it through a `Finalizer` handle, and a handle is `Send` and `Sync` only when
// `WeakRef<T>` is (its marker), that is, when `T: Send + Sync`.
unsafe impl<T: 'static, R: 'static> Send for State<T, R, SyncFlavor> {}
// SAFETY: as for `Send`: shared access goes through the locks and atomics.
unsafe impl<T: 'static, R: 'static> Sync for State<T, R, SyncFlavor> {}

impl<T: 'static, R: 'static, F: Scope> State<T, R, F> {
    /// `std::any::type_name` of the user's function.
    pub(crate) fn func_name(&self) -> &'static str {
        self.func_name
    }

    /// Flips `alive` to false and withdraws the finalizer from its scope's registry; for the
    /// one caller that did it, returns the function (and lets go of the record) and whether the
    /// scope's exit run is over (then the function must not run).
    fn kill(&self) -> Option<(F::Func<R>, bool)> {
        if !self.alive.load(Ordering::Acquire) {
            return None;
        }
        let (entry, over) = scope::take::<F>(self.seq, || {
            self.alive
                .compare_exchange(true, false, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })?;
        let record = lock(&self.link).record.take();
        let func = lock(&self.func).take();
        // Dropping the record handle unlinks the record if the object is alive; the registry
        // entry is a handle of this very state. Both are dropped with no lock held.
        drop(record);
        drop(entry);
        // The winner takes the function, which is there until then.
        func.map(|func| (func, over))
    }

    /// The record's callback: the object died.
    pub(crate) fn run_by_death(&self) {
        let Some((func, over)) = self.kill() else {
            return;
        };
        if over {
            drop(func);
        } else {
            // A panic goes to core, which reports it to the unraisable hook.
            drop(func());
        }
    }

    /// `<finalize object at 0x…; dead>`.
    fn dead_text(&self) -> String {
        format!("<finalize object at {:#x}; dead>", lock(&self.link).addr)
    }
}

impl<T: 'static, R: 'static, F: Scope> fmt::Debug for State<T, R, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("seq", &self.seq)
            .field("alive", &self.alive.load(Ordering::Relaxed))
            .field("atexit", &self.atexit.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T: 'static, R: 'static, F: Scope> Entry for State<T, R, F> {
    fn atexit(&self) -> bool {
        self.atexit.load(Ordering::Relaxed)
    }

    fn run_at_exit(&self) {
        if !self.atexit() {
            return;
        }
        let Some((func, over)) = self.kill() else {
            return;
        };
        if over {
            // Another exit run of this scope finished meanwhile.
            drop(func);
            return;
        }
        let outcome = panic::catch_unwind(AssertUnwindSafe(move || drop(func())));
        if let Err(payload) = outcome {
            hooks::report_unraisable(&Unraisable {
                object: self.dead_text(),
                callback: self.func_name,
                message: hooks::panic_message(&*payload),
            });
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
        }
    }
}

impl<T: 'static, R: 'static, F: Scope> Finalizer<T, R, F> {
    /// Registers a finalizer of `func` (named `func_name`) on `obj`.
    pub(crate) fn new(obj: &Obj<T, F>, func: F::Func<R>, func_name: &'static str) -> Self {
        let seq = scope::born();
        let state = Arc::new(State {
            seq,
            alive: AtomicBool::new(true),
            atexit: AtomicBool::new(true),
            func: Mutex::new(Some(func)),
            link: Mutex::new(Link {
                record: None,
                addr: 0,
            }),
            func_name,
        });
        // `obj` is a strong reference: the object cannot die, and so the callback cannot run,
        // before the record handle is stored.
        let record = F::register(obj, &state);
        {
            let mut link = lock(&state.link);
            link.addr = record.addr();
            link.record = Some(record);
        }
        scope::enroll(seq, &state);
        Finalizer {
            state,
            _marker: PhantomData,
        }
    }

    /// Python's `f()`: if the finalizer is alive, marks it dead and, unless its scope's exit run
    /// is over, runs the function and returns its result; otherwise `None`. Runs at most once.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_finalize::unsync::finalize;
    ///
    /// let obj = Obj::new(1);
    /// let f = finalize(&obj, || "closed");
    /// assert_eq!(f.call(), Some("closed"));
    /// assert!(!f.is_alive());
    /// assert_eq!(f.call(), None);
    /// drop(obj); // runs nothing
    /// ```
    ///
    /// # Panics
    /// Propagates a panic of the function (as Python raises); the finalizer is dead afterwards.
    pub fn call(&self) -> Option<R> {
        let (func, over) = self.state.kill()?;
        if over {
            drop(func);
            return None;
        }
        Some(func())
    }

    /// Python's `f.detach()`: if the finalizer and its object are alive, unregisters the
    /// finalizer and hands back the object and the function (a `Box<dyn FnOnce() -> R>`,
    /// `+ Send` in `sync`), which then never runs by itself; otherwise `None`.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_finalize::unsync::finalize;
    ///
    /// let obj = Obj::new(5);
    /// let f = finalize(&obj, || "cleanup");
    /// let (same, func) = f.detach().unwrap();
    /// assert!(Obj::ptr_eq(&same, &obj));
    /// assert!(!f.is_alive());
    /// assert!(f.detach().is_none());
    /// drop((obj, same)); // the object dies; the detached function does not run
    /// assert_eq!(func(), "cleanup");
    /// ```
    pub fn detach(&self) -> Option<(Obj<T, F>, F::Func<R>)> {
        let obj = self.peek()?;
        match self.state.kill() {
            Some((func, _)) => Some((obj, func)),
            None => {
                drop(obj);
                None
            }
        }
    }

    /// Python's `f.peek()`: the object, if the finalizer and the object are alive. Changes
    /// nothing.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_finalize::unsync::finalize;
    ///
    /// let obj = Obj::new(5);
    /// let f = finalize(&obj, || ());
    /// assert_eq!(*f.peek().unwrap(), 5);
    /// assert!(f.is_alive());
    /// f.call();
    /// assert!(f.peek().is_none());
    /// ```
    pub fn peek(&self) -> Option<Obj<T, F>> {
        if !self.is_alive() {
            return None;
        }
        // An upgrade runs no user code, so it may happen under the lock; the `Obj` it gives is
        // returned (and so dropped) after the lock is released.
        let link = lock(&self.state.link);
        link.record.as_ref()?.get()
    }

    /// Python's `f.alive`: true until the finalizer runs, is detached, or its object's death
    /// takes it.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_finalize::unsync::finalize;
    ///
    /// let obj = Obj::new(5);
    /// let f = finalize(&obj, || ());
    /// assert!(f.is_alive());
    /// drop(obj);
    /// assert!(!f.is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        self.state.alive.load(Ordering::Acquire)
    }

    /// Python's `f.atexit`: whether the exit run runs this finalizer if it is still alive then
    /// (true by default).
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_finalize::unsync::finalize;
    ///
    /// let obj = Obj::new(5);
    /// let f = finalize(&obj, || ());
    /// assert!(f.atexit());
    /// # f.call();
    /// ```
    pub fn atexit(&self) -> bool {
        self.state.atexit.load(Ordering::Relaxed)
    }

    /// Python's `f.atexit = value`: whether the exit run runs this finalizer. No effect once the
    /// finalizer is dead.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_finalize::unsync::finalize;
    ///
    /// let obj = Obj::new(5);
    /// let f = finalize(&obj, || println!("not at exit"));
    /// f.set_atexit(false);
    /// assert!(!f.atexit());
    /// # f.call();
    /// ```
    pub fn set_atexit(&self, value: bool) {
        if !self.is_alive() {
            return;
        }
        self.state.atexit.store(value, Ordering::Relaxed);
        scope::touch::<F>();
    }
}

impl<T: 'static, R: 'static, F: Scope> Clone for Finalizer<T, R, F> {
    /// Another handle of the same finalizer.
    fn clone(&self) -> Self {
        Finalizer {
            state: Arc::clone(&self.state),
            _marker: PhantomData,
        }
    }
}

impl<T: 'static, R: 'static, F: Scope> fmt::Debug for Finalizer<T, R, F> {
    /// `<finalize object at 0x…; for 'TypeName' at 0x…>` while the finalizer and its object are
    /// alive, `<finalize object at 0x…; dead>` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A handle of the record is taken out of the lock, so no lock is held while writing.
        let record = if self.is_alive() {
            lock(&self.state.link).record.clone()
        } else {
            None
        };
        match record {
            Some(record) => hooks::describe(&record, f),
            None => f.write_str(&self.state.dead_text()),
        }
    }
}
