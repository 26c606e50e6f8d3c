//! Compile-time checks: aliases, trait impls, and `Send`/`Sync` of both flavours.

use std::cell::Cell;
use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::ops::Deref;
use std::rc::Rc;

use static_assertions::{assert_impl_all, assert_not_impl_any, assert_type_eq_all};
use weakref_proxy::{sync, unsync};

assert_type_eq_all!(unsync::ProxyType<String>, unsync::Proxy<String>);
assert_type_eq_all!(unsync::CallableProxyType<String>, unsync::Proxy<String>);
assert_type_eq_all!(sync::ProxyType<String>, sync::Proxy<String>);
assert_type_eq_all!(sync::CallableProxyType<String>, sync::Proxy<String>);
assert_type_eq_all!(weakref_proxy::ReferenceError, weakref_core::ReferenceError);

// The same trait surface in both flavours.
assert_impl_all!(unsync::Proxy<String>: Clone, Deref<Target = String>, Display, Debug, PartialEq,
    PartialOrd, weakref_core::unsync::AsWeak<String>);
assert_impl_all!(sync::Proxy<String>: Clone, Deref<Target = String>, Display, Debug, PartialEq,
    PartialOrd, weakref_core::sync::AsWeak<String>);

// Python proxies are unhashable.
assert_not_impl_any!(unsync::Proxy<String>: Hash);
assert_not_impl_any!(sync::Proxy<String>: Hash);

// sync proxies are Send + Sync for Send + Sync T...
assert_impl_all!(sync::Proxy<String>: Send, Sync);
assert_impl_all!(sync::Proxy<Vec<u8>>: Send, Sync);
// ...and neither when T could not cross threads (as Arc).
assert_not_impl_any!(sync::Proxy<Rc<u8>>: Send, Sync);
assert_not_impl_any!(sync::Proxy<Cell<u8>>: Send, Sync);

// unsync proxies are !Send and !Sync whatever T is.
assert_not_impl_any!(unsync::Proxy<String>: Send, Sync);
assert_not_impl_any!(unsync::Proxy<u8>: Send, Sync);
