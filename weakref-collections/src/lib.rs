//! Python's `WeakKeyDictionary`, `WeakValueDictionary` and `WeakSet` for Rust: exact, prompt
//! and iteration-safe, in a single-thread ([`unsync`]) and a thread-safe ([`sync`]) flavour.
//!
//! | Python | Rust (`unsync` and `sync`) |
//! |---|---|
//! | `weakref.WeakValueDictionary` | [`WeakValueMap<K, V>`](unsync::WeakValueMap) |
//! | `weakref.WeakKeyDictionary` | [`WeakKeyMap<K, V>`](unsync::WeakKeyMap) |
//! | `weakref.WeakSet` | [`WeakSet<T>`](unsync::WeakSet) |
//! | `d.setdefault(k, v)` | `get_or_insert_with(k, f)` |
//! | `d.popitem()`, `s.pop()` | `pop_item()`, `pop()` |
//! | `d.valuerefs()`, `d.keyrefs()` | `valuerefs()`, `keyrefs()` |
//! | `copy(d)` | `clone()` |
//!
//! ```
//! use weakref_collections::unsync::WeakValueMap;
//! use weakref_core::unsync::Obj;
//!
//! let mut cache = WeakValueMap::new();
//! let strong = Obj::new(String::from("expensive"));
//! cache.insert(1, &strong);
//! assert_eq!(cache.len(), 1);
//! drop(strong); // the only strong reference
//! assert_eq!(cache.len(), 0); // gone at once
//! ```
//!
//! # Semantics
//! - Keys of `WeakKeyMap` and members of `WeakSet` are objects identified by identity
//!   (`Obj::ptr_eq`), hashed by their `Weak` handle: `K` and `T` need neither `Hash` nor `Eq`.
//!   Identity lookups take anything that names an object (`AsWeak`: `Obj`, `Weak`, `WeakRef`,
//!   `Proxy`); a dead handle simply misses.
//! - An entry whose weak side died is gone at once for every observer (`get`, `contains*`,
//!   `len` — exact and O(1) — and iteration). Its owned side (`K` of a `WeakValueMap`, `V` of a
//!   `WeakKeyMap`) is dropped no later than the next call of a method that may change the
//!   collection, or `purge()`, including owned sides that die because of that drop: a tree of
//!   entries collapses in one `purge()`. The cost is amortized O(1) per dead entry.
//! - A stale death never removes a newer entry; `remove` and replacement unregister the old
//!   entry's death hook. Dropping a collection unregisters every hook it registered; the
//!   collection never keeps an object alive, and its hooks never keep the collection alive.
//! - Iteration yields strong `Obj`s; entries that die during iteration are skipped. `sync`
//!   iteration walks a snapshot taken by `iter()`.
//!
//! # How it works
//! Entries live in a `hashbrown::HashTable`, so a lookup is one probe that reads them in place.
//! Each entry registers an internal death hook on its weak side's object (core's
//! [`hooks`](weakref_core::hooks) extension point); core runs it at the instant of death,
//! before the value is dropped. The hook holds the collection only weakly, records "an entry of
//! this hash died" and takes the entry out of `len`. Mutating calls remove one dead entry of
//! each recorded hash, so a stale record (its entry removed or revived since) removes nothing
//! it should not. The `sync` flavour has 16 shards, each behind a small spin-then-yield lock.

#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

#[cfg(not(weakref_loom))]
mod lock;
mod primitive;
mod raw;
pub mod sync;
pub mod unsync;
