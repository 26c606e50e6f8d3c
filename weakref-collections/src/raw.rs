//! The table both flavours are built on: entries stored in a `hashbrown::HashTable`.
//!
//! Every collection is a map from a hashed key `H` to an owned value `O` and one weakly held
//! object `W`, whose death hook the entry owns. In `WeakValueMap` the key is an owned `K`, the
//! value is `()` and `W` is the value; in `WeakKeyMap` and `WeakSet` the key is the object `W`
//! itself, identified by its `Weak`, so `H` is `()` and lookups compare the entry's `weak`.
//! The flavours differ only in how a death reaches the table.
//!
//! A lookup is one probe that reads the entries in place. A death hook names its entry by hash
//! only: the hook finds its exact entry by comparing hook handles, and a purge removes one dead
//! entry of that hash per recorded death.

use std::fmt;
use std::hash::{BuildHasher, Hash};

use hashbrown::hash_table::{self, HashTable};
#[cfg(not(weakref_loom))]
use hashbrown::DefaultHashBuilder;
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
    /// unregisters it. `None` once the hook marked this entry dead (`sync` only; the hook
    /// moved the handle to its shard's dead list), which keeps entries small.
    pub(crate) hook: Option<WeakRef<W, F>>,
}

impl<H, O, W: 'static, F: Flavor> Entry<H, O, W, F> {
    /// `sync` only: the death hook marked this entry dead (and took it out of `len`).
    #[inline]
    pub(crate) fn dead(&self) -> bool {
        self.hook.is_none()
    }

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

/// The entries, in a hash table, with a log of hashes from which `pop_any` picks.
pub(crate) struct RawTable<H, O, W: 'static, F: Flavor> {
    table: HashTable<Entry<H, O, W, F>>,
    /// The hash of every entry that may be alive, plus stale ones (of entries removed since,
    /// or listed twice): what `pop_any` takes entries by, in O(1) amortized. Compacted by an
    /// insertion that finds stale hashes outnumbering the entries (O(1) amortized, as the
    /// table's own growth).
    log: Vec<u64>,
}

impl<H, O, W: 'static, F: Flavor> RawTable<H, O, W, F> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        RawTable {
            table: HashTable::with_capacity(capacity),
            log: Vec::with_capacity(capacity),
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Every entry, live or dead.
    #[inline]
    pub(crate) fn iter(&self) -> hash_table::Iter<'_, Entry<H, O, W, F>> {
        self.table.iter()
    }

    /// The entry with `hash` for which `eq` holds.
    #[inline]
    pub(crate) fn find_by(
        &self,
        hash: u64,
        eq: impl FnMut(&Entry<H, O, W, F>) -> bool,
    ) -> Option<&Entry<H, O, W, F>> {
        self.table.find(hash, eq)
    }

    /// The entry with `hash` for which `eq` holds, mutably.
    #[inline]
    pub(crate) fn find_by_mut(
        &mut self,
        hash: u64,
        eq: impl FnMut(&Entry<H, O, W, F>) -> bool,
    ) -> Option<&mut Entry<H, O, W, F>> {
        self.table.find_mut(hash, eq)
    }

    /// Removes the entry with `hash` for which `eq` holds.
    pub(crate) fn remove_by(
        &mut self,
        hash: u64,
        eq: impl FnMut(&Entry<H, O, W, F>) -> bool,
    ) -> Option<Entry<H, O, W, F>> {
        let found = self.table.find_entry(hash, eq).ok()?;
        Some(found.remove().0)
    }

    /// Inserts `entry` (the caller made sure no equal key is present).
    pub(crate) fn insert(&mut self, entry: Entry<H, O, W, F>) -> &mut Entry<H, O, W, F> {
        if self.log.len() > 2 * self.table.len() + 16 {
            self.rebuild_log();
        }
        self.log.push(entry.hash);
        let hash = entry.hash;
        self.table.insert_unique(hash, entry, |e| e.hash).into_mut()
    }

    /// The entry with `hash` for which `eq` holds, or else the one `make` builds, inserted.
    pub(crate) fn find_or_insert_with(
        &mut self,
        hash: u64,
        eq: impl FnMut(&Entry<H, O, W, F>) -> bool,
        make: impl FnOnce() -> Entry<H, O, W, F>,
    ) -> &mut Entry<H, O, W, F> {
        if self.log.len() > 2 * self.table.len() + 16 {
            self.rebuild_log();
        }
        match self.table.entry(hash, eq, |e| e.hash) {
            hash_table::Entry::Occupied(found) => found.into_mut(),
            hash_table::Entry::Vacant(vacant) => {
                self.log.push(hash);
                vacant.insert(make()).into_mut()
            }
        }
    }

    /// Removes and returns an entry for which `accept` holds. An entry it rejects loses its
    /// place in the log, so it must reject only dead or dying entries, and an entry that is
    /// made alive again must be [`relog`](Self::relog)ged. `None` when no live entry is left.
    pub(crate) fn pop_any(
        &mut self,
        mut accept: impl FnMut(&Entry<H, O, W, F>) -> bool,
    ) -> Option<Entry<H, O, W, F>> {
        loop {
            let hash = self.log.pop()?;
            if let Ok(found) = self.table.find_entry(hash, |e| e.hash == hash && accept(e)) {
                return Some(found.remove().0);
            }
        }
    }

    /// Lists `hash` again for `pop_any`: its dead entry was made alive again.
    pub(crate) fn relog(&mut self, hash: u64) {
        self.log.push(hash);
    }

    fn rebuild_log(&mut self) {
        self.log.clear();
        self.log.extend(self.table.iter().map(|e| e.hash));
    }

    /// Removes the entries for which `remove` holds, handing each to `each_removed` at once.
    pub(crate) fn extract_if(
        &mut self,
        remove: impl FnMut(&mut Entry<H, O, W, F>) -> bool,
        each_removed: impl FnMut(Entry<H, O, W, F>),
    ) {
        self.table.extract_if(remove).for_each(each_removed);
    }

    /// Removes every entry.
    pub(crate) fn drain(&mut self) -> Vec<Entry<H, O, W, F>> {
        self.log.clear();
        self.table.drain().collect()
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
