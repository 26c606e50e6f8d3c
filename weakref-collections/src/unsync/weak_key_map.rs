//! [`WeakKeyMap`] (Python's `WeakKeyDictionary`, `unsync` flavour) and its iterators.
//!
//! ```
//! use weakref_collections::unsync::weak_key_map::{Keys, WeakKeyMap};
//! let map = WeakKeyMap::<u8, u8>::new();
//! let keys: Keys<'_, u8, u8> = map.keys();
//! assert_eq!(keys.count(), 0);
//! ```

use std::fmt;

use weakref_core::unsync::{AsWeak, Obj, WeakRef};

use super::table::{Table, UEntry};
use crate::raw::Identity;

/// Python's `WeakKeyDictionary` for one thread: keys are objects held weakly and identified by
/// identity ([`Obj::ptr_eq`]), never by `K`'s own equality. An entry whose key died is gone at
/// once; its value is dropped no later than the next call of a method that may change the map
/// (`insert`, `remove`, `pop_item`, `clear`, `retain`, `get_or_insert_with`, `purge`).
///
/// ```
/// use weakref_collections::unsync::WeakKeyMap;
/// use weakref_core::unsync::Obj;
///
/// let widget = Obj::new("button");
/// let mut extra = WeakKeyMap::new();
/// extra.insert(&widget, "tooltip");
/// assert_eq!(extra.get(&widget), Some(&"tooltip"));
/// drop(widget);
/// assert!(extra.is_empty());
/// ```
///
/// A value that holds its own key (an `Obj<K>`) keeps that key alive forever, as in Python:
/// the entry then never goes away by itself. Hold a [`Weak`](weakref_core::unsync::Weak) in the
/// value instead.
pub struct WeakKeyMap<K: 'static, V> {
    table: Table<(), V, K>,
}

impl<K: 'static, V> WeakKeyMap<K, V> {
    /// An empty map.
    ///
    /// ```
    /// let map = weakref_collections::unsync::WeakKeyMap::<u8, u8>::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty map with room for `capacity` entries.
    ///
    /// ```
    /// let map = weakref_collections::unsync::WeakKeyMap::<u8, u8>::with_capacity(8);
    /// assert!(map.is_empty());
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        WeakKeyMap {
            table: Table::with_capacity(capacity),
        }
    }

    /// The entry of the live object `key` names.
    #[inline]
    fn find(&self, key: &impl AsWeak<K>) -> Option<&UEntry<(), V, K>> {
        let weak = key.live_weak()?;
        let hash = self.table.hasher.hash(&weak);
        self.table.find_weak(hash, weak)
    }

    /// Entries whose key is alive (exact, O(1)).
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
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
    /// assert!(weakref_collections::unsync::WeakKeyMap::<u8, u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Maps the object `key` to `value`; returns the previous value of that object.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// assert_eq!(map.insert(&k, "a"), None);
    /// assert_eq!(map.insert(&k, "b"), Some("a"));
    /// // Equal values, distinct objects: distinct keys.
    /// assert_eq!(map.insert(&Obj::new(1), "c"), None);
    /// ```
    pub fn insert(&mut self, key: &Obj<K>, value: V) -> Option<V> {
        self.table.purge();
        let weak = Obj::downgrade(key);
        let hash = self.table.hasher.hash(&weak);
        match self.table.find_weak_mut(hash, weak) {
            Some(entry) => Some(std::mem::replace(&mut entry.val, value)),
            None => {
                self.table.insert_new(hash, (), value, key);
                None
            }
        }
    }

    /// The value of the object `key` names, if it is alive and present.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::{Obj, WeakRef};
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&k, 10);
    /// assert_eq!(map.get(&k), Some(&10));
    /// assert_eq!(map.get(&Obj::downgrade(&k)), Some(&10));
    /// assert_eq!(map.get(&WeakRef::new(&k)), Some(&10));
    /// ```
    #[inline]
    pub fn get(&self, key: &impl AsWeak<K>) -> Option<&V> {
        Some(&self.find(key)?.val)
    }

    /// The value of the object `key` names, mutably.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&k, 10);
    /// *map.get_mut(&k).unwrap() += 1;
    /// assert_eq!(map.get(&k), Some(&11));
    /// ```
    pub fn get_mut(&mut self, key: &impl AsWeak<K>) -> Option<&mut V> {
        let weak = key.live_weak()?;
        let hash = self.table.hasher.hash(&weak);
        Some(&mut self.table.find_weak_mut(hash, weak)?.val)
    }

    /// Whether the object `key` names is alive and present.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&k, ());
    /// assert!(map.contains_key(&k));
    /// assert!(!map.contains_key(&Obj::new(1)));
    /// ```
    #[inline]
    pub fn contains_key(&self, key: &impl AsWeak<K>) -> bool {
        self.find(key).is_some()
    }

    /// Removes the object `key` names; returns its value.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&k, "v");
    /// assert_eq!(map.remove(&k), Some("v"));
    /// assert_eq!(map.remove(&k), None);
    /// ```
    pub fn remove(&mut self, key: &impl AsWeak<K>) -> Option<V> {
        self.table.purge();
        let weak = key.live_weak()?;
        let hash = self.table.hasher.hash(&weak);
        let UEntry { val, hook, .. } = self.table.remove_by(hash, |entry| entry.weak == weak)?;
        drop(hook);
        Some(val)
    }

    /// Python's `setdefault`: the value of `key`, or else `f()`, inserted.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.get_or_insert_with(&k, Vec::new).push(1);
    /// map.get_or_insert_with(&k, Vec::new).push(2);
    /// assert_eq!(map.get(&k), Some(&vec![1, 2]));
    /// ```
    pub fn get_or_insert_with(&mut self, key: &Obj<K>, f: impl FnOnce() -> V) -> &mut V {
        self.table.purge();
        let hash = self.table.hasher.hash(&Obj::downgrade(key));
        &mut self.table.find_or_insert_weak(hash, || (), key, f).val
    }

    /// Removes and returns a live entry (which one is unspecified).
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&k, "v");
    /// let (key, v) = map.pop_item().unwrap();
    /// assert!(Obj::ptr_eq(&key, &k));
    /// assert_eq!(v, "v");
    /// ```
    pub fn pop_item(&mut self) -> Option<(Obj<K>, V)> {
        let (entry, obj) = self.table.pop_live()?;
        let UEntry { val, hook, .. } = entry;
        drop(hook);
        Some((obj, val))
    }

    /// Drops the values of dead entries now (including entries that die because of those drops).
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&Obj::new(1), String::from("v")); // the key dies at once
    /// map.purge(); // the value is dropped here
    /// assert!(map.is_empty());
    /// ```
    pub fn purge(&mut self) {
        self.table.purge();
    }

    /// Removes every entry.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&k, ());
    /// map.clear();
    /// assert!(map.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.table.clear();
    }

    /// Iterates over the live entries as `(Obj<K>, &V)`; entries that die meanwhile are skipped.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&k, "v");
    /// for (key, v) in &map {
    ///     assert_eq!((*key, *v), (1, "v"));
    /// }
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            entries: self.table.entries(),
        }
    }

    /// The live keys, as strong handles.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&k, ());
    /// assert!(map.keys().all(|key| Obj::ptr_eq(&key, &k)));
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys { inner: self.iter() }
    }

    /// The values of the live entries.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&k, 5);
    /// assert_eq!(map.values().copied().sum::<i32>(), 5);
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values { inner: self.iter() }
    }

    /// Python's `keyrefs()`: a [`WeakRef`] to each live key.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let k = Obj::new(1);
    /// let mut map = WeakKeyMap::new();
    /// map.insert(&k, ());
    /// assert_eq!(map.keyrefs()[0].downgrade(), Obj::downgrade(&k));
    /// ```
    pub fn keyrefs(&self) -> Vec<WeakRef<K>> {
        self.keys().map(|obj| WeakRef::new(&obj)).collect()
    }

    /// Keeps only the live entries for which `f` returns true.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakKeyMap;
    /// use weakref_core::unsync::Obj;
    /// let keys: Vec<_> = (0..4).map(Obj::new).collect();
    /// let mut map: WeakKeyMap<_, _> = keys.iter().map(|k| (k, 0)).collect();
    /// map.retain(|k, v| {
    ///     *v += 1;
    ///     **k % 2 == 0
    /// });
    /// assert_eq!(map.len(), 2);
    /// assert_eq!(map.get(&keys[0]), Some(&1));
    /// ```
    pub fn retain(&mut self, mut f: impl FnMut(&Obj<K>, &mut V) -> bool) {
        self.table.purge();
        self.table
            .remove_live_if(|entry, obj| !f(obj, &mut entry.val));
    }
}

impl<K: 'static, V> Default for WeakKeyMap<K, V> {
    /// An empty map.
    fn default() -> Self {
        Self::new()
    }
}

impl<K: 'static, V: Clone> Clone for WeakKeyMap<K, V> {
    /// Python's `copy()`: a new map of the live entries (with its own hooks).
    fn clone(&self) -> Self {
        self.iter().map(|(k, v)| (k, v.clone())).collect()
    }
}

impl<K: 'static, V: fmt::Debug> fmt::Debug for WeakKeyMap<K, V> {
    /// The live entries, as std's maps print; keys by identity, `TypeName@0x…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in self.iter() {
            map.entry(&Identity(&k), v);
        }
        map.finish()
    }
}

impl<K: 'static, V> Extend<(Obj<K>, V)> for WeakKeyMap<K, V> {
    fn extend<I: IntoIterator<Item = (Obj<K>, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(&k, v);
        }
    }
}

impl<'a, K: 'static, V> Extend<(&'a Obj<K>, V)> for WeakKeyMap<K, V> {
    fn extend<I: IntoIterator<Item = (&'a Obj<K>, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: 'static, V> FromIterator<(Obj<K>, V)> for WeakKeyMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (Obj<K>, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<'a, K: 'static, V> FromIterator<(&'a Obj<K>, V)> for WeakKeyMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (&'a Obj<K>, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<'a, K: 'static, V> IntoIterator for &'a WeakKeyMap<K, V> {
    type Item = (Obj<K>, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

/// The iterator of [`WeakKeyMap::iter`]: `(Obj<K>, &V)` for each live entry.
///
/// ```
/// use weakref_collections::unsync::{weak_key_map::Iter, WeakKeyMap};
/// let map = WeakKeyMap::<u8, u8>::new();
/// let mut iter: Iter<'_, u8, u8> = map.iter();
/// assert!(iter.next().is_none());
/// ```
pub struct Iter<'a, K: 'static, V> {
    entries: hashbrown::hash_table::Iter<'a, UEntry<(), V, K>>,
}

impl<'a, K: 'static, V> Iterator for Iter<'a, K, V> {
    type Item = (Obj<K>, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.entries
            .by_ref()
            .find_map(|entry| Some((entry.weak.upgrade()?, &entry.val)))
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

/// The iterator of [`WeakKeyMap::keys`]: the live keys as strong handles.
///
/// ```
/// use weakref_collections::unsync::{weak_key_map::Keys, WeakKeyMap};
/// let map = WeakKeyMap::<u8, u8>::new();
/// let keys: Keys<'_, u8, u8> = map.keys();
/// assert_eq!(keys.count(), 0);
/// ```
pub struct Keys<'a, K: 'static, V> {
    inner: Iter<'a, K, V>,
}

impl<K: 'static, V> Iterator for Keys<'_, K, V> {
    type Item = Obj<K>;

    fn next(&mut self) -> Option<Obj<K>> {
        self.inner.next().map(|(k, _)| k)
    }
}

impl<K: 'static, V> fmt::Debug for Keys<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

/// The iterator of [`WeakKeyMap::values`]: the values of the live entries.
///
/// ```
/// use weakref_collections::unsync::{weak_key_map::Values, WeakKeyMap};
/// let map = WeakKeyMap::<u8, u8>::new();
/// let values: Values<'_, u8, u8> = map.values();
/// assert_eq!(values.count(), 0);
/// ```
pub struct Values<'a, K: 'static, V> {
    inner: Iter<'a, K, V>,
}

impl<'a, K: 'static, V> Iterator for Values<'a, K, V> {
    type Item = &'a V;

    fn next(&mut self) -> Option<&'a V> {
        self.inner.next().map(|(_, v)| v)
    }
}

impl<K: 'static, V> fmt::Debug for Values<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Values").finish_non_exhaustive()
    }
}
