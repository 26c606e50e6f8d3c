//! [`WeakKeyMap`] (Python's `WeakKeyDictionary`, `sync` flavour) and its iterators.
//!
//! ```
//! use weakref_collections::sync::weak_key_map::{Keys, WeakKeyMap};
//! let map = WeakKeyMap::<u8, u8>::new();
//! let keys: Keys<'_, u8, u8> = map.keys();
//! assert_eq!(keys.count(), 0);
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::vec;

use weakref_core::sync::{AsWeak, Obj, Weak, WeakRef};

use super::table::{SEntry, Table};
use crate::raw::Identity;

/// Python's `WeakKeyDictionary` for many threads: `&self` everywhere, sharded locks. Keys are
/// objects held weakly and identified by identity ([`Obj::ptr_eq`]). An entry whose key died
/// is gone at once; its value is dropped no later than the next call of a method that may
/// change the map (`insert`, `remove`, `pop_item`, `clear`, `retain`, `get_or_insert_with`,
/// `purge`). Operations on one key are linearizable.
///
/// No lock is held while a `Drop`, a callback or a closure argument runs. `V`'s `Clone` may
/// run under a shard lock and must not use the same map (that deadlocks).
///
/// ```
/// use weakref_collections::sync::WeakKeyMap;
/// use weakref_core::sync::Obj;
///
/// let session = Obj::new("session");
/// let data = WeakKeyMap::new();
/// data.insert(&session, 7);
/// std::thread::scope(|s| {
///     s.spawn(|| assert_eq!(data.get(&session), Some(7)));
/// });
/// drop(session);
/// assert!(data.is_empty());
/// ```
///
/// A value that holds its own key (an `Obj<K>`) keeps that key alive forever, as in Python:
/// the entry then never goes away by itself. Hold a [`Weak`] in the value instead.
pub struct WeakKeyMap<K: 'static, V> {
    table: Table<(), V, K>,
}

impl<K, V> WeakKeyMap<K, V>
where
    K: Send + Sync + 'static,
    V: Send + 'static,
{
    /// An empty map.
    ///
    /// ```
    /// assert!(weakref_collections::sync::WeakKeyMap::<u8, u8>::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty map with room for about `capacity` entries.
    ///
    /// ```
    /// assert!(weakref_collections::sync::WeakKeyMap::<u8, u8>::with_capacity(8).is_empty());
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        WeakKeyMap {
            table: Table::with_capacity(capacity),
        }
    }

    /// Entries whose key is alive (O(1); exact whenever no death is in progress on another
    /// thread).
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// map.insert(&k, ());
    /// assert_eq!(map.len(), 1);
    /// drop(k);
    /// assert_eq!(map.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no entry is alive.
    ///
    /// ```
    /// assert!(weakref_collections::sync::WeakKeyMap::<u8, u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Maps the object `key` to `value`; returns the previous value of that object.
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// assert_eq!(map.insert(&k, "a"), None);
    /// assert_eq!(map.insert(&k, "b"), Some("a"));
    /// assert_eq!(map.insert(&Obj::new(1), "c"), None); // another object
    /// ```
    pub fn insert(&self, key: &Obj<K>, value: V) -> Option<V> {
        self.table.purge();
        let weak = Obj::downgrade(key);
        let hash = self.table.hash(&weak);
        let mut shard = self.table.shard(hash);
        match shard.find_weak_mut(hash, weak) {
            Some(entry) => {
                // `key` is alive, so its entry is not marked dead.
                let old = std::mem::replace(&mut entry.val, value);
                drop(shard);
                Some(old)
            }
            None => {
                shard.insert_new(hash, (), value, key);
                None
            }
        }
    }

    /// Whether the object `key` names is alive and present.
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// map.insert(&k, ());
    /// assert!(map.contains_key(&k));
    /// assert!(!map.contains_key(&Obj::new(1)));
    /// ```
    #[inline]
    pub fn contains_key(&self, key: &impl AsWeak<K>) -> bool {
        let Some(weak) = key.live_weak() else {
            return false;
        };
        let hash = self.table.hash(&weak);
        let shard = self.table.shard(hash);
        shard
            .find_weak(hash, weak)
            .is_some_and(|entry| !entry.dead())
    }

    /// Removes the object `key` names; returns its value.
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// map.insert(&k, "v");
    /// assert_eq!(map.remove(&k), Some("v"));
    /// assert_eq!(map.remove(&k), None);
    /// ```
    pub fn remove(&self, key: &impl AsWeak<K>) -> Option<V> {
        self.table.purge();
        let weak = key.live_weak()?;
        let hash = self.table.hash(&weak);
        let mut shard = self.table.shard(hash);
        // A marked entry died meanwhile: the next purge drops it.
        let entry = shard.remove_by(hash, |entry| entry.weak == weak && !entry.dead())?;
        drop(shard);
        let SEntry { val, hook, .. } = entry;
        drop(hook);
        Some(val)
    }

    /// Removes and returns a live entry (which one is unspecified).
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// map.insert(&k, "v");
    /// let (key, v) = map.pop_item().unwrap();
    /// assert!(Obj::ptr_eq(&key, &k));
    /// assert_eq!(v, "v");
    /// ```
    pub fn pop_item(&self) -> Option<(Obj<K>, V)> {
        let (entry, obj) = self.table.pop_live()?;
        let SEntry { val, hook, .. } = entry;
        drop(hook);
        Some((obj, val))
    }

    /// Drops the values of dead entries now (including entries that die because of those drops).
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let map = WeakKeyMap::new();
    /// map.insert(&Obj::new(1), String::from("v")); // the key dies at once
    /// map.purge(); // the value is dropped here
    /// assert!(map.is_empty());
    /// ```
    pub fn purge(&self) {
        self.table.purge();
    }

    /// Removes every entry.
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// map.insert(&k, ());
    /// map.clear();
    /// assert!(map.is_empty());
    /// ```
    pub fn clear(&self) {
        self.table.clear();
    }

    /// The live keys, as strong handles (a snapshot of the entries, taken now).
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// map.insert(&k, ());
    /// assert!(map.keys().all(|key| Obj::ptr_eq(&key, &k)));
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys {
            weaks: self.table.snapshot(|entry| entry.weak).into_iter(),
            _map: PhantomData,
        }
    }

    /// Python's `keyrefs()`: a [`WeakRef`] to each live key.
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// map.insert(&k, ());
    /// assert_eq!(map.keyrefs()[0].downgrade(), Obj::downgrade(&k));
    /// ```
    pub fn keyrefs(&self) -> Vec<WeakRef<K>> {
        self.keys().map(|obj| WeakRef::new(&obj)).collect()
    }
}

impl<K, V> WeakKeyMap<K, V>
where
    K: Send + Sync + 'static,
    V: Clone + Send + 'static,
{
    /// A clone of the value of the object `key` names, if it is alive and present.
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::{Obj, WeakRef};
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// map.insert(&k, 10);
    /// assert_eq!(map.get(&k), Some(10));
    /// assert_eq!(map.get(&WeakRef::new(&k)), Some(10));
    /// ```
    #[inline]
    pub fn get(&self, key: &impl AsWeak<K>) -> Option<V> {
        let weak = key.live_weak()?;
        let hash = self.table.hash(&weak);
        let shard = self.table.shard(hash);
        let entry = shard.find_weak(hash, weak)?;
        (!entry.dead()).then(|| entry.val.clone())
    }

    /// Python's `setdefault`: (a clone of) the value of `key`, or else `f()`, inserted. `f`
    /// runs with no lock held and may run on several racing threads; one result is kept and
    /// returned to all.
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// assert_eq!(map.get_or_insert_with(&k, || 1), 1);
    /// assert_eq!(map.get_or_insert_with(&k, || 2), 1);
    /// ```
    pub fn get_or_insert_with(&self, key: &Obj<K>, f: impl FnOnce() -> V) -> V {
        self.table.purge();
        if let Some(value) = self.get(key) {
            return value;
        }
        let value = f();
        let weak = Obj::downgrade(key);
        let hash = self.table.hash(&weak);
        let mut shard = self.table.shard(hash);
        match shard.find_weak(hash, weak) {
            Some(entry) => {
                // Another thread inserted meanwhile: keep its value.
                let winner = entry.val.clone();
                drop(shard);
                drop(value);
                winner
            }
            None => {
                let returned = value.clone();
                shard.insert_new(hash, (), value, key);
                returned
            }
        }
    }

    /// Iterates over a snapshot of the entries taken now, as `(Obj<K>, V)`; entries whose key
    /// dies meanwhile are skipped.
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// map.insert(&k, "v");
    /// for (key, v) in &map {
    ///     assert_eq!((*key, v), (1, "v"));
    /// }
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            entries: self
                .table
                .snapshot(|entry| (entry.weak, entry.val.clone()))
                .into_iter(),
            _map: PhantomData,
        }
    }

    /// The values of the live entries (a snapshot).
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let k = Obj::new(1);
    /// let map = WeakKeyMap::new();
    /// map.insert(&k, 5);
    /// assert_eq!(map.values().sum::<i32>(), 5);
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values { inner: self.iter() }
    }

    /// Keeps only the live entries for which `f` returns true. `f` runs with no lock held, on
    /// a snapshot.
    ///
    /// ```
    /// use weakref_collections::sync::WeakKeyMap;
    /// use weakref_core::sync::Obj;
    /// let keys: Vec<_> = (0..4).map(Obj::new).collect();
    /// let map: WeakKeyMap<_, _> = keys.iter().map(|k| (k, **k)).collect();
    /// map.retain(|_, v| v % 2 == 0);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn retain(&self, mut f: impl FnMut(&Obj<K>, &V) -> bool) {
        self.table.purge();
        for (key, value) in self.iter() {
            if !f(&key, &value) {
                self.remove(&key);
            }
        }
    }
}

impl<K, V> Default for WeakKeyMap<K, V>
where
    K: Send + Sync + 'static,
    V: Send + 'static,
{
    /// An empty map.
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> Clone for WeakKeyMap<K, V>
where
    K: Send + Sync + 'static,
    V: Clone + Send + 'static,
{
    /// Python's `copy()`: a new map of the live entries (with its own hooks).
    fn clone(&self) -> Self {
        self.iter().collect()
    }
}

impl<K, V> fmt::Debug for WeakKeyMap<K, V>
where
    K: Send + Sync + 'static,
    V: Clone + Send + fmt::Debug + 'static,
{
    /// The live entries, as std's maps print; keys by identity, `TypeName@0x…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in self.iter() {
            map.entry(&Identity(&k), &v);
        }
        map.finish()
    }
}

impl<K, V> Extend<(Obj<K>, V)> for WeakKeyMap<K, V>
where
    K: Send + Sync + 'static,
    V: Send + 'static,
{
    fn extend<I: IntoIterator<Item = (Obj<K>, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(&k, v);
        }
    }
}

impl<'a, K, V> Extend<(&'a Obj<K>, V)> for WeakKeyMap<K, V>
where
    K: Send + Sync + 'static,
    V: Send + 'static,
{
    fn extend<I: IntoIterator<Item = (&'a Obj<K>, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K, V> FromIterator<(Obj<K>, V)> for WeakKeyMap<K, V>
where
    K: Send + Sync + 'static,
    V: Send + 'static,
{
    fn from_iter<I: IntoIterator<Item = (Obj<K>, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<'a, K, V> FromIterator<(&'a Obj<K>, V)> for WeakKeyMap<K, V>
where
    K: Send + Sync + 'static,
    V: Send + 'static,
{
    fn from_iter<I: IntoIterator<Item = (&'a Obj<K>, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<'a, K, V> IntoIterator for &'a WeakKeyMap<K, V>
where
    K: Send + Sync + 'static,
    V: Clone + Send + 'static,
{
    type Item = (Obj<K>, V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

/// The iterator of [`WeakKeyMap::iter`]: `(Obj<K>, V)` for each entry of the snapshot whose
/// key is still alive.
///
/// ```
/// use weakref_collections::sync::{weak_key_map::Iter, WeakKeyMap};
/// let map = WeakKeyMap::<u8, u8>::new();
/// let mut iter: Iter<'_, u8, u8> = map.iter();
/// assert!(iter.next().is_none());
/// ```
pub struct Iter<'a, K: 'static, V> {
    entries: vec::IntoIter<(Weak<K>, V)>,
    _map: PhantomData<&'a ()>,
}

impl<K: 'static, V> Iterator for Iter<'_, K, V> {
    type Item = (Obj<K>, V);

    fn next(&mut self) -> Option<(Obj<K>, V)> {
        self.entries
            .by_ref()
            .find_map(|(weak, value)| Some((weak.upgrade()?, value)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.entries.size_hint().1)
    }
}

impl<K: 'static, V> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

/// The iterator of [`WeakKeyMap::keys`]: the snapshot's live keys as strong handles.
///
/// ```
/// use weakref_collections::sync::{weak_key_map::Keys, WeakKeyMap};
/// let map = WeakKeyMap::<u8, u8>::new();
/// let keys: Keys<'_, u8, u8> = map.keys();
/// assert_eq!(keys.count(), 0);
/// ```
pub struct Keys<'a, K: 'static, V> {
    weaks: vec::IntoIter<Weak<K>>,
    _map: PhantomData<&'a V>,
}

impl<K: 'static, V> Iterator for Keys<'_, K, V> {
    type Item = Obj<K>;

    fn next(&mut self) -> Option<Obj<K>> {
        self.weaks.by_ref().find_map(|weak| weak.upgrade())
    }
}

impl<K: 'static, V> fmt::Debug for Keys<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

/// The iterator of [`WeakKeyMap::values`]: the values of the snapshot's live entries.
///
/// ```
/// use weakref_collections::sync::{weak_key_map::Values, WeakKeyMap};
/// let map = WeakKeyMap::<u8, u8>::new();
/// let values: Values<'_, u8, u8> = map.values();
/// assert_eq!(values.count(), 0);
/// ```
pub struct Values<'a, K: 'static, V> {
    inner: Iter<'a, K, V>,
}

impl<K: 'static, V> Iterator for Values<'_, K, V> {
    type Item = V;

    fn next(&mut self) -> Option<V> {
        self.inner.next().map(|(_, v)| v)
    }
}

impl<K: 'static, V> fmt::Debug for Values<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Values").finish_non_exhaustive()
    }
}
