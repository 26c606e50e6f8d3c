//! The thread-safe flavour, like `Arc`: [`WeakValueMap`], [`WeakKeyMap`] and [`WeakSet`] over
//! `weakref_core::sync` objects, with `&self` methods and sharded locks. A collection is
//! `Send + Sync` when its type parameters are `Send + Sync`.
//!
//! No lock is held while a `Drop`, a death callback or a closure argument (`get_or_insert_with`'s
//! `f`, `retain`'s `f`) runs. `Hash`, `Eq` and `Clone` of keys and values may run under a shard
//! lock and must not use the same collection (that is documented misuse and deadlocks).
//!
//! ```
//! use weakref_collections::sync::WeakSet;
//! use weakref_core::sync::Obj;
//! fn needs_send_sync<X: Send + Sync>(_: &X) {}
//! let set = WeakSet::<u8>::new();
//! needs_send_sync(&set);
//! let member = Obj::new(1u8);
//! std::thread::scope(|s| {
//!     s.spawn(|| set.insert(&member));
//! });
//! assert!(set.contains(&member));
//! ```

mod table;
pub mod weak_key_map;
pub mod weak_set;
pub mod weak_value_map;

#[doc(inline)]
pub use weak_key_map::WeakKeyMap;
#[doc(inline)]
pub use weak_set::WeakSet;
#[doc(inline)]
pub use weak_value_map::WeakValueMap;
