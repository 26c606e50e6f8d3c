//! Compile-time checks: sizes, aliases, trait impls, and `Send`/`Sync` of both flavours.

use std::borrow::Borrow;
use std::cell::Cell;
use std::error::Error;
use std::fmt::{Debug, Display, Pointer};
use std::hash::Hash;
use std::mem::size_of;
use std::ops::Deref;
use std::rc::Rc;

use static_assertions::{
    assert_impl_all, assert_not_impl_any, assert_type_eq_all, const_assert_eq,
};
use weakref_core::{sync, unsync, ReferenceError, Unraisable};

type Method<T> = fn(&T, u32) -> u32;

const_assert_eq!(size_of::<unsync::Weak<String>>(), 8);
const_assert_eq!(size_of::<Option<unsync::Weak<String>>>(), 8);
const_assert_eq!(size_of::<sync::Weak<String>>(), 8);
const_assert_eq!(size_of::<Option<sync::Weak<String>>>(), 8);
const_assert_eq!(size_of::<sync::Weak<[u64; 512]>>(), 8);

assert_type_eq_all!(unsync::ReferenceType<String>, unsync::WeakRef<String>);
assert_type_eq_all!(sync::ReferenceType<String>, sync::WeakRef<String>);

assert_impl_all!(ReferenceError: Error, Debug, Display, Clone, Copy, PartialEq, Eq, Hash, Default, Send, Sync);
assert_impl_all!(Unraisable: Display);

// The same trait surface in both flavours.
assert_impl_all!(unsync::Obj<String>: Clone, Deref<Target = String>, AsRef<String>, Borrow<String>, From<String>,
    Default, Pointer, Debug, Display, PartialEq, Eq, PartialOrd, Ord, Hash, unsync::AsWeak<String>);
assert_impl_all!(sync::Obj<String>: Clone, Deref<Target = String>, AsRef<String>, Borrow<String>, From<String>,
    Default, Pointer, Debug, Display, PartialEq, Eq, PartialOrd, Ord, Hash, sync::AsWeak<String>);
assert_impl_all!(unsync::Weak<String>: Copy, Clone, Default, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
    unsync::AsWeak<String>);
assert_impl_all!(sync::Weak<String>: Copy, Clone, Default, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
    sync::AsWeak<String>);
assert_impl_all!(unsync::WeakRef<String>: Clone, Debug, PartialEq, Eq, Hash, unsync::AsWeak<String>);
assert_impl_all!(sync::WeakRef<String>: Clone, Debug, PartialEq, Eq, Hash, sync::AsWeak<String>);
assert_impl_all!(unsync::WeakMethod<String, Method<String>>: Clone, Debug);
assert_impl_all!(sync::WeakMethod<String, Method<String>>: Clone, Debug);
assert_impl_all!(unsync::Weak<String>: From<&'static unsync::Obj<String>>);
assert_impl_all!(sync::Weak<String>: From<&'static sync::Obj<String>>);

// sync types are Send + Sync for Send + Sync T.
assert_impl_all!(sync::Obj<String>: Send, Sync);
assert_impl_all!(sync::Weak<String>: Send, Sync);
assert_impl_all!(sync::WeakRef<String>: Send, Sync);
assert_impl_all!(sync::WeakMethod<String, Method<String>>: Send, Sync);

// ...and neither when T could not cross threads (as Arc).
assert_not_impl_any!(sync::Obj<Rc<u8>>: Send, Sync);
assert_not_impl_any!(sync::Obj<Cell<u8>>: Send, Sync);
assert_not_impl_any!(sync::Weak<Rc<u8>>: Send, Sync);
assert_not_impl_any!(sync::WeakRef<Rc<u8>>: Send, Sync);

// unsync types are !Send and !Sync whatever T is.
assert_not_impl_any!(unsync::Obj<String>: Send, Sync);
assert_not_impl_any!(unsync::Weak<String>: Send, Sync);
assert_not_impl_any!(unsync::WeakRef<String>: Send, Sync);
assert_not_impl_any!(unsync::WeakMethod<String, Method<String>>: Send, Sync);
