//! `Proxy<T, F>`: Python's `weakref.proxy`, written once for both flavours.

use std::cmp::Ordering;
use std::fmt;
use std::ops::Deref;

use weakref_core::flavor::Flavor;
use weakref_core::generic::{Obj, WeakRef};
use weakref_core::hooks::{self, LazyPin, RecordKind};
use weakref_core::ReferenceError;

/// Python's `weakref.proxy`: use it as the object through [`Deref`]; after the object died,
/// dereferencing panics with `weakly-referenced object no longer exists` and the fallible
/// methods return `Err(ReferenceError)`.
///
/// Callback-less proxies to one object are shared: [`Proxy::new`] twice gives the same proxy
/// object ([`Proxy::ptr_eq`] is true, `getweakrefcount` counts it once). The first `Deref`
/// through a handle pins the object's storage until that handle is dropped, so the `&T` it
/// gives can never dangle; see [the crate docs](crate#pinning-when-t-is-dropped).
///
/// This is the generic type behind `weakref_proxy::unsync::Proxy` and
/// `weakref_proxy::sync::Proxy`; use those names.
///
/// ```
/// use weakref_core::unsync::Obj;
/// use weakref_proxy::unsync::Proxy;
///
/// let obj = Obj::new(vec![1, 2, 3]);
/// let p = Proxy::new(&obj);
/// assert_eq!(p.len(), 3);
/// assert!(Proxy::ptr_eq(&p, &Proxy::new(&obj)));
/// drop(obj);
/// assert!(p.try_get().is_err());
/// ```
///
/// Python proxies are unhashable, and so is `Proxy`:
///
/// ```compile_fail
/// use weakref_core::unsync::Obj;
/// use weakref_proxy::unsync::Proxy;
/// fn needs_hash<X: std::hash::Hash>(_: &X) {}
/// let obj = Obj::new(1);
/// needs_hash(&Proxy::new(&obj)); // `Proxy<i32>` is not `Hash`
/// ```
pub struct Proxy<T: 'static, F: Flavor> {
    /// The proxy object: a record of kind [`RecordKind::Proxy`], shared by every clone.
    record: WeakRef<T, F>,
    /// This handle's pin, taken by its first `Deref` and released when the handle is dropped.
    pin: LazyPin<T, F>,
}

impl<T: 'static, F: Flavor> Proxy<T, F> {
    /// A new, unpinned handle to the proxy object `record`.
    pub(crate) fn from_record(record: WeakRef<T, F>) -> Self {
        let pin = LazyPin::new(&record.downgrade());
        Proxy { record, pin }
    }

    /// A callback-less proxy to `obj`: the object's shared one, created on first use
    /// (Python's `weakref.proxy(obj)`). The handle starts unpinned.
    ///
    /// ```
    /// use weakref_core::unsync::{getweakrefcount, Obj};
    /// use weakref_proxy::unsync::Proxy;
    /// let obj = Obj::new(String::from("x"));
    /// let a = Proxy::new(&obj);
    /// let b = Proxy::new(&obj);
    /// assert!(Proxy::ptr_eq(&a, &b));
    /// assert_eq!(getweakrefcount(&obj), 1);
    /// ```
    pub fn new(obj: &Obj<T, F>) -> Self {
        Proxy::from_record(hooks::shared(obj, RecordKind::Proxy))
    }

    /// The object, if alive: the fallible way in. The returned `Obj` keeps the object alive
    /// while it exists; this never pins the storage.
    ///
    /// # Errors
    /// [`ReferenceError`] once the object is dead.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_core::ReferenceError;
    /// use weakref_proxy::unsync::Proxy;
    /// let obj = Obj::new(5);
    /// let p = Proxy::new(&obj);
    /// assert_eq!(*p.try_get().unwrap(), 5);
    /// drop(obj);
    /// assert_eq!(p.try_get().unwrap_err(), ReferenceError);
    /// ```
    pub fn try_get(&self) -> Result<Obj<T, F>, ReferenceError> {
        self.record.get().ok_or(ReferenceError)
    }

    /// Python's per-operation access: runs `f` on the object, holding a strong reference only
    /// while `f` runs. Never pins the storage.
    ///
    /// # Errors
    /// [`ReferenceError`] once the object is dead (`f` does not run).
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_core::ReferenceError;
    /// use weakref_proxy::unsync::Proxy;
    /// let obj = Obj::new(String::from("abc"));
    /// let p = Proxy::new(&obj);
    /// assert_eq!(p.with(|s| s.len()), Ok(3));
    /// drop(obj);
    /// assert_eq!(p.with(|s| s.len()), Err(ReferenceError));
    /// ```
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Result<R, ReferenceError> {
        let obj = self.try_get()?;
        Ok(f(&obj))
    }

    /// Whether the object is alive.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_proxy::unsync::Proxy;
    /// let obj = Obj::new(1);
    /// let p = Proxy::new(&obj);
    /// assert!(p.is_alive());
    /// drop(obj);
    /// assert!(!p.is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        self.record.is_alive()
    }

    /// Whether two handles are the same proxy object (pins are per handle and play no part).
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_proxy::unsync::Proxy;
    /// let obj = Obj::new(1);
    /// let shared = Proxy::new(&obj);
    /// let own = Proxy::with_callback(&obj, |_| {});
    /// assert!(Proxy::ptr_eq(&shared, &shared.clone()));
    /// assert!(!Proxy::ptr_eq(&shared, &own));
    /// ```
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        WeakRef::ptr_eq(&a.record, &b.record)
    }

    /// Python's `p(args)` for a callable referent (`CallableProxyType`): calls the object with
    /// `args`, holding a strong reference only during the call. Never pins the storage.
    /// Stable Rust cannot be generic over arity: pass several arguments as a tuple.
    ///
    /// # Errors
    /// [`ReferenceError`] once the object is dead.
    ///
    /// ```
    /// use weakref_core::unsync::Obj;
    /// use weakref_core::ReferenceError;
    /// use weakref_proxy::unsync::CallableProxyType;
    /// use weakref_proxy::unsync::Proxy;
    /// let add = Obj::new(|(a, b): (i32, i32)| a + b);
    /// let p: CallableProxyType<_> = Proxy::new(&add);
    /// assert_eq!(p.call((2, 3)), Ok(5));
    /// drop(add);
    /// assert_eq!(p.call((2, 3)), Err(ReferenceError));
    /// ```
    pub fn call<A, R>(&self, args: A) -> Result<R, ReferenceError>
    where
        T: Fn(A) -> R,
    {
        self.with(|callable| callable(args))
    }

    /// The proxy object's record (for `AsWeak`).
    pub(crate) fn record(&self) -> &WeakRef<T, F> {
        &self.record
    }
}

/// Panics the way Python raises `ReferenceError` from a dead proxy.
#[cold]
#[inline(never)]
#[track_caller]
fn dead() -> ! {
    panic!("{}", ReferenceError)
}

impl<T: 'static, F: Flavor> Deref for Proxy<T, F> {
    type Target = T;

    /// The object. The first call through this handle pins the object's storage until the
    /// handle is dropped, so the returned `&T` stays valid even if the object dies meanwhile.
    ///
    /// # Panics
    /// With `weakly-referenced object no longer exists` once the object is dead (even through a
    /// handle pinned before the death: only borrows taken before it stay valid).
    #[track_caller]
    #[inline]
    fn deref(&self) -> &T {
        match self.pin.get() {
            // The pinned handle's fast path: the pin and the header's life word, no slot read.
            Some(value) => value,
            None => self.deref_slow(),
        }
    }
}

impl<T: 'static, F: Flavor> Proxy<T, F> {
    /// `Deref` of a handle not pinned yet, or of a dead object: pins, or panics.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn deref_slow(&self) -> &T {
        // The strong reference proves the object alive while the pin is counted, so its death
        // (which may come as soon as `obj` is dropped) sees the pin and leaves `T` in place.
        let Some(obj) = self.record.get() else { dead() };
        let value = self.pin.pin(&obj);
        drop(obj);
        value
    }
}

impl<T: 'static, F: Flavor> Clone for Proxy<T, F> {
    /// The same proxy object, as a new handle that starts unpinned.
    fn clone(&self) -> Self {
        Proxy::from_record(self.record.clone())
    }
}

impl<T: fmt::Display + 'static, F: Flavor> fmt::Display for Proxy<T, F> {
    /// Forwards to `T` (through `Deref`, so it pins).
    ///
    /// # Panics
    /// With `weakly-referenced object no longer exists` once the object is dead.
    #[track_caller]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: 'static, F: Flavor> fmt::Debug for Proxy<T, F> {
    /// `<weakproxy at 0x…; to 'TypeName' at 0x…>`, or `<weakproxy at 0x…; dead>`; never
    /// touches `T` and never pins.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hooks::describe(&self.record, f)
    }
}

impl<T: PartialEq + 'static, F: Flavor> PartialEq for Proxy<T, F> {
    /// Forwards to `T` (through `Deref`, so it pins both handles).
    ///
    /// # Panics
    /// With `weakly-referenced object no longer exists` if either object is dead.
    #[track_caller]
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: PartialOrd + 'static, F: Flavor> PartialOrd for Proxy<T, F> {
    /// Forwards to `T` (through `Deref`, so it pins both handles).
    ///
    /// # Panics
    /// With `weakly-referenced object no longer exists` if either object is dead.
    #[track_caller]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (**self).partial_cmp(&**other)
    }
}
