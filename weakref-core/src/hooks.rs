//! The extension point for the crates built on core (proxy, finalize, collections).
//!
//! Those crates never reach into core's internals: they register records of their own
//! [`RecordKind`] on an object (a proxy, a finalizer, a collection's death hook), print them the
//! Python way with [`describe`], and pin an object's storage with [`StoragePin`]. Everything here
//! keeps the core's guarantees: callbacks run once, newest first, with no lock held; a pin keeps
//! the value's memory valid past the object's death, and the last pin drops the value.
//!
//! ```
//! use weakref_core::hooks::{self, RecordKind};
//! use weakref_core::unsync::{getweakrefcount, Obj};
//!
//! let obj = Obj::new(5);
//! let proxy_record = hooks::shared(&obj, RecordKind::Proxy);
//! assert_eq!(getweakrefcount(&obj), 1);
//! let pin = hooks::StoragePin::new(&obj);
//! drop(obj);
//! assert!(!proxy_record.is_alive());
//! assert_eq!(*pin.get(), 5); // the storage outlives the death while pinned
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::mem;
use std::panic;
use std::ptr::{self, NonNull};

use crate::flavor::{self, word, Flavor, SendIfSync};
use crate::obj::{self, Header, Obj, DEAD, PIN};
use crate::primitive::{lock, AtomicPtr, AtomicU32, Ordering};
use crate::record;
use crate::table;

#[doc(inline)]
pub use crate::record::RecordKind;
use crate::record::WeakRef;

/// Registers a new, unshared record of `kind` on `obj` with an optional `callback`, which runs
/// once when `obj` dies if a handle of the record still exists then (for
/// [`RecordKind::DeathHook`], at the instant of death; for the others, after the value's drop,
/// newest registered first). `callback_name` is what an [`Unraisable`](crate::Unraisable)
/// report names if the callback panics (usually `std::any::type_name` of the user's function).
///
/// ```
/// use weakref_core::hooks::{self, RecordKind};
/// use weakref_core::unsync::Obj;
/// let obj = Obj::new(1);
/// let fin = hooks::register(&obj, RecordKind::Finalizer, "cleanup", Some(|_: &_| println!("bye")));
/// assert!(fin.has_callback());
/// ```
pub fn register<T, F, C>(
    obj: &Obj<T, F>,
    kind: RecordKind,
    callback_name: &'static str,
    callback: Option<C>,
) -> WeakRef<T, F>
where
    T: 'static,
    F: Flavor,
    C: FnOnce(&WeakRef<T, F>) + SendIfSync<F> + 'static,
{
    let callback = callback.map(|c| Box::new(c) as record::Callback<T, F>);
    record::register(obj, kind, callback, callback_name)
}

/// The shared callback-less record of `kind` on `obj` (`WeakRef` or `Proxy`), created on first
/// use and shared while any handle to it exists.
///
/// ```
/// use weakref_core::hooks::{self, RecordKind};
/// use weakref_core::unsync::{Obj, WeakRef};
/// let obj = Obj::new(1);
/// let a = hooks::shared(&obj, RecordKind::Proxy);
/// assert!(WeakRef::ptr_eq(&a, &hooks::shared(&obj, RecordKind::Proxy)));
/// ```
pub fn shared<T: 'static, F: Flavor>(obj: &Obj<T, F>, kind: RecordKind) -> WeakRef<T, F> {
    record::shared(obj, kind)
}

/// Writes Python's `repr` of a record: `<weakproxy at 0x…; to 'T' at 0x…>`,
/// `<finalize object at 0x…; for 'T' at 0x…>`, or `<… at 0x…; dead>`.
///
/// ```
/// use std::fmt;
/// use weakref_core::hooks::{self, RecordKind};
/// use weakref_core::unsync::{Obj, WeakRef};
/// struct Shown(WeakRef<u8>);
/// impl fmt::Debug for Shown {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { hooks::describe(&self.0, f) }
/// }
/// let obj = Obj::new(1u8);
/// let shown = Shown(hooks::shared(&obj, RecordKind::Proxy));
/// assert!(format!("{shown:?}").starts_with("<weakproxy at 0x"));
/// ```
pub fn describe<T: 'static, F: Flavor>(
    handle: &WeakRef<T, F>,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    record::describe(handle, f)
}

/// A pin on an object's storage: while it exists, the value stays in place even after the
/// object dies, so `&T` borrowed from the pin stays valid. The object still dies on time; the
/// value is dropped when the last pin goes (on that thread), or at death if none remains.
///
/// ```
/// use weakref_core::hooks::StoragePin;
/// use weakref_core::unsync::Obj;
/// let obj = Obj::new(String::from("kept"));
/// let weak = Obj::downgrade(&obj);
/// let pin = StoragePin::new(&obj);
/// drop(obj);
/// assert!(!weak.is_alive());
/// assert_eq!(pin.get(), "kept");
/// ```
pub struct StoragePin<T: 'static, F: Flavor> {
    header: NonNull<Header<T>>,
    /// The object's slot (slots are never freed), kept here so `is_alive` is two loads.
    slot: &'static table::Slot,
    /// `version << 32 | 1` for the object's version (see [`alive_in`]).
    alive_base: u64,
    _marker: PhantomData<(T, F, *const ())>,
}

// SAFETY: a sync pin gives `&T` on any thread (`T: Sync`) and its last drop may drop `T` on any
// thread (`T: Send`); the pin count is changed with atomic read-modify-writes.
unsafe impl<T: Send + Sync> Send for StoragePin<T, flavor::SyncFlavor> {}
// SAFETY: as for `Send`: a shared pin only gives `&T`.
unsafe impl<T: Send + Sync> Sync for StoragePin<T, flavor::SyncFlavor> {}

impl<T: 'static, F: Flavor> StoragePin<T, F> {
    /// Pins the storage of the live object `obj`.
    ///
    /// ```
    /// use weakref_core::hooks::StoragePin;
    /// use weakref_core::sync::Obj;
    /// let obj = Obj::new(1);
    /// let pin = StoragePin::new(&obj);
    /// assert_eq!(*pin.get(), 1);
    /// ```
    pub fn new(obj: &Obj<T, F>) -> Self {
        let header = Obj::header_ptr(obj);
        let meta = obj.meta();
        // `obj` is a strong reference, so the object is alive and cannot die before the pin
        // is counted; its death then sees the pin. In `sync`, `Obj::try_unwrap` checks pins and
        // takes the count to zero under the slot's lock shard: pinning under it too means a pin
        // is either seen by that check or added while the caller's strong reference makes the
        // count at least 2, so that `try_unwrap` fails.
        let _guard = F::SYNC.then(|| lock(table::table().lock_for(meta.idx())));
        flavor::state_add::<F>(&meta.state, PIN);
        flavor::mark_pinned::<F>(meta);
        StoragePin {
            header,
            slot: meta.slot,
            alive_base: alive_base(&Obj::downgrade(obj)),
            _marker: PhantomData,
        }
    }

    /// The pinned value. It stays readable after the object died, until the pin is dropped.
    pub fn get(&self) -> &T {
        // SAFETY: the pin keeps the header and its value alive until the pin is dropped.
        unsafe { &self.header.as_ref().value }
    }

    /// Whether the pinned object is still alive: two loads, no table lookup.
    ///
    /// ```
    /// use weakref_core::hooks::StoragePin;
    /// use weakref_core::unsync::Obj;
    /// let obj = Obj::new(1);
    /// let pin = StoragePin::new(&obj);
    /// assert!(pin.is_alive());
    /// drop(obj);
    /// assert!(!pin.is_alive());
    /// ```
    #[inline]
    pub fn is_alive(&self) -> bool {
        alive_in(self.slot, self.alive_base)
    }
}

impl<T: 'static, F: Flavor> Drop for StoragePin<T, F> {
    /// Unpins; the last pin of a dead object drops the value.
    ///
    /// # Panics
    /// Propagates a panic of `T`'s `Drop` (unless already panicking).
    fn drop(&mut self) {
        // SAFETY: this pin is counted in the header's state and is given up here, once.
        unsafe { unpin::<T, F>(self.header) };
    }
}

/// Gives up one pin of `header`; the last pin of a dead object drops the value (propagating a
/// panic of its `Drop` unless already panicking).
///
/// # Safety
/// The caller owns one pin counted in `header`'s state, and gives it up.
unsafe fn unpin<T: 'static, F: Flavor>(header: NonNull<Header<T>>) {
    // SAFETY: the header is alive while the caller's pin exists.
    let state = unsafe { &header.as_ref().meta.state };
    let prev = flavor::state_sub::<F>(state, PIN);
    if prev == PIN | DEAD {
        // SAFETY: the object died and this was the last pin: nobody else reaches the value.
        if let Some(payload) = unsafe { obj::destroy(header) } {
            if std::thread::panicking() {
                crate::death::drop_payload(payload);
            } else {
                panic::resume_unwind(payload);
            }
        }
    }
}

/// The `alive_in` base of the object `weak` names: `version << 32 | 1`.
fn alive_base<T: 'static, F: Flavor>(weak: &crate::generic::Weak<T, F>) -> u64 {
    word::pack(weak.version(), 1)
}

/// Whether `slot`'s word shows the live object whose `alive_base` is `version << 32 | 1`: one
/// subtraction and compare (a count of 0 or another version falls outside the range).
#[inline]
fn alive_in(slot: &table::Slot, alive_base: u64) -> bool {
    let current = slot.word.load(Ordering::Acquire);
    (current & !word::PINNED).wrapping_sub(alive_base) < word::MAX_COUNT
}

/// A pin taken on first use: one per handle of a proxy-like type, which pins the storage the
/// first time it hands out `&T` and keeps it pinned until the handle is dropped.
///
/// [`get`](LazyPin::get) is the fast path (the value, when pinned and alive: the pin, then the
/// header's `strong` word, next to the value: the count in `unsync`, the life flag in `sync`);
/// [`pin`](LazyPin::pin) takes the pin once. In `sync`, racing first pins are resolved by a
/// compare-and-swap: one pin stays, the others are given back.
///
/// ```
/// use weakref_core::hooks::LazyPin;
/// use weakref_core::unsync::Obj;
/// let obj = Obj::new(String::from("kept"));
/// let pin = LazyPin::new(&Obj::downgrade(&obj));
/// assert!(pin.get().is_none()); // not pinned yet
/// assert_eq!(pin.pin(&obj), "kept");
/// assert_eq!(pin.get().map(String::as_str), Some("kept"));
/// drop(obj);
/// assert!(pin.get().is_none() && !pin.is_alive()); // dead: the fast path refuses
/// assert_eq!(pin.pinned_value().map(String::as_str), Some("kept")); // the storage stays
/// ```
pub struct LazyPin<T: 'static, F: Flavor> {
    /// The pinned header; [`unpinned`] until the first `pin`.
    header: AtomicPtr<Header<T>>,
    /// `version << 32 | 1` for the object's version.
    alive_base: u64,
    /// The object's slot (slots are never freed).
    slot: &'static table::Slot,
    _marker: PhantomData<(T, F, *const ())>,
}

// SAFETY: as for `StoragePin`: `&T` on any thread needs `T: Sync`, dropping the last pin on any
// thread may drop `T` (`T: Send`); the header pointer is atomic and pin counts are changed
// with atomic read-modify-writes.
unsafe impl<T: Send + Sync> Send for LazyPin<T, flavor::SyncFlavor> {}
// SAFETY: as for `Send`; racing first pins are resolved by the compare-and-swap in `pin`.
unsafe impl<T: Send + Sync> Sync for LazyPin<T, flavor::SyncFlavor> {}

/// The life word an unpinned [`LazyPin`] points at in place of a header: it reads 0, as a dead
/// header's `strong` does, so `get` reads life the same way pinned or not, with no null test on
/// its fast path. Never written.
#[cfg(not(weakref_loom))]
static UNPINNED: AtomicU32 = AtomicU32::new(0);
#[cfg(weakref_loom)]
loom::lazy_static! {
    static ref UNPINNED: AtomicU32 = AtomicU32::new(0);
}

/// What an unpinned [`LazyPin`] holds: the address of [`UNPINNED`], only ever compared with or
/// read through [`life_word`], never as a `Header<T>`.
fn unpinned<T>() -> *mut Header<T> {
    let word: &'static AtomicU32 = &UNPINNED;
    ptr::from_ref(word).cast_mut().cast::<Header<T>>()
}

/// The life word behind a [`LazyPin`]'s header pointer: a pinned header's `strong`, or
/// [`UNPINNED`].
///
/// # Safety
/// `header` is [`unpinned`] or a header that stays allocated for `'a`.
unsafe fn life_word<'a, T>(header: *mut Header<T>) -> &'a AtomicU32 {
    // SAFETY: `Header` and `Meta` are `repr(C)` with `meta`, then `strong`, first (asserted
    // in obj.rs), so a header's address is its `strong`'s; `UNPINNED`'s is its own.
    unsafe { &*header.cast::<AtomicU32>() }
}

impl<T: 'static, F: Flavor> LazyPin<T, F> {
    /// An unpinned pin for the object `weak` names.
    pub fn new(weak: &crate::generic::Weak<T, F>) -> Self {
        LazyPin {
            header: AtomicPtr::new(unpinned()),
            alive_base: alive_base(weak),
            slot: weak.slot(),
            _marker: PhantomData,
        }
    }

    /// The value, if pinned and the object is alive.
    ///
    /// Both flavours read the header's `strong` word, next to the value: in `unsync` the count,
    /// which reaches 0 at the instant of death; in `sync` a flag that the last drop of a pinned
    /// object clears just before the instant of death and publishes with it. (If an upgrade
    /// beats that drop, the drop sets the flag back; meanwhile this may read `None` for a live
    /// object, and callers fall back to [`pin`](Self::pin), which checks the slot.)
    #[inline]
    pub fn get(&self) -> Option<&T> {
        let header = self.header.load(Ordering::Acquire);
        // SAFETY: `unpinned()` or the pinned header, which stays allocated while this handle
        // lives. Unpinned, the word reads 0: no value.
        if unsafe { life_word(header) }.load(Ordering::Relaxed) == 0 {
            return None;
        }
        // SAFETY: the word read non-zero, so `header` is a header, pinned by this handle until
        // it is dropped, which keeps the header and its value allocated and the value in place.
        Some(unsafe { &(*header).value })
    }

    /// The pinned value, alive or not (`None` when not pinned).
    pub fn pinned_value(&self) -> Option<&T> {
        let header = self.header.load(Ordering::Acquire);
        // SAFETY: as in `get`.
        (header != unpinned()).then(|| unsafe { &*ptr::addr_of!((*header).value).cast::<T>() })
    }

    /// Whether the object is alive.
    pub fn is_alive(&self) -> bool {
        alive_in(self.slot, self.alive_base)
    }

    /// Pins the storage of `obj` (unless already pinned) and returns its value.
    ///
    /// # Panics
    /// If `obj` is not the object this pin was made for.
    pub fn pin(&self, obj: &Obj<T, F>) -> &T {
        let weak = Obj::downgrade(obj);
        assert!(
            ptr::eq(weak.slot(), self.slot) && alive_base(&weak) == self.alive_base,
            "LazyPin::pin: not the object this pin was made for"
        );
        if let Some(value) = self.pinned_value() {
            return value;
        }
        let pin = mem::ManuallyDrop::new(StoragePin::new(obj));
        let header = pin.header.as_ptr();
        if let Err(_other) =
            self.header
                .compare_exchange(unpinned(), header, Ordering::AcqRel, Ordering::Acquire)
        {
            // Another thread pinned first: give this pin back (the object is alive, held by
            // `obj`, so this is never the last pin of a dead object).
            drop(mem::ManuallyDrop::into_inner(pin));
        }
        self.pinned_value().expect("pinned just now")
    }
}

impl<T: 'static, F: Flavor> Drop for LazyPin<T, F> {
    /// Gives the pin back, if taken; the last pin of a dead object drops the value.
    ///
    /// # Panics
    /// Propagates a panic of `T`'s `Drop` (unless already panicking).
    fn drop(&mut self) {
        let header = self.header.load(Ordering::Acquire);
        if header != unpinned() {
            // SAFETY: a header other than `unpinned()` carries this handle's one pin, given up
            // once here (and it is never null).
            unsafe { unpin::<T, F>(NonNull::new_unchecked(header)) };
        }
    }
}

impl<T: 'static, F: Flavor> fmt::Debug for LazyPin<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = self.header.load(Ordering::Acquire);
        if header == unpinned() {
            f.write_str("LazyPin(unpinned)")
        } else {
            write!(f, "LazyPin({header:p})")
        }
    }
}

impl<T: 'static, F: Flavor> fmt::Debug for StoragePin<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoragePin({:p})", self.header)
    }
}

/// Delivers `report` to the current unraisable hook (see [`set_unraisable_hook`]), with no lock
/// held while the hook runs: for panics the crates built on core catch themselves (a finalizer
/// run at exit).
///
/// [`set_unraisable_hook`]: crate::set_unraisable_hook
///
/// ```
/// use weakref_core::{hooks, Unraisable};
/// hooks::report_unraisable(&Unraisable {
///     object: "<finalize object at 0x1; dead>".into(),
///     callback: "cleanup",
///     message: "boom".into(),
/// }); // the default hook writes it to stderr
/// ```
pub fn report_unraisable(report: &crate::Unraisable) {
    crate::unraisable::report(report);
}

/// The message of a caught panic payload, as [`Unraisable::message`](crate::Unraisable::message)
/// wants it: the text of a `&str` or `String`, else `Box<dyn Any>`.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
/// assert_eq!(weakref_core::hooks::panic_message(&*payload), "boom");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    crate::unraisable::payload_message(payload)
}

/// `std::any::type_name::<T>()` with every module path removed (`Vec<String>`, not
/// `alloc::vec::Vec<alloc::string::String>`): the type name the refs' `Debug` shows.
///
/// ```
/// assert_eq!(weakref_core::hooks::short_type_name::<Vec<String>>(), "Vec<String>");
/// ```
pub fn short_type_name<T: ?Sized>() -> String {
    crate::typename::short_type_name::<T>()
}
