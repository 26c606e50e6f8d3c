//! Python's `weakref` for Rust: generational weak references, `WeakRef` objects with callbacks,
//! `WeakMethod`, in a single-thread (`unsync`) and a thread-safe (`sync`) flavour.
//!
//! | Python | Rust (`unsync` and `sync`) |
//! |---|---|
//! | a reference to an object | [`Obj<T>`](unsync::Obj) |
//! | `weakref.ref(obj)` | [`WeakRef::new`](generic::WeakRef::new) |
//! | `weakref.ref(obj, callback)` | [`WeakRef::with_callback`](generic::WeakRef::with_callback) |
//! | `r()` | [`r.get()`](generic::WeakRef::get) |
//! | `weakref.ReferenceType` | [`ReferenceType<T>`](unsync::ReferenceType) |
//! | `weakref.WeakMethod` | [`WeakMethod<T, M>`](unsync::WeakMethod) |
//! | `weakref.getweakrefcount` | [`getweakrefcount`](unsync::getweakrefcount) |
//! | `weakref.getweakrefs` | [`getweakrefs`](unsync::getweakrefs) |
//! | `ReferenceError` | [`ReferenceError`] |
//! | `sys.unraisablehook` | [`set_unraisable_hook`], [`take_unraisable_hook`], [`Unraisable`] |
//! | (no counterpart) the raw 8-byte handle | [`Weak<T>`](unsync::Weak) |
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use weakref_core::unsync::{Obj, WeakRef};
//!
//! let log = Rc::new(RefCell::new(Vec::new()));
//! let obj = Obj::new("expensive");
//! let r = WeakRef::with_callback(&obj, {
//!     let log = Rc::clone(&log);
//!     move |r| log.borrow_mut().push(format!("callback({r:?})"))
//! });
//! assert_eq!(*r.get().unwrap(), "expensive");
//! drop(obj);
//! assert!(r.get().is_none());
//! assert!(log.borrow()[0].ends_with("; dead>)"));
//! ```
//!
//! # How it works
//! Every object owns one slot of a global table of slots; a [`Weak`](unsync::Weak) is just the
//! slot's key (its index, scaled) and version (8 bytes, `Copy`). Death takes the slot's count to
//! zero, so every handle reads dead at one instant; freeing the slot bumps its version, so they
//! stay stale for good, and the slot is reused by later objects; a slot whose versions run out
//! is retired.
//! When an object dies: (1) every weak handle reads dead and the callbacks pending at that
//! instant are taken, (2) the value is dropped, (3) the callbacks run, newest registered first,
//! (4) the slot is freed. When a proxy pins the storage, (2) waits for the last pin. Deaths
//! caused while another is processed on the same thread are queued, so long chains die without
//! deep recursion.
//!
//! Memory: a slot is 24 bytes and lives forever (the first 2^20 are a static array that costs
//! address space only until used); an object's storage is freed at its death. Each thread keeps
//! up to 16 freed blocks per size class (objects up to 256 bytes) for its next objects, at most
//! about 34 KiB, given back when the thread ends.
//!
//! A panic in a callback is caught and reported to the [unraisable hook](set_unraisable_hook)
//! (std's panic hook still prints its own `thread '…' panicked` line first); the other callbacks
//! still run. A panic in `T`'s `Drop` propagates after the death has completed.

#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod death;
pub mod flavor;
mod flavours;
pub mod hooks;
mod method;
mod obj;
mod primitive;
mod record;
mod storage;
mod table;
mod typename;
mod unraisable;

use std::fmt;

pub use flavours::{sync, unsync};
#[doc(inline)]
pub use unraisable::{set_unraisable_hook, take_unraisable_hook, Unraisable};

pub mod generic {
    //! The types behind both flavours, generic over a [`Flavor`](crate::flavor::Flavor).
    //! Name them through `weakref_core::unsync` and `weakref_core::sync`.

    #[doc(inline)]
    pub use crate::method::WeakMethod;
    #[doc(inline)]
    pub use crate::obj::{Obj, Weak};
    #[doc(inline)]
    pub use crate::record::WeakRef;

    /// The flavour-generic face of `unsync::AsWeak` and `sync::AsWeak`: every type implementing
    /// a flavour's `AsWeak<T>` implements `AsWeakIn<T, ThatFlavor>`, so code written once for
    /// both flavours (the collections) can take `&impl AsWeakIn<T, F>`.
    ///
    /// ```
    /// use weakref_core::flavor::UnsyncFlavor;
    /// use weakref_core::generic::AsWeakIn;
    /// use weakref_core::unsync::{Obj, WeakRef};
    /// fn handle_of(x: &impl AsWeakIn<i32, UnsyncFlavor>) -> weakref_core::unsync::Weak<i32> {
    ///     x.as_weak_in()
    /// }
    /// let obj = Obj::new(1);
    /// assert_eq!(handle_of(&obj), handle_of(&WeakRef::new(&obj)));
    /// ```
    pub trait AsWeakIn<T: 'static, F: crate::flavor::Flavor> {
        /// The [`Weak`] handle of the object this names.
        fn as_weak_in(&self) -> Weak<T, F>;
    }
}

/// Python's `ReferenceError`: the object a weak reference names no longer exists.
///
/// ```
/// use weakref_core::ReferenceError;
/// assert_eq!(ReferenceError.to_string(), "weakly-referenced object no longer exists");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReferenceError;

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("weakly-referenced object no longer exists")
    }
}

impl std::error::Error for ReferenceError {}

#[doc(hidden)]
pub mod __testing {
    //! Test-only access to the slot table. Not part of the API.

    /// The next slot allocated on this thread starts at version `version` at least
    /// (versions only ever increase, so this cannot break a guarantee).
    pub fn force_next_version(version: u32) {
        crate::table::force_next_version(version);
    }

    /// Slots ever created in the global table.
    pub fn slot_table_len() -> usize {
        crate::table::stats().0
    }

    /// Slots currently free: the shared pool plus this thread's cache.
    pub fn free_slots() -> usize {
        crate::table::stats().1
    }

    /// Bytes of the static part of the slot table in use (slots ever handed out there, which
    /// the global allocator does not see): memory measurements add it to the allocator's count.
    pub fn static_slot_bytes() -> usize {
        crate::table::static_slot_bytes()
    }

    /// Whether the slot `weak` names still carries `weak`'s version: true from the object's
    /// creation until its slot is freed at the end of its death.
    pub fn slot_holds_version<T: 'static, F: crate::flavor::Flavor>(
        weak: &crate::generic::Weak<T, F>,
    ) -> bool {
        use crate::primitive::Ordering;
        let word = weak.slot().word.load(Ordering::Acquire);
        crate::flavor::word::version(word) == weak.version()
    }

    /// Slots retired because their versions ran out.
    pub fn retired_slots() -> usize {
        crate::table::stats().2
    }
}
