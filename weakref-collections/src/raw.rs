//! The table both flavours are built on: entries in a `Vec`, indexed by a `HashTable` of
//! positions (the layout of `indexmap`).
//!
//! Every collection is a map from a hashed key `H` to an owned value `O` and one weakly held
//! object `W`, whose death hook the entry owns. In `WeakValueMap` the key is an owned `K`, the
//! value is `()` and `W` is the value; in `WeakKeyMap` and `WeakSet` the key is the object `W`
//! itself, identified by its `Weak`, so `H` is `()` and lookups compare the entry's `weak`.
//! The flavours differ only in how a death reaches the table.
//!
//! A lookup is one probe of the index and one read of the entry. A removal swaps the last entry
//! into the hole, so positions move: a position is valid only until the next removal. A death
//! hook names its entry by hash only: the hook itself finds its exact entry by comparing hook
//! handles, and a purge removes one dead entry of that hash per recorded death.

use std::fmt;
use std::hash::{BuildHasher, Hash};

#[cfg(not(weakref_loom))]
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use weakref_core::flavor::Flavor;
use weakref_core::generic::{Weak, WeakRef};

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

/// Entries in a dense `Vec` (fast iteration, O(1) removal by swapping), indexed by their hash.
pub(crate) struct RawTable<H, O, W: 'static, F: Flavor> {
    entries: Vec<Entry<H, O, W, F>>,
    /// Positions in `entries` (4 bytes each, so that the index stays in cache).
    index: HashTable<u32>,
}

impl<H, O, W: 'static, F: Flavor> RawTable<H, O, W, F> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        RawTable {
            entries: Vec::with_capacity(capacity),
            index: HashTable::with_capacity(capacity),
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every entry, live or dead, in position order.
    #[inline]
    pub(crate) fn entries(&self) -> &[Entry<H, O, W, F>] {
        &self.entries
    }

    /// The entry at `pos`.
    #[inline]
    pub(crate) fn get(&self, pos: usize) -> &Entry<H, O, W, F> {
        &self.entries[pos]
    }

    /// The entry at `pos`, mutably.
    #[inline]
    pub(crate) fn get_mut(&mut self, pos: usize) -> &mut Entry<H, O, W, F> {
        &mut self.entries[pos]
    }

    /// The position of the entry with `hash` for which `eq` holds.
    #[inline]
    pub(crate) fn find_by(
        &self,
        hash: u64,
        mut eq: impl FnMut(&Entry<H, O, W, F>) -> bool,
    ) -> Option<usize> {
        let entries = &self.entries[..];
        let pos = self.index.find(hash, |&pos| eq(&entries[pos as usize]))?;
        Some(*pos as usize)
    }

    /// The position of the entry with `hash` whose hashed key satisfies `eq`.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(&H) -> bool) -> Option<usize> {
        self.find_by(hash, |entry| eq(&entry.key))
    }

    /// The position of the entry with `hash` that holds `weak` (for tables keyed by identity).
    #[inline]
    pub(crate) fn find_weak(&self, hash: u64, weak: Weak<W, F>) -> Option<usize> {
        self.find_by(hash, |entry| entry.weak == weak)
    }

    /// Inserts `entry` (the caller made sure no equal key is present); returns its position.
    pub(crate) fn insert(&mut self, entry: Entry<H, O, W, F>) -> usize {
        let pos = self.entries.len();
        let index_pos = u32::try_from(pos).expect("more than u32::MAX entries");
        let hash = entry.hash;
        self.entries.push(entry);
        let entries = &self.entries[..];
        self.index
            .insert_unique(hash, index_pos, |&p| entries[p as usize].hash);
        pos
    }

    /// Removes the entry at `pos`; the last entry moves to `pos`.
    pub(crate) fn remove(&mut self, pos: usize) -> Entry<H, O, W, F> {
        let hash = self.entries[pos].hash;
        // Positions fit in `u32`: `insert` checked it.
        let (index_pos, last) = (pos as u32, (self.entries.len() - 1) as u32);
        if let Ok(found) = self.index.find_entry(hash, |&p| p == index_pos) {
            found.remove();
        }
        if index_pos != last {
            let last_hash = self.entries[last as usize].hash;
            if let Some(moved) = self.index.find_mut(last_hash, |&p| p == last) {
                *moved = index_pos;
            }
        }
        self.entries.swap_remove(pos)
    }

    /// Removes every entry.
    pub(crate) fn drain(&mut self) -> Vec<Entry<H, O, W, F>> {
        self.index.clear();
        std::mem::take(&mut self.entries)
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
