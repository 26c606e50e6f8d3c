//! The table both flavours are built on: entries in a `DenseSlotMap`, indexed by a `HashTable`.
//!
//! Every collection is a map from a hashed key `H` (an owned `K` in `WeakValueMap`, the key's
//! `Weak<K>` in `WeakKeyMap` and `WeakSet`) to an owned value `O` (nothing in `WeakValueMap`)
//! and one weakly held object `W` (the value of a `WeakValueMap`, the key of the others), whose
//! death hook the entry owns. The flavours differ only in how a death reaches the table.

use std::fmt;
use std::hash::{BuildHasher, Hash};

#[cfg(not(weakref_loom))]
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use slotmap::{DefaultKey, DenseSlotMap};
use weakref_core::flavor::Flavor;
use weakref_core::generic::{Weak, WeakRef};

/// The key of an entry in its slot map; versioned, so a stale key never reaches a newer entry.
pub(crate) type EntryKey = DefaultKey;

/// What core's unraisable report names if a death hook ever panicked.
pub(crate) const HOOK_NAME: &str = "weakref_collections death hook";

/// One entry: the hashed key, the owned value, the weak side and its death hook.
pub(crate) struct Entry<H, O, W: 'static, F: Flavor> {
    pub(crate) hash: u64,
    pub(crate) key: H,
    pub(crate) val: O,
    /// The weakly held object (the same as `hook.downgrade()`, kept here for fast lookups).
    pub(crate) weak: Weak<W, F>,
    /// The death hook registered on `weak`'s object; dropping it while the object is alive
    /// unregisters it.
    pub(crate) hook: WeakRef<W, F>,
    /// `sync` only: the death hook marked this entry dead (and took it out of `len`).
    pub(crate) dead: bool,
}

impl<H, O, W: 'static, F: Flavor> Entry<H, O, W, F> {
    /// Drops the death hook first, then the owned parts: dropping an owned part may kill
    /// another entry's object, whose hook must then still be registered (or already gone).
    pub(crate) fn dispose(self) {
        let Entry { key, val, hook, .. } = self;
        drop(hook);
        drop((key, val));
    }
}

/// Disposes of `entries`: every hook first, then every owned part (see [`Entry::dispose`]).
pub(crate) fn dispose_all<H, O, W: 'static, F: Flavor>(entries: Vec<Entry<H, O, W, F>>) {
    let mut owned = Vec::with_capacity(entries.len());
    for Entry { key, val, hook, .. } in entries {
        drop(hook);
        owned.push((key, val));
    }
    drop(owned);
}

/// Entries in a dense slot map (fast iteration, O(1) removal), indexed by their hash.
pub(crate) struct RawTable<E> {
    pub(crate) entries: DenseSlotMap<EntryKey, E>,
    index: HashTable<EntryKey>,
}

/// Anything stored in a [`RawTable`]: it knows its own hash.
pub(crate) trait Hashed {
    fn hash(&self) -> u64;
}

impl<H, O, W: 'static, F: Flavor> Hashed for Entry<H, O, W, F> {
    fn hash(&self) -> u64 {
        self.hash
    }
}

impl<E: Hashed> RawTable<E> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        RawTable {
            entries: DenseSlotMap::with_capacity(capacity),
            index: HashTable::with_capacity(capacity),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The key of the entry with `hash` for which `eq` holds.
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(&E) -> bool) -> Option<EntryKey> {
        let entries = &self.entries;
        self.index.find(hash, |&key| eq(&entries[key])).copied()
    }

    /// Inserts the entry `make` builds from its key (the caller made sure no equal one exists).
    pub(crate) fn insert_with_key(
        &mut self,
        hash: u64,
        make: impl FnOnce(EntryKey) -> E,
    ) -> EntryKey {
        let key = self.entries.insert_with_key(make);
        let entries = &self.entries;
        self.index.insert_unique(hash, key, |&k| entries[k].hash());
        key
    }

    /// Removes the entry at `key`, if present.
    pub(crate) fn remove(&mut self, key: EntryKey) -> Option<E> {
        let hash = self.entries.get(key)?.hash();
        if let Ok(found) = self.index.find_entry(hash, |&k| k == key) {
            found.remove();
        }
        self.entries.remove(key)
    }

    /// Removes every entry.
    pub(crate) fn drain(&mut self) -> Vec<E> {
        self.index.clear();
        self.entries.drain().map(|(_, entry)| entry).collect()
    }
}

/// The hasher of a collection: `hashbrown`'s default (foldhash), seeded per collection. Loom
/// models need determinism, so they use std's `DefaultHasher` with fixed keys instead.
#[derive(Clone, Default)]
pub(crate) struct Hasher(HashBuilder);

#[cfg(not(weakref_loom))]
type HashBuilder = DefaultHashBuilder;
#[cfg(weakref_loom)]
type HashBuilder = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

impl Hasher {
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, value: &Q) -> u64 {
        self.0.hash_one(value)
    }
}

pub(crate) use weakref_core::hooks::short_type_name;

/// Prints an object by identity: `TypeName@0x…` (the value's address).
pub(crate) struct Identity<'a, T: 'static, F: Flavor>(
    pub(crate) &'a weakref_core::generic::Obj<T, F>,
);

impl<T: 'static, F: Flavor> fmt::Debug for Identity<'_, T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addr = weakref_core::generic::Obj::as_ptr(self.0);
        write!(f, "{}@{:p}", short_type_name::<T>(), addr)
    }
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn short_names() {
        assert_eq!(short_type_name::<Vec<String>>(), "Vec<String>");
        assert_eq!(short_type_name::<u8>(), "u8");
        assert_eq!(
            short_type_name::<std::collections::HashMap<u8, Vec<u8>>>(),
            "HashMap<u8, Vec<u8>>"
        );
    }
}
