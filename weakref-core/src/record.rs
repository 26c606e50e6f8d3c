//! Ref records (Python's ref objects) and `WeakRef<T>`.
//!
//! Every `WeakRef`, proxy, finalizer and collection death hook is a [`Record`] in its object's
//! record list, which hangs off the object's slot (null for objects that have none) and is read
//! and written under the slot's lock shard. A record's handles are counted; when the last handle
//! goes while the object is alive, the record is unlinked and its callback will not run. At the
//! instant of death the whole list is taken out of the slot: from then on it belongs to the
//! thread completing the death, which runs every callback in it.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use crate::death::drop_payload;
use crate::flavor::{self, word, Flavor, SendIfSync};
use crate::obj::{Obj, Weak};
use crate::primitive::{lock, AtomicUsize, Mutex, Ordering};
use crate::table::{self, Slot};
use crate::typename::short_type_name;
use crate::unraisable::{self, Unraisable};

/// What a record is: decides how it is counted, listed, printed and when its callback runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// A `WeakRef` (also inside a `WeakMethod`): counted by `getweakrefcount`, listed by
    /// `getweakrefs`, printed `<weakref at …>`.
    WeakRef,
    /// A proxy: counted, not listed, printed `<weakproxy at …>`.
    Proxy,
    /// A finalizer: neither counted nor listed, printed `<finalize object at …>`.
    Finalizer,
    /// An internal death hook (collections): neither counted nor listed; its callback runs at
    /// the instant of death (step 1), before the value is dropped, and must run no user code.
    DeathHook,
}

impl RecordKind {
    fn python_name(self) -> &'static str {
        match self {
            RecordKind::WeakRef => "weakref",
            RecordKind::Proxy => "weakproxy",
            RecordKind::Finalizer => "finalize object",
            RecordKind::DeathHook => "death hook",
        }
    }

    fn counted(self) -> bool {
        matches!(self, RecordKind::WeakRef | RecordKind::Proxy)
    }
}

/// A boxed callback of a record. Sync constructors only accept `Send` callbacks (see
/// [`SendIfSync`]); the box forgets that, and the `Send` impls of the handles restore it.
pub(crate) type Callback<T, F> = Box<dyn FnOnce(&WeakRef<T, F>)>;

/// One ref object.
pub(crate) struct Record<T: 'static, F: Flavor> {
    target: Weak<T, F>,
    kind: RecordKind,
    /// Live `WeakRef` handles to this record.
    handles: AtomicUsize,
    callback: Mutex<Option<Callback<T, F>>>,
    callback_name: &'static str,
    hash: Mutex<Option<u64>>,
}

/// The records of one object.
struct RecordList<T: 'static, F: Flavor> {
    shared_ref: Option<Arc<Record<T, F>>>,
    shared_proxy: Option<Arc<Record<T, F>>>,
    /// Every other record, oldest first.
    others: Vec<Arc<Record<T, F>>>,
}

impl<T: 'static, F: Flavor> RecordList<T, F> {
    fn new() -> Self {
        RecordList {
            shared_ref: None,
            shared_proxy: None,
            others: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.shared_ref.is_none() && self.shared_proxy.is_none() && self.others.is_empty()
    }

    fn remove(&mut self, rec: &Arc<Record<T, F>>) -> Option<Arc<Record<T, F>>> {
        for shared in [&mut self.shared_ref, &mut self.shared_proxy] {
            if shared.as_ref().is_some_and(|s| Arc::ptr_eq(s, rec)) {
                return shared.take();
            }
        }
        let pos = self.others.iter().position(|r| Arc::ptr_eq(r, rec))?;
        Some(self.others.remove(pos))
    }
}

/// Python's `weakref.ref` object: a weak reference that may carry a callback.
///
/// Callback-less refs to one object are shared: `WeakRef::new` twice gives the same ref object.
/// This is the generic type behind `weakref_core::unsync::WeakRef` and
/// `weakref_core::sync::WeakRef`; use those names.
///
/// ```
/// use weakref_core::unsync::{Obj, WeakRef};
///
/// let obj = Obj::new(String::from("data"));
/// let r = WeakRef::new(&obj);
/// assert_eq!(r.get().as_deref().map(String::as_str), Some("data"));
/// assert!(WeakRef::ptr_eq(&r, &WeakRef::new(&obj)));
/// drop(obj);
/// assert!(r.get().is_none());
/// ```
pub struct WeakRef<T: 'static, F: Flavor> {
    rec: Arc<Record<T, F>>,
    _marker: PhantomData<*const ()>,
}

// SAFETY: sync records are only created with `Send` callbacks (`SendIfSync<SyncFlavor>`), their
// mutable parts are behind locks and atomics, and what a handle yields is a sync `Obj`.
unsafe impl<T: Send + Sync> Send for WeakRef<T, flavor::SyncFlavor> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send + Sync> Sync for WeakRef<T, flavor::SyncFlavor> {}

impl<T: 'static, F: Flavor> WeakRef<T, F> {
    fn from_record(rec: Arc<Record<T, F>>) -> Self {
        WeakRef {
            rec,
            _marker: PhantomData,
        }
    }

    /// A callback-less ref to `obj`: the object's shared one, created on first use.
    ///
    /// ```
    /// use weakref_core::unsync::{getweakrefcount, Obj, WeakRef};
    /// let obj = Obj::new(1);
    /// let a = WeakRef::new(&obj);
    /// let b = WeakRef::new(&obj);
    /// assert!(WeakRef::ptr_eq(&a, &b));
    /// assert_eq!(getweakrefcount(&obj), 1);
    /// ```
    pub fn new(obj: &Obj<T, F>) -> Self {
        shared(obj, RecordKind::WeakRef)
    }

    /// A new ref to `obj` whose `callback` runs once when the object dies, receiving this (then
    /// dead) ref, provided the ref still exists at that instant. Never shared.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use weakref_core::unsync::{Obj, WeakRef};
    ///
    /// let ran = Rc::new(Cell::new(false));
    /// let obj = Obj::new(1);
    /// let r = WeakRef::with_callback(&obj, {
    ///     let ran = Rc::clone(&ran);
    ///     move |r| { assert!(r.get().is_none()); ran.set(true) }
    /// });
    /// drop(obj);
    /// assert!(ran.get());
    /// assert!(!r.has_callback());
    /// ```
    #[must_use = "the callback runs only while this WeakRef exists: dropping it cancels the callback \
                  (weakref_finalize::finalize is the fire-and-forget way)"]
    pub fn with_callback<C>(obj: &Obj<T, F>, callback: C) -> Self
    where
        C: FnOnce(&WeakRef<T, F>) + SendIfSync<F> + 'static,
    {
        register(
            obj,
            RecordKind::WeakRef,
            Some(Box::new(callback)),
            std::any::type_name::<C>(),
        )
    }

    /// The object, if alive (Python `r()`).
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakRef};
    /// let obj = Obj::new(2);
    /// assert_eq!(*WeakRef::new(&obj).get().unwrap(), 2);
    /// ```
    pub fn get(&self) -> Option<Obj<T, F>> {
        self.rec.target.upgrade()
    }

    /// The object, if alive: the std-style name of [`WeakRef::get`].
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakRef};
    /// let obj = Obj::new(2);
    /// assert!(WeakRef::new(&obj).upgrade().is_some());
    /// ```
    pub fn upgrade(&self) -> Option<Obj<T, F>> {
        self.get()
    }

    /// Whether the object is alive.
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakRef};
    /// let obj = Obj::new(2);
    /// let r = WeakRef::new(&obj);
    /// drop(obj);
    /// assert!(!r.is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        self.rec.target.is_alive()
    }

    /// The raw [`Weak`] handle to the object.
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakRef};
    /// let obj = Obj::new(2);
    /// assert_eq!(WeakRef::new(&obj).downgrade(), Obj::downgrade(&obj));
    /// ```
    pub fn downgrade(&self) -> Weak<T, F> {
        self.rec.target
    }

    /// Whether a callback is still pending (Python's `__callback__ is not None`): false once it
    /// ran or the object died.
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakRef};
    /// let obj = Obj::new(2);
    /// assert!(!WeakRef::new(&obj).has_callback());
    /// let r = WeakRef::with_callback(&obj, |_| {});
    /// assert!(r.has_callback());
    /// ```
    pub fn has_callback(&self) -> bool {
        self.is_alive() && lock(&self.rec.callback).is_some()
    }

    /// Whether two handles are the same ref object.
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakRef};
    /// let obj = Obj::new(2);
    /// let a = WeakRef::with_callback(&obj, |_| {});
    /// assert!(WeakRef::ptr_eq(&a, &a.clone()));
    /// assert!(!WeakRef::ptr_eq(&a, &WeakRef::new(&obj)));
    /// ```
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.rec, &b.rec)
    }

    /// What kind of record this handle is (for the crates built on core).
    pub fn kind(&self) -> RecordKind {
        self.rec.kind
    }

    /// The address of the ref object (shown by `Debug`).
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.rec) as usize
    }
}

impl<T: Hash + 'static, F: Flavor> WeakRef<T, F> {
    /// Python's `hash(r)`, made deterministic: `T`'s hash under `DefaultHasher::new()`, computed
    /// on first use while the object is alive and kept after its death; `None` when the ref was
    /// never hashed before its referent died.
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakRef};
    /// let obj = Obj::new(7u8);
    /// let r = WeakRef::new(&obj);
    /// let h = r.try_hash().unwrap();
    /// drop(obj);
    /// assert_eq!(r.try_hash(), Some(h));
    /// ```
    pub fn try_hash(&self) -> Option<u64> {
        if let Some(hash) = *lock(&self.rec.hash) {
            return Some(hash);
        }
        let obj = self.get()?;
        // `T::hash` is user code: it runs with no lock held.
        let mut hasher = DefaultHasher::new();
        (*obj).hash(&mut hasher);
        let computed = hasher.finish();
        let kept = *lock(&self.rec.hash).get_or_insert(computed);
        drop(obj);
        Some(kept)
    }
}

impl<T: 'static, F: Flavor> Clone for WeakRef<T, F> {
    /// The same ref object.
    fn clone(&self) -> Self {
        self.rec.handles.fetch_add(1, Ordering::Relaxed);
        WeakRef::from_record(Arc::clone(&self.rec))
    }
}

impl<T: 'static, F: Flavor> Drop for WeakRef<T, F> {
    fn drop(&mut self) {
        if self.rec.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            unlink(&self.rec);
        }
    }
}

impl<T: PartialEq + 'static, F: Flavor> PartialEq for WeakRef<T, F> {
    /// As Python: both alive, the referents' equality; otherwise the ref objects' identity.
    fn eq(&self, other: &Self) -> bool {
        match (self.get(), other.get()) {
            (Some(a), Some(b)) => *a == *b,
            _ => WeakRef::ptr_eq(self, other),
        }
    }
}

impl<T: Eq + 'static, F: Flavor> Eq for WeakRef<T, F> {}

impl<T: Hash + 'static, F: Flavor> Hash for WeakRef<T, F> {
    /// Writes [`WeakRef::try_hash`] with `write_u64`.
    ///
    /// # Panics
    /// With `weak object has gone away` when the ref was never hashed before its referent died.
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.try_hash() {
            Some(hash) => state.write_u64(hash),
            None => panic!("weak object has gone away"),
        }
    }
}

impl<T: 'static, F: Flavor> fmt::Debug for WeakRef<T, F> {
    /// `<weakref at 0x…; to 'TypeName' at 0x…>`, or `<weakref at 0x…; dead>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(self, f)
    }
}

/// Python's `repr` of a record: `<weakref at 0x…; to 'T' at 0x…>` / `<weakref at 0x…; dead>`,
/// with the kind's name (`weakproxy`, `finalize object`, …) and `for` instead of `to` for
/// finalizers.
pub(crate) fn describe<T: 'static, F: Flavor>(
    handle: &WeakRef<T, F>,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    let kind = handle.rec.kind;
    write!(f, "<{} at {:#x}; ", kind.python_name(), handle.addr())?;
    match handle.rec.target.value_addr() {
        Some(value_addr) => {
            let to = if kind == RecordKind::Finalizer {
                "for"
            } else {
                "to"
            };
            write!(f, "{to} '{}' at {value_addr:#x}>", short_type_name::<T>())
        }
        None => f.write_str("dead>"),
    }
}

/// Runs `f` on the record list of the live object `obj`, creating the list if needed.
fn with_list<T: 'static, F: Flavor, R>(
    obj: &Obj<T, F>,
    f: impl FnOnce(&mut RecordList<T, F>) -> R,
) -> R {
    let meta = obj.meta();
    let _guard = lock(table::table().lock_for(meta.idx()));
    let slot = meta.slot;
    let mut list_ptr = slot
        .records
        .load(Ordering::Relaxed)
        .cast::<RecordList<T, F>>();
    if list_ptr.is_null() {
        list_ptr = Box::into_raw(Box::new(RecordList::<T, F>::new()));
        slot.records.store(list_ptr.cast::<()>(), Ordering::Release);
    }
    // SAFETY: we hold the slot's lock shard and a strong reference, so the list belongs to this
    // object (type `T`, flavour `F`) and nobody else touches it until we unlock.
    f(unsafe { &mut *list_ptr })
}

/// Reads the record list of the live object `obj`, if it has one.
fn read_list<T: 'static, F: Flavor, R>(
    obj: &Obj<T, F>,
    f: impl FnOnce(&RecordList<T, F>) -> R,
) -> Option<R> {
    let meta = obj.meta();
    let _guard = lock(table::table().lock_for(meta.idx()));
    let list_ptr = meta
        .slot
        .records
        .load(Ordering::Relaxed)
        .cast::<RecordList<T, F>>();
    // SAFETY: as in `with_list`: locked, and the object is alive.
    unsafe { list_ptr.as_ref() }.map(f)
}

/// Registers a new, unshared record of `kind` on the live object `obj`.
pub(crate) fn register<T: 'static, F: Flavor>(
    obj: &Obj<T, F>,
    kind: RecordKind,
    callback: Option<Callback<T, F>>,
    callback_name: &'static str,
) -> WeakRef<T, F> {
    let rec = Arc::new(Record {
        target: Obj::downgrade(obj),
        kind,
        handles: AtomicUsize::new(1),
        callback: Mutex::new(callback),
        callback_name,
        hash: Mutex::new(None),
    });
    with_list(obj, |list| list.others.push(Arc::clone(&rec)));
    WeakRef::from_record(rec)
}

/// Adds a handle to `rec` unless its last handle is already gone (it is being unlinked).
fn try_add_handle<T: 'static, F: Flavor>(rec: &Arc<Record<T, F>>) -> Option<WeakRef<T, F>> {
    let mut handles = rec.handles.load(Ordering::Relaxed);
    loop {
        if handles == 0 {
            return None;
        }
        match rec.handles.compare_exchange_weak(
            handles,
            handles + 1,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Some(WeakRef::from_record(Arc::clone(rec))),
            Err(actual) => handles = actual,
        }
    }
}

/// The shared callback-less record of `kind` (`WeakRef` or `Proxy`) of the live object `obj`.
pub(crate) fn shared<T: 'static, F: Flavor>(obj: &Obj<T, F>, kind: RecordKind) -> WeakRef<T, F> {
    let (handle, replaced) = with_list(obj, |list| {
        let slot = match kind {
            RecordKind::Proxy => &mut list.shared_proxy,
            _ => &mut list.shared_ref,
        };
        if let Some(handle) = slot.as_ref().and_then(try_add_handle) {
            return (handle, None);
        }
        let rec = Arc::new(Record {
            target: Obj::downgrade(obj),
            kind,
            handles: AtomicUsize::new(1),
            callback: Mutex::new(None),
            callback_name: "",
            hash: Mutex::new(None),
        });
        let replaced = slot.replace(Arc::clone(&rec));
        (WeakRef::from_record(rec), replaced)
    });
    // A replaced record (its last handle is being dropped) is released with no lock held.
    drop(replaced);
    handle
}

/// Unlinks `rec` from its object's list after its last handle went, if the object is alive.
/// If the object is dead, the death owns the list and runs the callback.
fn unlink<T: 'static, F: Flavor>(rec: &Arc<Record<T, F>>) {
    let target = rec.target;
    let slot = target.slot();
    let (removed, emptied) = {
        let _guard = lock(table::table().lock_for(target.idx()));
        let current = slot.word.load(Ordering::Acquire);
        if word::version(current) != target.version() || word::count(current) == 0 {
            return;
        }
        let list_ptr = slot
            .records
            .load(Ordering::Relaxed)
            .cast::<RecordList<T, F>>();
        if list_ptr.is_null() {
            return;
        }
        // SAFETY: locked, and the object named by `target` is alive, so the list is its list
        // (type `T`, flavour `F`).
        let list = unsafe { &mut *list_ptr };
        let removed = list.remove(rec);
        let emptied = if list.is_empty() {
            slot.records.store(ptr::null_mut(), Ordering::Release);
            // SAFETY: the list came from `Box::into_raw` in `with_list` and is now detached.
            Some(unsafe { Box::from_raw(list_ptr) })
        } else {
            None
        };
        (removed, emptied)
    };
    // Dropping a record drops its callback, which is user code: no lock is held here.
    drop(removed);
    drop(emptied);
}

/// Step 1: takes the record list of the object that just died and runs its death hooks.
/// Returns the list (type-erased) or null.
#[inline]
pub(crate) fn take_at_death<T: 'static, F: Flavor>(idx: u32, slot: &Slot) -> *mut () {
    if slot.records.load(Ordering::Acquire).is_null() {
        return ptr::null_mut();
    }
    take_records::<T, F>(idx, slot)
}

#[cold]
fn take_records<T: 'static, F: Flavor>(idx: u32, slot: &Slot) -> *mut () {
    let list_ptr = {
        let _guard = lock(table::table().lock_for(idx));
        slot.records.swap(ptr::null_mut(), Ordering::AcqRel)
    };
    // SAFETY: the list is detached from the slot: this thread owns it now.
    if let Some(list) = unsafe { list_ptr.cast::<RecordList<T, F>>().as_ref() } {
        for rec in list.others.iter().rev() {
            if rec.kind == RecordKind::DeathHook {
                run_callback(rec);
            }
        }
    }
    list_ptr
}

/// Step 3: runs the callbacks of a list taken at death, newest registered first.
///
/// # Safety
/// `list_ptr` came from `take_at_death::<T, F>` and is consumed here.
pub(crate) unsafe fn run_callbacks<T: 'static, F: Flavor>(list_ptr: *mut ()) {
    // SAFETY: the caller passes the list `take_at_death` detached, exactly once.
    let list = unsafe { Box::from_raw(list_ptr.cast::<RecordList<T, F>>()) };
    for rec in list.others.iter().rev() {
        if rec.kind != RecordKind::DeathHook {
            run_callback(rec);
        }
    }
}

/// Runs `rec`'s callback, if any, with a handle to `rec`; a panic goes to the unraisable hook.
fn run_callback<T: 'static, F: Flavor>(rec: &Arc<Record<T, F>>) {
    let Some(callback) = lock(&rec.callback).take() else {
        return;
    };
    rec.handles.fetch_add(1, Ordering::Relaxed);
    let handle = WeakRef::from_record(Arc::clone(rec));
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| callback(&handle))) {
        unraisable::report(&Unraisable {
            object: format!("{handle:?}"),
            callback: rec.callback_name,
            message: unraisable::payload_message(&*payload),
        });
        drop_payload(payload);
    }
    drop(handle);
}

/// Python's `getweakrefcount`: live `WeakRef`s and proxies to `obj`.
pub(crate) fn weakref_count<T: 'static, F: Flavor>(obj: &Obj<T, F>) -> usize {
    read_list(obj, |list| {
        let live = |rec: &&Arc<Record<T, F>>| {
            rec.kind.counted() && rec.handles.load(Ordering::Relaxed) > 0
        };
        list.shared_ref.iter().filter(live).count()
            + list.shared_proxy.iter().filter(live).count()
            + list.others.iter().filter(live).count()
    })
    .unwrap_or(0)
}

/// Python's `getweakrefs`: the shared callback-less ref first, then the rest newest first.
pub(crate) fn weakrefs<T: 'static, F: Flavor>(obj: &Obj<T, F>) -> Vec<WeakRef<T, F>> {
    read_list(obj, |list| {
        list.shared_ref
            .iter()
            .chain(list.others.iter().rev())
            .filter(|rec| rec.kind == RecordKind::WeakRef)
            .filter_map(try_add_handle)
            .collect()
    })
    .unwrap_or_default()
}
