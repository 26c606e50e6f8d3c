//! Sizes and auto traits: `sync` collections are `Send + Sync`, `unsync` ones are neither.

use static_assertions::{assert_impl_all, assert_not_impl_any};

use weakref_collections::{sync, unsync};

assert_impl_all!(sync::WeakValueMap<String, u32>: Send, Sync);
assert_impl_all!(sync::WeakKeyMap<u32, String>: Send, Sync);
assert_impl_all!(sync::WeakSet<u32>: Send, Sync);
assert_not_impl_any!(unsync::WeakValueMap<String, u32>: Send, Sync);
assert_not_impl_any!(unsync::WeakKeyMap<u32, String>: Send, Sync);
assert_not_impl_any!(unsync::WeakSet<u32>: Send, Sync);
assert_not_impl_any!(sync::WeakSet<std::cell::Cell<u32>>: Sync);

#[test]
fn static_checks_compile() {}
