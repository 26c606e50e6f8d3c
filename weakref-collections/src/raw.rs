//! The table both flavours are built on: entries in a `Vec`, indexed by a `HashTable` of
//! positions (the layout of `indexmap`).
//!
//! Every collection is a map from a hashed key `H` (an owned `K` in `WeakValueMap`, the key's
//! `Weak<K>` in `WeakKeyMap` and `WeakSet`) to an owned value `O` (nothing in `WeakValueMap`)
//! and one weakly held object `W` (the value of a `WeakValueMap`, the key of the others), whose
//! death hook the entry owns. The flavours differ only in how a death reaches the table.
//!
//! A lookup is one probe of the index and one read of the entry. A removal swaps the last entry
//! into the hole, so positions move: a position is valid only until the next removal, and
//! death hooks name their entry by a [`Tag`] instead (its hash and a per-table unique id).

use std::fmt;
use std::hash::{BuildHasher, Hash};

#[cfg(not(weakref_loom))]
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use weakref_core::flavor::Flavor;
use weakref_core::generic::{Weak, WeakRef};

/// What core's unraisable report names if a death hook ever panicked.
pub(crate) const HOOK_NAME: &str = "weakref_collections death hook";

/// How a death hook names its entry: the entry's hash and an id no other entry of the table
/// ever had. A stale tag (its entry removed, or given another object and hook since) matches
/// nothing, so a stale death never reaches a newer entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Tag {
    pub(crate) hash: u64,
    id: u64,
}

/// One entry: the hashed key, the owned value, the weak side and its death hook.
pub(crate) struct Entry<H, O, W: 'static, F: Flavor> {
    pub(crate) hash: u64,
    /// The id of this entry's current hook (see [`Tag`]).
    id: u64,
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
    /// Positions in `entries`.
    index: HashTable<usize>,
    /// The id of the next tag.
    next_id: u64,
}

impl<H, O, W: 'static, F: Flavor> RawTable<H, O, W, F> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        RawTable {
            entries: Vec::with_capacity(capacity),
            index: HashTable::with_capacity(capacity),
            next_id: 0,
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

    /// The position of the entry with `hash` whose hashed key satisfies `eq`.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(&H) -> bool) -> Option<usize> {
        let entries = &self.entries[..];
        self.index.find(hash, |&pos| eq(&entries[pos].key)).copied()
    }

    /// The position of the entry `tag` names, unless the tag is stale.
    pub(crate) fn find_tag(&self, tag: Tag) -> Option<usize> {
        let entries = &self.entries[..];
        self.index
            .find(tag.hash, |&pos| entries[pos].id == tag.id)
            .copied()
    }

    /// A tag no entry has had yet, for an entry of `hash`.
    pub(crate) fn new_tag(&mut self, hash: u64) -> Tag {
        let id = self.next_id;
        self.next_id += 1;
        Tag { hash, id }
    }

    /// Gives the entry at `pos` the id of `tag` (a new tag of its hash, for its new hook).
    pub(crate) fn retag(&mut self, pos: usize, tag: Tag) {
        let entry = &mut self.entries[pos];
        debug_assert_eq!(entry.hash, tag.hash);
        entry.id = tag.id;
    }

    /// Inserts the entry built by `make` from the new entry's tag (the caller made sure no equal
    /// key is present); returns its position.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        make: impl FnOnce(Tag) -> NewEntry<H, O, W, F>,
    ) -> usize {
        let tag = self.new_tag(hash);
        let NewEntry {
            key,
            val,
            weak,
            hook,
        } = make(tag);
        let pos = self.entries.len();
        self.entries.push(Entry {
            hash,
            id: tag.id,
            key,
            val,
            weak,
            hook,
            dead: false,
        });
        let entries = &self.entries[..];
        self.index.insert_unique(hash, pos, |&p| entries[p].hash);
        pos
    }

    /// Removes the entry at `pos`; the last entry moves to `pos`.
    pub(crate) fn remove(&mut self, pos: usize) -> Entry<H, O, W, F> {
        let hash = self.entries[pos].hash;
        if let Ok(found) = self.index.find_entry(hash, |&p| p == pos) {
            found.remove();
        }
        let last = self.entries.len() - 1;
        if pos != last {
            let last_hash = self.entries[last].hash;
            if let Some(moved) = self.index.find_mut(last_hash, |&p| p == last) {
                *moved = pos;
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

/// The parts of a new entry that its maker provides (see [`RawTable::insert`]).
pub(crate) struct NewEntry<H, O, W: 'static, F: Flavor> {
    pub(crate) key: H,
    pub(crate) val: O,
    pub(crate) weak: Weak<W, F>,
    pub(crate) hook: WeakRef<W, F>,
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
