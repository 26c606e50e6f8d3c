//! Exit scopes: the registries of finalizers that run at exit, one per thread for `unsync` and
//! one per process for `sync`, the exit run itself, and the process-wide `pending` counter.
//!
//! A registry holds every alive finalizer of its scope that the exit run may still run, keyed by
//! creation order. The exit run takes the newest one whose `atexit` flag is set, runs it, and
//! repeats (re-reading the registry when a finalizer was created or a flag changed meanwhile)
//! until none is left; then the scope's exit run is over for good: the registry is emptied and no
//! finalizer of the scope runs its function again.
//!
//! Where each scope's exit run happens (glibc runs the exiting thread's thread-local destructors
//! before the C `atexit` handlers):
//! - `unsync`: the destructor of a thread-local guard, at the end of the thread (for the main
//!   thread, at process exit, before the `sync` run);
//! - `sync`: an `extern "C"` handler registered once with the C library's `atexit` (not under
//!   Miri, which has no such shim, nor under loom). It reaches no thread-local with a destructor
//!   and catches every panic: unwinding out of an `extern "C"` function aborts.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as StdOrdering};
use std::sync::Arc;

use weakref_core::flavor::{Flavor, SyncFlavor, UnsyncFlavor};
use weakref_core::generic::{Obj, WeakRef};
use weakref_core::hooks::{self, RecordKind};

use crate::finalizer::State;
use crate::primitive::{lock, Mutex};

/// A finalizer as its scope's registry sees it, with its `T` and `R` erased.
pub trait Entry {
    /// Whether the exit run should run it.
    fn atexit(&self) -> bool;
    /// Runs it as the exit run does: if it is still alive and its flag is set, mark it dead and
    /// run its function, reporting a panic to the unraisable hook.
    fn run_at_exit(&self);
}

/// A flavour as this crate needs it: how a finalizer's function is boxed, how its record is
/// registered with core, and where its scope's registry lives. Implemented for the two flavours
/// only (the trait cannot be named outside this crate).
pub trait Scope: Flavor {
    /// A finalizer's boxed function: `Box<dyn FnOnce() -> R>`, `+ Send` in `sync`.
    type Func<R: 'static>: FnOnce() -> R + 'static;

    /// A registry entry: `dyn Entry`, `+ Send + Sync` in `sync`.
    type Entry: ?Sized + Entry + 'static;

    /// Registers `state`'s finalizer record on `obj`; its callback runs the finalizer at death.
    fn register<T: 'static, R: 'static>(
        obj: &Obj<T, Self>,
        state: &Arc<State<T, R, Self>>,
    ) -> WeakRef<T, Self>;

    /// `state` as a registry entry.
    fn erase<T: 'static, R: 'static>(state: Arc<State<T, R, Self>>) -> Arc<Self::Entry>;

    /// Runs `f` on this scope's registry (the calling thread's for `unsync`); `None` when it can
    /// no longer be reached.
    fn with_registry<X>(f: impl FnOnce(&mut Registry<Self::Entry>) -> X) -> Option<X>;

    /// Makes sure this scope's exit run will happen (registers the thread-local guard or the
    /// `atexit` handler).
    fn arm_exit_run();
}

/// The finalizers of one scope that its exit run may still run.
pub struct Registry<E: ?Sized> {
    /// Alive finalizers by creation number.
    entries: BTreeMap<u64, Arc<E>>,
    /// Bumped when a finalizer is enrolled or an `atexit` flag changes: the exit run then
    /// re-reads the registry.
    generation: u64,
    /// The scope's exit run is over: nothing of the scope runs any more.
    over: bool,
}

impl<E: ?Sized + Entry> Registry<E> {
    const fn new() -> Self {
        Registry {
            entries: BTreeMap::new(),
            generation: 0,
            over: false,
        }
    }

    /// The entries the exit run should run, oldest first.
    fn snapshot(&self) -> Vec<Arc<E>> {
        self.entries
            .values()
            .filter(|entry| entry.atexit())
            .cloned()
            .collect()
    }
}

impl<E: ?Sized> fmt::Debug for Registry<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("entries", &self.entries.len())
            .field("generation", &self.generation)
            .field("over", &self.over)
            .finish()
    }
}

/// Alive finalizers of both flavours, all threads.
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// The creation number of the next finalizer (both flavours share it).
static NEXT_SEQ: AtomicU64 = AtomicU64::new(0);

/// A finalizer was created: counts it and gives its creation number.
pub(crate) fn born() -> u64 {
    PENDING.fetch_add(1, StdOrdering::Relaxed);
    NEXT_SEQ.fetch_add(1, StdOrdering::Relaxed)
}

/// Alive finalizers of both flavours, all threads.
pub(crate) fn pending() -> usize {
    PENDING.load(StdOrdering::Relaxed)
}

/// Enrolls a new finalizer with its scope's registry, unless the scope's exit run is over.
pub(crate) fn enroll<T: 'static, R: 'static, S: Scope>(seq: u64, state: &Arc<State<T, R, S>>) {
    let entry = S::erase(Arc::clone(state));
    let refused = S::with_registry(move |registry| {
        if registry.over {
            return Some(entry);
        }
        registry.entries.insert(seq, entry);
        registry.generation += 1;
        None
    });
    // Refused (the exit run is over) or unreachable, the entry is dropped at the end of this
    // function, with no lock held.
    if let Some(None) = refused {
        S::arm_exit_run();
    }
}

/// Takes a finalizer out of its scope: `kill` (which flips the finalizer's `alive` switch)
/// runs under the registry's lock, so whether the scope's exit run is over is decided in one
/// step with it: a finalizer taken before the run ends still runs its function. Returns `None`
/// if `kill` failed, else the finalizer's registry entry (to be dropped by the caller, with no
/// lock held) and whether the scope's exit run is over.
pub(crate) fn take<S: Scope>(
    seq: u64,
    kill: impl Fn() -> bool,
) -> Option<(Option<Arc<S::Entry>>, bool)> {
    let taken =
        S::with_registry(|registry| kill().then(|| (registry.entries.remove(&seq), registry.over)));
    let taken = match taken {
        Some(taken) => taken,
        // The registry is gone (thread teardown): its exit run is over.
        None => kill().then_some((None, true)),
    };
    if taken.is_some() {
        PENDING.fetch_sub(1, StdOrdering::Relaxed);
    }
    taken
}

/// An `atexit` flag changed: the exit run re-reads the registry.
pub(crate) fn touch<S: Scope>() {
    S::with_registry(|registry| registry.generation += 1);
}

/// The exit run of scope `S`: runs its alive `atexit` finalizers newest first, including those
/// created meanwhile, then ends the scope. Does nothing once the scope's run is over.
pub(crate) fn exit_run<S: Scope>() {
    let mut pending: Vec<Arc<S::Entry>> = Vec::new();
    let mut seen_generation = None;
    loop {
        let fresh = S::with_registry(|registry| {
            if registry.over {
                return Err(());
            }
            if seen_generation == Some(registry.generation) {
                return Ok(None);
            }
            seen_generation = Some(registry.generation);
            Ok(Some(registry.snapshot()))
        });
        match fresh {
            // The old snapshot is dropped here, with no lock held.
            Some(Ok(Some(fresh))) => pending = fresh,
            Some(Ok(None)) => {}
            // Another run finished the scope meanwhile, or the registry is gone.
            Some(Err(())) | None => return,
        }
        let Some(entry) = pending.pop() else { break };
        entry.run_at_exit();
    }
    let rest = S::with_registry(|registry| {
        registry.over = true;
        std::mem::take(&mut registry.entries)
    });
    // What the run skipped (`atexit == false`) stays alive, held by its record; the registry
    // lets go of it here, with no lock held.
    drop(rest);
}

/// Runs the calling thread's `unsync` exit run, then the `sync` one.
pub(crate) fn run_atexit() {
    exit_run::<UnsyncFlavor>();
    exit_run::<SyncFlavor>();
}

std::thread_local! {
    /// This thread's `unsync` registry. `ManuallyDrop` gives it no destructor, so it stays
    /// reachable during the whole thread teardown (finalizers run by the exit run may create
    /// new ones); the exit run empties it.
    static UNSYNC_REGISTRY: ManuallyDrop<RefCell<Registry<dyn Entry>>> =
        const { ManuallyDrop::new(RefCell::new(Registry::new())) };

    /// Its destructor is this thread's `unsync` exit run; armed by the first enrolment.
    static UNSYNC_EXIT_GUARD: ExitGuard = const { ExitGuard };
}

/// The thread-local whose destructor runs the thread's `unsync` exit run.
struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        catch_all(exit_run::<UnsyncFlavor>);
    }
}

/// Runs `f`, swallowing any panic (and any panic of dropping its payload): for code that runs
/// where unwinding must not escape (a thread-local destructor, an `extern "C"` handler).
fn catch_all(f: impl FnOnce()) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}

impl Scope for UnsyncFlavor {
    type Func<R: 'static> = Box<dyn FnOnce() -> R>;
    type Entry = dyn Entry;

    fn register<T: 'static, R: 'static>(
        obj: &Obj<T, Self>,
        state: &Arc<State<T, R, Self>>,
    ) -> WeakRef<T, Self> {
        let func_name = state.func_name();
        let state = Arc::clone(state);
        let callback = move |_: &WeakRef<T, Self>| state.run_by_death();
        hooks::register(obj, RecordKind::Finalizer, func_name, Some(callback))
    }

    fn erase<T: 'static, R: 'static>(state: Arc<State<T, R, Self>>) -> Arc<dyn Entry> {
        state
    }

    fn with_registry<X>(f: impl FnOnce(&mut Registry<dyn Entry>) -> X) -> Option<X> {
        // No user code runs inside `f`, so the borrow is never re-entered.
        UNSYNC_REGISTRY
            .try_with(|registry| f(&mut registry.borrow_mut()))
            .ok()
    }

    fn arm_exit_run() {
        // Fails only while the guard itself is being destroyed: its run is under way.
        let _ = UNSYNC_EXIT_GUARD.try_with(|_| {});
    }
}

/// The process-wide `sync` registry.
#[cfg(not(weakref_loom))]
static SYNC_REGISTRY: Mutex<Registry<dyn Entry + Send + Sync>> = Mutex::new(Registry::new());

#[cfg(weakref_loom)]
loom::lazy_static! {
    /// The process-wide `sync` registry (a fresh one per loom execution).
    static ref SYNC_REGISTRY: Mutex<Registry<dyn Entry + Send + Sync>> =
        Mutex::new(Registry::new());
}

impl Scope for SyncFlavor {
    type Func<R: 'static> = Box<dyn FnOnce() -> R + Send>;
    type Entry = dyn Entry + Send + Sync;

    fn register<T: 'static, R: 'static>(
        obj: &Obj<T, Self>,
        state: &Arc<State<T, R, Self>>,
    ) -> WeakRef<T, Self> {
        let func_name = state.func_name();
        let state = Arc::clone(state);
        let callback = move |_: &WeakRef<T, Self>| state.run_by_death();
        hooks::register(obj, RecordKind::Finalizer, func_name, Some(callback))
    }

    fn erase<T: 'static, R: 'static>(
        state: Arc<State<T, R, Self>>,
    ) -> Arc<dyn Entry + Send + Sync> {
        state
    }

    fn with_registry<X>(f: impl FnOnce(&mut Registry<dyn Entry + Send + Sync>) -> X) -> Option<X> {
        Some(f(&mut lock(&SYNC_REGISTRY)))
    }

    fn arm_exit_run() {
        #[cfg(not(any(miri, weakref_loom)))]
        {
            static REGISTERED: std::sync::Once = std::sync::Once::new();
            REGISTERED.call_once(|| {
                extern "C" {
                    fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
                }
                // SAFETY: `atexit` is the C library's; `sync_exit_handler` is a plain
                // `extern "C" fn()` that never unwinds (it catches every panic) and reaches only
                // statics and thread-locals without destructors, so it may run during `exit`.
                let failed = unsafe { atexit(sync_exit_handler) } != 0;
                if failed {
                    // The C library is out of handler slots: `run_atexit` still works.
                    eprintln!("weakref-finalize: atexit registration failed");
                }
            });
        }
    }
}

/// The C `atexit` handler of the `sync` scope.
#[cfg(not(any(miri, weakref_loom)))]
extern "C" fn sync_exit_handler() {
    catch_all(exit_run::<SyncFlavor>);
}
