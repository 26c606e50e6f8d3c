//! Python's `weakref.proxy` for Rust: a transparent proxy that raises `ReferenceError` after death, soundly.
//!
//! | Python | Rust (`unsync` and `sync`) |
//! |---|---|
//! | `weakref.proxy(obj)` | [`Proxy::new`](generic::Proxy::new) |
//! | `weakref.proxy(obj, callback)` | [`Proxy::with_callback`](unsync::Proxy::with_callback) |
//! | `p.attr`, `p.method()` | `p.attr`, `p.method()` through [`Deref`](std::ops::Deref) (panics after death) |
//! | `p.attr` caught with `try:` | [`p.try_get()`](generic::Proxy::try_get), [`p.with(…)`](generic::Proxy::with) |
//! | `p(args)` | [`p.call(args)`](generic::Proxy::call) |
//! | `weakref.ProxyType` | [`ProxyType<T>`](unsync::ProxyType) |
//! | `weakref.CallableProxyType` | [`CallableProxyType<T>`](unsync::CallableProxyType) (a proxy is callable when `T: Fn`) |
//! | `weakref.ProxyTypes` | no value counterpart: a tuple of types for `isinstance`; Rust knows the type statically |
//! | `ReferenceError` | [`ReferenceError`] (from `weakref_core`) |
//!
//! ```
//! use weakref_proxy::unsync::Proxy;
//! use weakref_core::unsync::Obj;
//!
//! struct Account { owner: String }
//! impl Account { fn greeting(&self) -> String { format!("hello, {}", self.owner) } }
//!
//! let obj = Obj::new(Account { owner: "ada".into() });
//! let p = Proxy::new(&obj);
//! assert_eq!(p.owner, "ada"); // attribute access, as Python's `p.owner`
//! assert_eq!(p.greeting(), "hello, ada");
//! drop(p);
//! drop(obj);
//! ```
//!
//! After the object died, [`try_get`](generic::Proxy::try_get), [`with`](generic::Proxy::with)
//! and [`call`](generic::Proxy::call) return `Err(ReferenceError)`, and every use through `Deref`
//! (also `Display`, `==`, `<`) panics with Python's message,
//! `weakly-referenced object no longer exists`.
//!
//! # Pinning: when `T` is dropped
//! A `&T` obtained through `Deref` has no end the proxy can see, so the first successful `Deref`
//! through a proxy handle **pins** the object's storage until that handle is dropped. The object
//! still dies on time: weak refs read dead, `try_get` fails and callbacks run when its last
//! `Obj` goes. Only `T`'s `Drop` waits: it runs when the last pinning handle is dropped, on the
//! thread that drops it, and a borrow taken before the death stays valid until then.
//!
//! So code that dereferences a proxy delays `T`'s `Drop` until that handle is dropped;
//! [`try_get`](generic::Proxy::try_get) and [`with`](generic::Proxy::with) never pin, and pins
//! are per handle: a `Clone`, like every handle `Proxy::new` returns, starts unpinned. Prefer
//! `with` for short-lived access where the timing of `Drop` matters (files, locks), and drop
//! pinning handles promptly. [`Obj::try_unwrap`](weakref_core::generic::Obj::try_unwrap)
//! refuses while the storage is pinned.
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use weakref_proxy::unsync::Proxy;
//! use weakref_core::unsync::Obj;
//!
//! struct Noisy(Rc<Cell<bool>>);
//! impl Drop for Noisy { fn drop(&mut self) { self.0.set(true) } }
//!
//! let dropped = Rc::new(Cell::new(false));
//! let obj = Obj::new(Noisy(Rc::clone(&dropped)));
//! let p = Proxy::new(&obj);
//! let borrowed: &Noisy = &p; // pins the storage through `p`
//! drop(obj);
//! assert!(!p.is_alive() && p.try_get().is_err()); // the object is dead...
//! assert!(!borrowed.0.get()); // ...but the borrow is still valid
//! drop(p);
//! assert!(dropped.get()); // `T` dropped with the pinning handle
//! ```

#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod flavours;
mod proxy;

pub use flavours::{sync, unsync};
#[doc(no_inline)]
pub use weakref_core::ReferenceError;

pub mod generic {
    //! The proxy type behind both flavours, generic over a
    //! [`Flavor`](weakref_core::flavor::Flavor). Name it through `weakref_proxy::unsync` and
    //! `weakref_proxy::sync`.

    #[doc(inline)]
    pub use crate::proxy::Proxy;
}
