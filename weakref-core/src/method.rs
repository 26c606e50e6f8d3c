//! `WeakMethod<T, M>`: Python's `weakref.WeakMethod`, a weak receiver plus a method.

use std::fmt;

use crate::flavor::{Flavor, SendIfSync};
use crate::obj::Obj;
use crate::record::{self, RecordKind, WeakRef};

/// A weak receiver plus a method `M` (any `Copy + 'static` function value, usually a method
/// path or a function pointer type).
///
/// Each `WeakMethod` holds its own, unshared [`WeakRef`], counted and listed like any other.
/// [`WeakMethod::call`] covers methods of one argument; other arities go through
/// [`WeakMethod::get`], or through an adapting closure stored as `M`
/// (`|t: &T, (a, b): (u32, u32)| t.resize(a, b)`).
///
/// This is the generic type behind `weakref_core::unsync::WeakMethod` and
/// `weakref_core::sync::WeakMethod`; use those names.
///
/// ```
/// use weakref_core::unsync::{Obj, WeakMethod};
///
/// struct Panel { name: &'static str }
/// struct Event(u32);
/// impl Panel {
///     fn on_event(&self, event: &Event) -> String { format!("{} got {}", self.name, event.0) }
/// }
///
/// let panel = Obj::new(Panel { name: "left" });
/// let handler = WeakMethod::<Panel, fn(&Panel, &Event) -> String>::new(&panel, Panel::on_event);
/// assert_eq!(handler.call(&Event(1)).as_deref(), Some("left got 1"));
/// drop(panel);
/// assert_eq!(handler.call(&Event(2)), None);
/// ```
pub struct WeakMethod<T: 'static, M: Copy + 'static, F: Flavor> {
    weakref: WeakRef<T, F>,
    method: M,
}

impl<T: 'static, M: Copy + 'static, F: Flavor> WeakMethod<T, M, F> {
    /// A weak method of the receiver `obj`.
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakMethod};
    /// let obj = Obj::new(2);
    /// let m = WeakMethod::new(&obj, |x: &i32, y: i32| x * y);
    /// assert_eq!(m.call(21), Some(42));
    /// ```
    pub fn new(obj: &Obj<T, F>, method: M) -> Self {
        WeakMethod {
            weakref: record::register(obj, RecordKind::WeakRef, None, ""),
            method,
        }
    }

    /// A weak method whose `callback` runs once when the receiver dies, receiving this
    /// `WeakMethod`, provided it still exists at that instant.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use weakref_core::unsync::{Obj, WeakMethod};
    /// let died = Rc::new(Cell::new(false));
    /// let obj = Obj::new(2);
    /// let m = WeakMethod::with_callback(&obj, |x: &i32, ()| *x, {
    ///     let died = Rc::clone(&died);
    ///     move |m| { assert!(!m.is_alive()); died.set(true) }
    /// });
    /// drop(obj);
    /// assert!(died.get());
    /// # drop(m);
    /// ```
    #[must_use = "the callback runs only while this WeakMethod exists: dropping it cancels the \
                  callback (weakref_finalize::finalize is the fire-and-forget way)"]
    pub fn with_callback<C>(obj: &Obj<T, F>, method: M, callback: C) -> Self
    where
        C: FnOnce(&WeakMethod<T, M, F>) + SendIfSync<F> + 'static,
        M: SendIfSync<F>,
    {
        let on_death = move |weakref: &WeakRef<T, F>| {
            callback(&WeakMethod {
                weakref: weakref.clone(),
                method,
            })
        };
        WeakMethod {
            weakref: record::register(
                obj,
                RecordKind::WeakRef,
                Some(Box::new(on_death)),
                std::any::type_name::<C>(),
            ),
            method,
        }
    }

    /// The bound method (Python's `wm()`): the receiver, kept alive by the returned `Obj`, and
    /// the method; `None` once the receiver died.
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakMethod};
    /// let obj = Obj::new(String::from("hi"));
    /// let m = WeakMethod::new(&obj, String::len as fn(&String) -> usize);
    /// let (receiver, method) = m.get().unwrap();
    /// assert_eq!(method(&receiver), 2);
    /// ```
    pub fn get(&self) -> Option<(Obj<T, F>, M)> {
        self.weakref.get().map(|obj| (obj, self.method))
    }

    /// Whether the receiver is alive.
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakMethod};
    /// let obj = Obj::new(1);
    /// let m = WeakMethod::new(&obj, |x: &i32, ()| *x);
    /// drop(obj);
    /// assert!(!m.is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        self.weakref.is_alive()
    }

    /// `get` and call in one step, for methods of one argument.
    ///
    /// ```
    /// use weakref_core::unsync::{Obj, WeakMethod};
    /// let obj = Obj::new(10);
    /// let m = WeakMethod::new(&obj, |x: &i32, y: i32| x + y);
    /// assert_eq!(m.call(5), Some(15));
    /// ```
    pub fn call<A, R>(&self, arg: A) -> Option<R>
    where
        M: Fn(&T, A) -> R,
    {
        let (receiver, method) = self.get()?;
        Some(method(&receiver, arg))
    }

    /// The ref this method holds.
    ///
    /// ```
    /// use weakref_core::unsync::{getweakrefs, Obj, WeakMethod, WeakRef};
    /// let obj = Obj::new(1);
    /// let m = WeakMethod::new(&obj, |x: &i32, ()| *x);
    /// assert!(WeakRef::ptr_eq(m.weakref(), &getweakrefs(&obj)[0]));
    /// ```
    pub fn weakref(&self) -> &WeakRef<T, F> {
        &self.weakref
    }
}

impl<T: 'static, M: Copy + 'static, F: Flavor> Clone for WeakMethod<T, M, F> {
    /// The same ref.
    fn clone(&self) -> Self {
        WeakMethod {
            weakref: self.weakref.clone(),
            method: self.method,
        }
    }
}

impl<T: 'static, M: Copy + 'static, F: Flavor> fmt::Debug for WeakMethod<T, M, F> {
    /// The `Debug` of the ref it holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.weakref, f)
    }
}
