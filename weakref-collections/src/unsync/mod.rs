//! The single-thread flavour, like `Rc`: [`WeakValueMap`], [`WeakKeyMap`] and [`WeakSet`] over
//! `weakref_core::unsync` objects. Every type here is `!Send` and `!Sync`.
//!
//! ```compile_fail
//! fn needs_send<X: Send>(_: X) {}
//! needs_send(weakref_collections::unsync::WeakSet::<u8>::new());
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
