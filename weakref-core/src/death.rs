//! The death sequence, the per-thread queue of nested deaths, and `defer_deaths`.
//!
//! Step 1 (the instant of death, the taking of the record list and the internal death hooks)
//! always happens at once. Steps 2–4 (drop the value, run the callbacks newest first, free the
//! slot) run at once too, unless this thread is already processing a death or is inside
//! `defer_deaths`: then they wait in the thread's queue, which the outermost death drains. A long
//! chain of objects owning each other therefore dies in a loop, not in a deep recursion.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use crate::flavor::Flavor;
use crate::obj::{self, Header};
use crate::record;
use crate::table::{self, Local, Slot};

/// The payload of a caught panic.
pub(crate) type Payload = Box<dyn Any + Send>;

/// Steps 2–4 of one death, type-erased so that deaths of all types share one queue.
pub(crate) struct Pending {
    /// The object's header; null when the value was already moved out (`try_unwrap`).
    header: *mut u8,
    idx: u32,
    slot: &'static Slot,
    /// The record list taken at the instant of death, or null.
    records: *mut (),
    finish: unsafe fn(&Pending) -> Option<Payload>,
}

/// Runs steps 2–4 for an object of type `T`.
///
/// Always inlined where called directly (the common death, in `complete`); queued deaths
/// reach it through `Pending::finish`.
///
/// # Safety
/// `pending` was built by `die` or `die_without_value` for this `T` and `F`, and runs once.
#[inline(always)]
unsafe fn finish<T: 'static, F: Flavor>(pending: &Pending) -> Option<Payload> {
    let Pending {
        header,
        idx,
        slot,
        records,
        ..
    } = *pending;
    // Step 2: drop the value, unless a proxy pins its storage.
    let panic = match NonNull::new(header.cast::<Header<T>>()) {
        // SAFETY: the header of the dead object, processed once (the caller's contract).
        Some(header) => unsafe { obj::release_value::<T, F>(header) },
        None => None,
    };
    // Step 3: the callbacks, newest first.
    if !records.is_null() {
        // SAFETY: the list was taken from the slot at the instant of death; this thread owns it.
        unsafe { record::run_callbacks::<T, F>(records) };
    }
    // Step 4: free the slot.
    table::free_slot(idx, slot);
    panic
}

/// Completes the death of the object at `header`, whose last strong reference this thread
/// just dropped.
///
/// # Safety
/// The slot's count just reached zero through this thread; `header` is that object's header.
#[inline(never)]
pub(crate) unsafe fn die<T: 'static, F: Flavor>(header: NonNull<Header<T>>) {
    // SAFETY: the header lives until step 2, which has not started.
    let (idx, slot) = unsafe { (header.as_ref().meta.idx(), header.as_ref().meta.slot) };
    let records = record::take_at_death::<T, F>(idx, slot);
    complete::<T, F>(Pending {
        header: header.as_ptr().cast::<u8>(),
        idx,
        slot,
        records,
        finish: finish::<T, F>,
    });
}

/// Completes the death of an object whose value `try_unwrap` moved out.
///
/// # Safety
/// The slot's count was just set to zero by this thread and the header is already freed.
pub(crate) unsafe fn die_without_value<T: 'static, F: Flavor>(idx: u32, slot: &'static Slot) {
    let records = record::take_at_death::<T, F>(idx, slot);
    complete::<T, F>(Pending {
        header: ptr::null_mut(),
        idx,
        slot,
        records,
        finish: finish::<T, F>,
    });
}

fn run(pending: Pending) -> Option<Payload> {
    // SAFETY: every `Pending` is built by `die` or `die_without_value` with the matching
    // `finish`, and is consumed here exactly once.
    unsafe { (pending.finish)(&pending) }
}

/// Runs the queued deaths until the queue is empty; keeps the first panic in `first`.
fn drain(local: &Local, first: &mut Option<Payload>) {
    while let Some(pending) = table::next_queued_death(local) {
        keep_first(first, run(pending));
    }
}

fn keep_first(first: &mut Option<Payload>, panic: Option<Payload>) {
    match (first.is_some(), panic) {
        (false, Some(payload)) => *first = Some(payload),
        (true, Some(payload)) => drop_payload(payload),
        (_, None) => {}
    }
}

/// Drops a panic payload that will not propagate; a panic in its `Drop` is swallowed.
pub(crate) fn drop_payload(payload: Payload) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
}

/// Runs steps 2–4 now (draining nested deaths after), or queues them.
#[inline]
fn complete<T: 'static, F: Flavor>(pending: Pending) {
    let mut pending = Some(pending);
    let outcome = table::with_local(|local| {
        if local.depth.get() > 0 {
            let queued = pending.take().expect("pending is taken once");
            // Thread teardown may have taken the queue: then the death completes below.
            pending = table::queue_death(local, queued);
            return None;
        }
        local.depth.set(1);
        let outermost = pending.take().expect("pending is taken once");
        // SAFETY: built by `die` or `die_without_value` for this `T` and `F`; runs once. The
        // direct (inlined) call keeps the common death off the function pointer.
        let mut first = unsafe { finish::<T, F>(&outermost) };
        if local.queued.get() > 0 {
            drain(local, &mut first);
        }
        local.depth.set(0);
        first
    });
    let panic = match (outcome, pending) {
        (Some(panic), _) => panic,
        // Thread-locals are gone (thread teardown): no queue; finish right here.
        (None, Some(pending)) => run(pending),
        (None, None) => None,
    };
    if let Some(payload) = panic {
        resume(payload);
    }
}

#[cold]
fn resume(payload: Payload) -> ! {
    panic::resume_unwind(payload)
}

/// Leaves one level of `defer_deaths`; the outermost level drains the queue.
fn leave_deferral() -> Option<Payload> {
    table::with_local(|local| {
        let depth = local.depth.get();
        if depth > 1 {
            local.depth.set(depth - 1);
            return None;
        }
        let mut first = None;
        drain(local, &mut first);
        local.depth.set(0);
        first
    })
    .flatten()
}

/// Runs `f`, deferring steps 2–4 of the deaths it causes on this thread until it returns.
///
/// Objects whose last `Obj` is dropped inside `f` die at once (their refs read dead), but their
/// values are dropped and their callbacks run only when `f` returns (for nested calls, the
/// outermost). If `f` panics, the deferred deaths complete before the panic goes on. Either
/// flavour's `defer_deaths` defers the deaths of both flavours.
///
/// Use it to drop objects while holding a `RefCell` borrow or a lock that their `Drop`s or
/// callbacks need.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use weakref_core::unsync::{defer_deaths, Obj, WeakRef};
///
/// let registry = Rc::new(RefCell::new(vec![Obj::new("plugin")]));
/// let r = WeakRef::with_callback(&registry.borrow()[0], {
///     let registry = Rc::clone(&registry);
///     // Needs the borrow that `clear` below holds: deferred, it runs after.
///     move |_| assert!(registry.borrow().is_empty())
/// });
/// defer_deaths(|| registry.borrow_mut().clear());
/// assert!(r.get().is_none());
/// ```
///
/// # Panics
/// Propagates `f`'s panic, or else the first panic of a deferred value's `Drop`.
pub fn defer_deaths<R>(f: impl FnOnce() -> R) -> R {
    /// Completes the deferred deaths if `f` unwinds.
    struct Unwinding;
    impl Drop for Unwinding {
        fn drop(&mut self) {
            if let Some(payload) = leave_deferral() {
                drop_payload(payload);
            }
        }
    }

    let entered = table::with_local(|local| local.depth.set(local.depth.get() + 1)).is_some();
    if !entered {
        // Thread teardown: nothing can be queued, deaths complete at once.
        return f();
    }
    let guard = Unwinding;
    let result = f();
    std::mem::forget(guard);
    if let Some(payload) = leave_deferral() {
        panic::resume_unwind(payload);
    }
    result
}
