//! `Obj<T>`, the strong counted handle, and `Weak<T>`, the 8-byte generational handle.

use std::borrow::Borrow;
use std::cmp::Ordering as CmpOrdering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop};
use std::num::NonZeroU64;
use std::ops::Deref;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use crate::death;
use crate::flavor::{self, word, Flavor};
use crate::primitive::{lock, AtomicU32, Ordering};
use crate::storage;
use crate::table::{self, Slot, NULL_SLOT};

/// The bookkeeping at the start of every object's allocation, whatever its type: the slot's
/// `ptr` points here, so a `Weak` can reach it without knowing `T`.
#[repr(C)]
pub(crate) struct Meta {
    /// The strong count of an unsync object (the sync count lives in the slot's word, where
    /// one compare-and-swap decides an upgrade racing the last drop). In sync: 1 while alive, 0
    /// once the last drop of a pinned object announced its death (`flavor::drop_pinned`). So a
    /// pinned handle reads life here in both flavours: 0 means dead. First, at the header's
    /// address, as `Rc` keeps its count.
    pub(crate) strong: AtomicU32,
    /// `pins << 1 | DEAD`: how many proxy handles pin the storage, and whether the object died.
    pub(crate) state: AtomicU32,
    /// This object's `Weak` bits (`version << 32 | slot key`), fixed for its life: a
    /// downgrade is this one load.
    pub(crate) handle: NonZeroU64,
    pub(crate) slot: &'static Slot,
}

impl Meta {
    /// The object's slot index.
    #[inline]
    pub(crate) fn idx(&self) -> u32 {
        table::idx_of(self.handle.get() as u32)
    }
}

// Freeing a header's storage without dropping it (`storage::dealloc`) skips nothing.
const _: () = assert!(!mem::needs_drop::<Meta>());
// A header's address is its `strong`'s (`hooks::LazyPin` reads life through it): `Header` and
// `Meta` are `repr(C)` with these fields first, whatever `T`.
const _: () = assert!(mem::offset_of!(Meta, strong) == 0);
const _: () = assert!(mem::offset_of!(Header<u8>, meta) == 0);
const _: () = assert!(mem::offset_of!(Header<[u64; 4]>, meta) == 0);

/// The heap allocation of an object: bookkeeping first, the value last (so that a later
/// unsizing cast to `Header<dyn Trait>` stays possible).
#[repr(C)]
pub(crate) struct Header<T> {
    pub(crate) meta: Meta,
    pub(crate) value: ManuallyDrop<T>,
}

/// The `DEAD` bit of `Header::state`; pins count in units of `PIN`.
pub(crate) const DEAD: u32 = 1;
/// One pin in `Header::state`.
pub(crate) const PIN: u32 = 2;

/// A strong, counted handle to an object (Python: a reference to an object).
///
/// The object dies when its last `Obj` is dropped: every [`Weak`] and `WeakRef` to it reads
/// dead from that instant, then the value is dropped, then the callbacks run (newest first), then
/// its slot is freed for reuse. (A pinned storage, see `hooks::StoragePin`, defers the value's
/// drop to the last pin.)
///
/// This is the generic type behind `weakref_core::unsync::Obj` and `weakref_core::sync::Obj`;
/// use those names.
///
/// ```
/// use weakref_core::unsync::Obj;
///
/// let a = Obj::new(String::from("x"));
/// let b = a.clone();
/// assert_eq!(Obj::strong_count(&a), 2);
/// assert!(Obj::ptr_eq(&a, &b));
/// assert_eq!(&*a, "x");
/// ```
pub struct Obj<T: 'static, F: Flavor> {
    ptr: NonNull<Header<T>>,
    _marker: PhantomData<(T, F, *const ())>,
}

/// Variance and auto traits of `Weak`: covariant in `T`, owns no `T`, `!Send` by default.
type WeakMarker<T, F> = (fn() -> T, F, *const ());

/// A weak handle: just `(slot, version)`, 8 bytes and `Copy`.
///
/// It keeps neither the object nor its storage alive, carries no callback and is not counted by
/// `getweakrefcount`. A stale handle never upgrades to a later occupant of its slot.
///
/// ```
/// use weakref_core::unsync::{Obj, Weak};
///
/// let obj = Obj::new(5);
/// let weak: Weak<i32> = Obj::downgrade(&obj);
/// assert_eq!(weak.upgrade().as_deref(), Some(&5));
/// drop(obj);
/// assert!(weak.upgrade().is_none());
/// assert_eq!(std::mem::size_of::<Weak<i32>>(), 8);
/// ```
pub struct Weak<T: 'static, F: Flavor> {
    /// `version << 32 | slot key` (`table::key_of` the slot index): one load gives both, and
    /// the version part is already the slot word an upgrade looks for (a non-zero version makes
    /// the whole non-zero).
    bits: NonZeroU64,
    _marker: PhantomData<WeakMarker<T, F>>,
}

// SAFETY: a sync `Obj` hands out `&T` on any thread (needs `T: Sync`) and may drop `T` on any
// thread (needs `T: Send`); its counts are changed with atomic read-modify-writes only.
unsafe impl<T: Send + Sync> Send for Obj<T, flavor::SyncFlavor> {}
// SAFETY: as for `Send`: sharing an `Obj` only gives `&T` and clones.
unsafe impl<T: Send + Sync> Sync for Obj<T, flavor::SyncFlavor> {}
// SAFETY: a sync `Weak` is two integers; what it can produce is a sync `Obj`, which is
// `Send + Sync` under the same bounds.
unsafe impl<T: Send + Sync> Send for Weak<T, flavor::SyncFlavor> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send + Sync> Sync for Weak<T, flavor::SyncFlavor> {}

impl<T: 'static, F: Flavor> Obj<T, F> {
    /// Creates an object holding `value`.
    ///
    /// ```
    /// use weakref_core::sync::Obj;
    /// let obj = Obj::new(vec![1, 2, 3]);
    /// assert_eq!(obj.len(), 3);
    /// ```
    pub fn new(value: T) -> Self {
        let new_slot = table::alloc_slot();
        Self::publish(new_slot, value)
    }

    /// Puts `value` in the slot just allocated and makes the object alive with one strong count.
    fn publish(new_slot: table::NewSlot, value: T) -> Self {
        let ptr = storage::alloc::<Header<T>>();
        // SAFETY: fresh, uninitialized storage for one `Header<T>`, owned by nobody else.
        unsafe {
            ptr.as_ptr().write(Header {
                meta: Meta {
                    strong: AtomicU32::new(1),
                    state: AtomicU32::new(0),
                    handle: Weak::<T, F>::from_parts(new_slot.idx, new_slot.version).bits,
                    slot: new_slot.slot,
                },
                value: ManuallyDrop::new(value),
            });
        }
        new_slot
            .slot
            .ptr
            .store(ptr.as_ptr().cast::<u8>(), Ordering::Relaxed);
        new_slot
            .slot
            .word
            .store(word::pack(new_slot.version, 1), Ordering::Release);
        Obj {
            ptr,
            _marker: PhantomData,
        }
    }

    /// Creates an object that can refer to itself: `f` receives the object's future [`Weak`]
    /// (as `Rc::new_cyclic`). During `f` the handle does not upgrade yet; if `f` panics, the
    /// slot is given back and that handle never upgrades.
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, Weak};
    ///
    /// struct Node { me: Weak<Node> }
    /// let node = Obj::new_cyclic(|me| {
    ///     assert!(me.upgrade().is_none());
    ///     Node { me: *me }
    /// });
    /// assert!(Obj::ptr_eq(&node.me.upgrade().unwrap(), &node));
    /// ```
    pub fn new_cyclic(f: impl FnOnce(&Weak<T, F>) -> T) -> Self {
        /// Gives the reserved slot back if `f` panics.
        struct Reservation {
            idx: u32,
            slot: &'static Slot,
        }
        impl Drop for Reservation {
            fn drop(&mut self) {
                table::free_slot(self.idx, self.slot);
            }
        }

        let new_slot = table::alloc_slot();
        // The count stays 0 during `f`: upgrades refuse.
        new_slot
            .slot
            .word
            .store(word::pack(new_slot.version, 0), Ordering::Release);
        let reservation = Reservation {
            idx: new_slot.idx,
            slot: new_slot.slot,
        };
        let weak = Weak::from_parts(new_slot.idx, new_slot.version);
        let value = f(&weak);
        mem::forget(reservation);
        Self::publish(new_slot, value)
    }

    /// The bookkeeping of this object.
    #[inline]
    pub(crate) fn meta(&self) -> &Meta {
        &self.header().meta
    }

    /// The header of this object.
    #[inline]
    pub(crate) fn header(&self) -> &Header<T> {
        // SAFETY: the header lives while any strong reference does, and `self` is one.
        unsafe { self.ptr.as_ref() }
    }

    /// The raw header pointer (for the death machinery and pins).
    pub(crate) fn header_ptr(this: &Self) -> NonNull<Header<T>> {
        this.ptr
    }

    /// Gives up this strong reference without dropping it (the count is handed over).
    pub(crate) fn into_header_ptr(this: Self) -> NonNull<Header<T>> {
        let ptr = this.ptr;
        mem::forget(this);
        ptr
    }

    /// Takes over one strong reference already counted in the slot.
    ///
    /// # Safety
    /// `ptr` must be the header of a live object of type `T` and flavour `F`, and the caller must
    /// own one strong count of it that it hands to the new `Obj`.
    pub(crate) unsafe fn from_header_ptr(ptr: NonNull<Header<T>>) -> Self {
        Obj {
            ptr,
            _marker: PhantomData,
        }
    }

    /// A [`Weak`] handle to this object (writes nothing: a plain load).
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// let obj = Obj::new(1);
    /// let weak = Obj::downgrade(&obj);
    /// assert!(weak.is_alive());
    /// ```
    #[inline]
    pub fn downgrade(this: &Self) -> Weak<T, F> {
        Weak {
            bits: this.meta().handle,
            _marker: PhantomData,
        }
    }

    /// How many `Obj`s to this object exist.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// let obj = Obj::new(1);
    /// assert_eq!(Obj::strong_count(&obj), 1);
    /// ```
    pub fn strong_count(this: &Self) -> usize {
        flavor::strong_count_of::<F>(this.meta())
    }

    /// The address of the value.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// let obj = Obj::new(7);
    /// assert_eq!(unsafe { *Obj::as_ptr(&obj) }, 7);
    /// ```
    pub fn as_ptr(this: &Self) -> *const T {
        // SAFETY: `this.ptr` points to a live header; `addr_of!` makes no reference.
        // `ManuallyDrop<T>` is `repr(transparent)`, so the cast keeps the address and type.
        unsafe { ptr::addr_of!((*this.ptr.as_ptr()).value).cast::<T>() }
    }

    /// Whether two handles name the same object.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// let a = Obj::new(1);
    /// let b = Obj::new(1);
    /// assert!(!Obj::ptr_eq(&a, &b));
    /// assert!(Obj::ptr_eq(&a, &a.clone()));
    /// ```
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    /// The value back, when this is the only strong reference and no proxy pins the storage.
    /// The object then counts as dead: weak refs read `None`, callbacks run. Otherwise
    /// `Err(this)` and nothing changes.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// let obj = Obj::new(String::from("v"));
    /// let weak = Obj::downgrade(&obj);
    /// assert_eq!(Obj::try_unwrap(obj).unwrap(), "v");
    /// assert!(!weak.is_alive());
    /// ```
    pub fn try_unwrap(this: Self) -> Result<T, Self> {
        let meta = this.meta();
        let slot = meta.slot;
        // In `sync`, pins are added under the slot's lock shard (`StoragePin::new`): holding it
        // across the check and the kill means no pin can slip in between.
        let guard = F::SYNC.then(|| lock(table::table().lock_for(meta.idx())));
        if meta.state.load(Ordering::Acquire) >= PIN || !flavor::try_kill::<F>(meta) {
            drop(guard);
            return Err(this);
        }
        drop(guard);
        // The instant of death has passed: no pin can be added any more (pins need an upgrade).
        let ptr = Obj::into_header_ptr(this);
        // SAFETY: we held the only strong reference and no pin, so nobody else reads the value;
        // we move it out and free the header without dropping the value again.
        let value = unsafe {
            let value = ManuallyDrop::into_inner(ptr::read(&(*ptr.as_ptr()).value));
            let idx = (*ptr.as_ptr()).meta.idx();
            storage::dealloc(ptr);
            death::die_without_value::<T, F>(idx, slot);
            value
        };
        Ok(value)
    }
}

impl<T: 'static, F: Flavor> Clone for Obj<T, F> {
    /// One more strong reference.
    #[inline]
    fn clone(&self) -> Self {
        flavor::add_strong::<F>(self.meta());
        Obj {
            ptr: self.ptr,
            _marker: PhantomData,
        }
    }
}

impl<T: 'static, F: Flavor> Drop for Obj<T, F> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self` is a strong reference to a live object, given up here.
        if unsafe { flavor::sub_strong::<F>(self.ptr.cast::<Meta>()) } {
            // SAFETY: that was the last strong reference: the object is dead and this thread
            // owns the rest of its death.
            unsafe { death::die::<T, F>(self.ptr) };
        }
    }
}

impl<T: 'static, F: Flavor> Deref for Obj<T, F> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.header().value
    }
}

impl<T: 'static, F: Flavor> AsRef<T> for Obj<T, F> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: 'static, F: Flavor> Borrow<T> for Obj<T, F> {
    fn borrow(&self) -> &T {
        self
    }
}

impl<T: 'static, F: Flavor> From<T> for Obj<T, F> {
    fn from(value: T) -> Self {
        Obj::new(value)
    }
}

impl<T: Default + 'static, F: Flavor> Default for Obj<T, F> {
    fn default() -> Self {
        Obj::new(T::default())
    }
}

impl<T: 'static, F: Flavor> fmt::Pointer for Obj<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Pointer::fmt(&Obj::as_ptr(self), f)
    }
}

impl<T: fmt::Debug + 'static, F: Flavor> fmt::Debug for Obj<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display + 'static, F: Flavor> fmt::Display for Obj<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: PartialEq + 'static, F: Flavor> PartialEq for Obj<T, F> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Eq + 'static, F: Flavor> Eq for Obj<T, F> {}

impl<T: PartialOrd + 'static, F: Flavor> PartialOrd for Obj<T, F> {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: Ord + 'static, F: Flavor> Ord for Obj<T, F> {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (**self).cmp(&**other)
    }
}

impl<T: Hash + 'static, F: Flavor> Hash for Obj<T, F> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl<T: 'static, F: Flavor> Weak<T, F> {
    /// A handle that never upgrades. All such handles are equal to each other and to no
    /// handle of an object.
    ///
    /// ```
    /// use weakref_core::unsync::Weak;
    /// let weak: Weak<u8> = Weak::new();
    /// assert!(weak.upgrade().is_none());
    /// assert_eq!(weak, Weak::default());
    /// ```
    pub const fn new() -> Self {
        Weak {
            bits: match NonZeroU64::new(word::pack(1, table::key_of(NULL_SLOT) as u64)) {
                Some(bits) => bits,
                None => unreachable!(),
            },
            _marker: PhantomData,
        }
    }

    pub(crate) fn from_parts(idx: u32, version: u32) -> Self {
        Weak {
            bits: NonZeroU64::new(word::pack(version, u64::from(table::key_of(idx))))
                .filter(|_| version != 0)
                .expect("live slots have non-zero versions"),
            _marker: PhantomData,
        }
    }

    /// The slot index of this handle (`NULL_SLOT` for `Weak::new()`).
    #[inline]
    pub(crate) fn idx(&self) -> u32 {
        table::idx_of(self.key())
    }

    /// The key of this handle's slot (`table::key_of` its index).
    #[inline]
    fn key(&self) -> u32 {
        self.bits.get() as u32
    }

    /// The version of this handle.
    #[inline]
    pub(crate) fn version(&self) -> u32 {
        word::version(self.bits.get())
    }

    /// The slot of this handle (for `Weak::new()`, the null slot, which reads dead forever).
    #[inline]
    pub(crate) fn slot(&self) -> &'static Slot {
        // SAFETY: the key is `NULL_SLOT`'s or that of a slot the table handed out
        // (`from_parts` is only given those).
        unsafe { table::table().slot_by_key(self.key()) }
    }

    /// A strong handle, if the object is still alive.
    ///
    /// ```
    /// use weakref_core::sync::Obj;
    /// let obj = Obj::new(3);
    /// let weak = Obj::downgrade(&obj);
    /// assert_eq!(*weak.upgrade().unwrap(), 3);
    /// ```
    #[inline]
    pub fn upgrade(&self) -> Option<Obj<T, F>> {
        let meta = flavor::try_upgrade::<F>(self.slot(), self.version())?;
        // SAFETY: the upgrade added a strong count to the live object of this version, whose
        // header starts with `meta`; handles of one version always name one object of type `T`
        // and flavour `F`.
        Some(unsafe { Obj::from_header_ptr(meta.cast::<Header<T>>()) })
    }

    /// Whether the object is still alive.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// let obj = Obj::new(());
    /// let weak = Obj::downgrade(&obj);
    /// drop(obj);
    /// assert!(!weak.is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        self.strong_count() > 0
    }

    /// How many `Obj`s to the object exist; 0 once it is dead.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// let obj = Obj::new(());
    /// assert_eq!(Obj::downgrade(&obj).strong_count(), 1);
    /// ```
    pub fn strong_count(&self) -> usize {
        flavor::weak_strong_count::<F>(self.slot(), self.version())
    }

    /// The address of the value if the object is alive, without touching the value.
    pub(crate) fn value_addr(&self) -> Option<usize> {
        let slot = self.slot();
        if !self.is_alive() {
            return None;
        }
        let header = slot.ptr.load(Ordering::Relaxed);
        if header.is_null() {
            return None;
        }
        Some(header as usize + mem::offset_of!(Header<T>, value))
    }
}

impl<T: 'static, F: Flavor> Clone for Weak<T, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: 'static, F: Flavor> Copy for Weak<T, F> {}

impl<T: 'static, F: Flavor> Default for Weak<T, F> {
    fn default() -> Self {
        Weak::new()
    }
}

impl<T: 'static, F: Flavor> From<&Obj<T, F>> for Weak<T, F> {
    fn from(obj: &Obj<T, F>) -> Self {
        Obj::downgrade(obj)
    }
}

impl<T: 'static, F: Flavor> PartialEq for Weak<T, F> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl<T: 'static, F: Flavor> Eq for Weak<T, F> {}

impl<T: 'static, F: Flavor> PartialOrd for Weak<T, F> {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl<T: 'static, F: Flavor> Ord for Weak<T, F> {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (self.key(), self.version()).cmp(&(other.key(), other.version()))
    }
}

impl<T: 'static, F: Flavor> Hash for Weak<T, F> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.bits.get());
    }
}

impl<T: 'static, F: Flavor> fmt::Debug for Weak<T, F> {
    /// Shows the handle and whether its object is alive; never touches `T`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.idx() == NULL_SLOT {
            return f.write_str("(Weak)");
        }
        f.debug_struct("Weak")
            .field("slot", &self.idx())
            .field("version", &self.version())
            .field("alive", &self.is_alive())
            .finish()
    }
}

/// Drops the value of a dead object unless a proxy pins its storage, and frees the header when
/// the value is dropped. Returns the panic of `T`'s `Drop`, if any.
///
/// # Safety
/// `header` is the header of an object of type `T` whose death this thread processes (step 2);
/// it is called once per object.
pub(crate) unsafe fn release_value<T: 'static, F: Flavor>(
    header: NonNull<Header<T>>,
) -> Option<death::Payload> {
    // SAFETY: the header stays allocated until its value is dropped, which only this call or
    // the last unpin does, decided by the `DEAD` bit below.
    let state = unsafe { &header.as_ref().meta.state };
    // No strong reference is left, so no pin can be added any more (a pin needs one): when the
    // state reads unpinned, nobody else will ever touch it and the value can go at once.
    let prev = if state.load(Ordering::Acquire) == 0 {
        0
    } else {
        flavor::state_add::<F>(state, DEAD)
    };
    if prev >= PIN {
        // The last pinning handle drops the value.
        return None;
    }
    // SAFETY: dead and unpinned: nobody else can reach the value any more.
    unsafe { destroy(header) }
}

/// Drops the value and frees the header, returning the panic of `T`'s `Drop`, if any.
///
/// # Safety
/// The object is dead and no pin remains; this runs once per object.
pub(crate) unsafe fn destroy<T: 'static>(header: NonNull<Header<T>>) -> Option<death::Payload> {
    let raw = header.as_ptr();
    if !mem::needs_drop::<T>() {
        // SAFETY: as below; there is no `Drop` to run.
        unsafe { storage::dealloc(header) };
        return None;
    }
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller guarantees exclusive access to a value not dropped before.
        unsafe { ManuallyDrop::drop(&mut (*raw).value) }
    }));
    // SAFETY: the header came from `storage::alloc` in `Obj::publish`; its value is dropped
    // (or being unwound from) and the rest of the header has no `Drop`.
    unsafe { storage::dealloc(header) };
    result.err()
}
