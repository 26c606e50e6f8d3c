//! [`WeakValueMap`] (Python's `WeakValueDictionary`, `unsync` flavour) and its iterators.
//!
//! ```
//! use weakref_collections::unsync::weak_value_map::{Iter, WeakValueMap};
//! let map = WeakValueMap::<u8, u8>::new();
//! let iter: Iter<'_, u8, u8> = map.iter();
//! assert_eq!(iter.count(), 0);
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;

use weakref_core::unsync::{Obj, WeakRef};

use super::table::{Table, UEntry};

/// Python's `WeakValueDictionary` for one thread: values are held weakly, and an entry whose
/// value died is gone at once (for `get`, `contains_key`, `len`, iteration); its key is dropped
/// no later than the next call of a method that may change the map (`insert`, `remove`,
/// `pop_item`, `clear`, `retain`, `get_or_insert_with`, `try_get_or_insert_with`, `purge`).
///
/// ```
/// use weakref_collections::unsync::WeakValueMap;
/// use weakref_core::unsync::Obj;
///
/// let mut cache = WeakValueMap::new();
/// let image = Obj::new(vec![0u8; 16]);
/// cache.insert("logo", &image);
/// assert_eq!(cache.get("logo").map(|v| v.len()), Some(16));
/// drop(image);
/// assert!(cache.get("logo").is_none());
/// assert!(cache.is_empty());
/// ```
///
/// # A cache holds only what someone else holds
/// A weak cache keeps nothing between two requests unless callers keep the values; pair it
/// with a small strong cache of the most recent values to keep those alive:
///
/// ```
/// use std::collections::VecDeque;
/// use weakref_collections::unsync::WeakValueMap;
/// use weakref_core::unsync::Obj;
///
/// struct Cache {
///     weak: WeakValueMap<u32, String>,
///     recent: VecDeque<Obj<String>>, // keeps the last few alive
/// }
/// impl Cache {
///     fn get(&mut self, id: u32) -> Obj<String> {
///         let value = self.weak.get_or_insert_with(id, || Obj::new(format!("object {id}")));
///         if self.recent.len() == 2 {
///             self.recent.pop_front();
///         }
///         self.recent.push_back(value.clone());
///         value
///     }
/// }
/// let mut cache = Cache { weak: WeakValueMap::new(), recent: VecDeque::new() };
/// let first = Obj::as_ptr(&cache.get(1));
/// assert_eq!(Obj::as_ptr(&cache.get(1)), first); // still held by `recent`
/// cache.get(2);
/// cache.get(3); // evicts 1 from `recent`: nobody holds it any more
/// assert!(!cache.weak.contains_key(&1));
/// ```
pub struct WeakValueMap<K, V: 'static> {
    table: Table<K, (), V>,
}

impl<K, V: 'static> WeakValueMap<K, V> {
    /// An empty map.
    ///
    /// ```
    /// let map = weakref_collections::unsync::WeakValueMap::<u8, u8>::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty map with room for `capacity` entries.
    ///
    /// ```
    /// let map = weakref_collections::unsync::WeakValueMap::<u8, u8>::with_capacity(10);
    /// assert_eq!(map.len(), 0);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        WeakValueMap {
            table: Table::with_capacity(capacity),
        }
    }

    /// Entries whose value is alive (exact, O(1)).
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let mut map = WeakValueMap::new();
    /// let v = Obj::new(1);
    /// map.insert(1, &v);
    /// assert_eq!(map.len(), 1);
    /// drop(v);
    /// assert_eq!(map.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no entry is alive.
    ///
    /// ```
    /// let map = weakref_collections::unsync::WeakValueMap::<u8, u8>::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the keys of dead entries now (including entries that die because of those drops).
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let mut map = WeakValueMap::new();
    /// map.insert(String::from("k"), &Obj::new(1)); // dies at once
    /// map.purge(); // the key `String` is dropped here
    /// assert!(map.is_empty());
    /// ```
    pub fn purge(&mut self) {
        self.table.purge();
    }

    /// Removes every entry.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let v = Obj::new(1);
    /// let mut map: WeakValueMap<_, _> = [(1, &v), (2, &v)].into_iter().collect();
    /// map.clear();
    /// assert!(map.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.table.clear();
    }

    /// Removes and returns a live entry (which one is unspecified).
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let v = Obj::new(7);
    /// let mut map = WeakValueMap::new();
    /// map.insert("a", &v);
    /// let (k, obj) = map.pop_item().unwrap();
    /// assert_eq!((k, *obj), ("a", 7));
    /// assert!(map.pop_item().is_none());
    /// ```
    pub fn pop_item(&mut self) -> Option<(K, Obj<V>)> {
        let (entry, obj) = self.table.pop_live()?;
        let UEntry { key, hook, .. } = entry;
        drop(hook);
        Some((key, obj))
    }

    /// Iterates over the live entries as `(&K, Obj<V>)`; entries that die meanwhile are skipped.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let v = Obj::new(1);
    /// let mut map = WeakValueMap::new();
    /// map.insert("a", &v);
    /// for (k, obj) in map.iter() {
    ///     assert_eq!((*k, *obj), ("a", 1));
    /// }
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            entries: self.table.entries(),
        }
    }

    /// The keys of the live entries.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let v = Obj::new(1);
    /// let mut map = WeakValueMap::new();
    /// map.insert("a", &v);
    /// assert_eq!(map.keys().collect::<Vec<_>>(), [&"a"]);
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys { inner: self.iter() }
    }

    /// The live values, as strong handles.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let v = Obj::new(1);
    /// let mut map = WeakValueMap::new();
    /// map.insert("a", &v);
    /// assert!(map.values().all(|obj| Obj::ptr_eq(&obj, &v)));
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values { inner: self.iter() }
    }

    /// Python's `valuerefs()`: a [`WeakRef`] to each live value.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let v = Obj::new(1);
    /// let mut map = WeakValueMap::new();
    /// map.insert("a", &v);
    /// let refs = map.valuerefs();
    /// assert!(refs[0].get().is_some());
    /// ```
    pub fn valuerefs(&self) -> Vec<WeakRef<V>> {
        self.values().map(|obj| WeakRef::new(&obj)).collect()
    }
}

impl<K: Hash + Eq, V: 'static> WeakValueMap<K, V> {
    #[inline]
    fn find<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&UEntry<K, (), V>>
    where
        K: Borrow<Q>,
    {
        let hash = self.table.hasher.hash(key);
        self.table.find(hash, |k| k.borrow() == key)
    }

    /// Maps `key` to `value` (held weakly); returns the previous live value. An equal key
    /// already present is kept, as a Python dict does.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let (a, b) = (Obj::new(1), Obj::new(2));
    /// let mut map = WeakValueMap::new();
    /// assert!(map.insert("k", &a).is_none());
    /// assert!(Obj::ptr_eq(&map.insert("k", &b).unwrap(), &a));
    /// assert_eq!(*map.get("k").unwrap(), 2);
    /// ```
    pub fn insert(&mut self, key: K, value: &Obj<V>) -> Option<Obj<V>> {
        self.table.purge();
        let hash = self.table.hasher.hash(&key);
        match self.table.replace_weak(hash, |k| *k == key, value) {
            Some((previous, old_hook)) => {
                // The old object is still alive (held by `previous`) or dead: either way its
                // hook is unregistered or spent.
                drop(old_hook);
                drop(key);
                previous
            }
            None => {
                self.table.insert_new(hash, key, (), value);
                None
            }
        }
    }

    /// The live value of `key`.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let v = Obj::new(1);
    /// let mut map = WeakValueMap::new();
    /// map.insert(String::from("k"), &v);
    /// assert!(map.get("k").is_some()); // looked up by &str
    /// ```
    #[inline]
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<Obj<V>>
    where
        K: Borrow<Q>,
    {
        self.find(key)?.weak.upgrade()
    }

    /// Whether `key` has a live value.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let v = Obj::new(1);
    /// let mut map = WeakValueMap::new();
    /// map.insert(1, &v);
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// ```
    #[inline]
    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_some_and(|entry| entry.weak.is_alive())
    }

    /// Removes `key`; returns its live value.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let v = Obj::new(1);
    /// let mut map = WeakValueMap::new();
    /// map.insert(1, &v);
    /// assert!(map.remove(&1).is_some());
    /// assert!(map.remove(&1).is_none());
    /// ```
    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<Obj<V>>
    where
        K: Borrow<Q>,
    {
        self.table.purge();
        let hash = self.table.hasher.hash(key);
        let entry = self
            .table
            .remove_by(hash, |entry| entry.key.borrow() == key)?;
        let previous = entry.weak.upgrade();
        entry.dispose();
        previous
    }

    /// Python's `setdefault`: the live value of `key`, or else `f()`'s, inserted. Never dead.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let mut map = WeakValueMap::new();
    /// let a = map.get_or_insert_with("k", || Obj::new(1));
    /// let b = map.get_or_insert_with("k", || Obj::new(2));
    /// assert!(Obj::ptr_eq(&a, &b));
    /// ```
    pub fn get_or_insert_with(&mut self, key: K, f: impl FnOnce() -> Obj<V>) -> Obj<V> {
        match self.try_get_or_insert_with(key, || Ok::<_, std::convert::Infallible>(f())) {
            Ok(obj) => obj,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) with a loader that can fail:
    /// nothing is inserted on `Err`.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let mut map: WeakValueMap<&str, i32> = WeakValueMap::new();
    /// assert_eq!(map.try_get_or_insert_with("k", || Err("no")).unwrap_err(), "no");
    /// assert!(map.is_empty());
    /// let v = map.try_get_or_insert_with("k", || Ok::<_, ()>(Obj::new(1))).unwrap();
    /// assert_eq!(*v, 1);
    /// ```
    pub fn try_get_or_insert_with<E>(
        &mut self,
        key: K,
        f: impl FnOnce() -> Result<Obj<V>, E>,
    ) -> Result<Obj<V>, E> {
        self.table.purge();
        if let Some(obj) = self.get(&key) {
            return Ok(obj);
        }
        let obj = f()?;
        self.insert(key, &obj);
        Ok(obj)
    }

    /// Keeps only the live entries for which `f` returns true.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakValueMap;
    /// use weakref_core::unsync::Obj;
    /// let objs: Vec<_> = (0..4).map(Obj::new).collect();
    /// let mut map: WeakValueMap<_, _> = objs.iter().map(|o| (**o, o)).collect();
    /// map.retain(|_, v| **v % 2 == 0);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn retain(&mut self, mut f: impl FnMut(&K, &Obj<V>) -> bool) {
        self.table.purge();
        self.table.remove_live_if(|entry, obj| !f(&entry.key, obj));
    }
}

impl<K, V: 'static> Default for WeakValueMap<K, V> {
    /// An empty map.
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq + Clone, V: 'static> Clone for WeakValueMap<K, V> {
    /// Python's `copy()`: a new map of the live entries (with its own hooks).
    fn clone(&self) -> Self {
        self.iter().map(|(k, v)| (k.clone(), v)).collect()
    }
}

impl<K: fmt::Debug, V: fmt::Debug + 'static> fmt::Debug for WeakValueMap<K, V> {
    /// The live entries, as std's maps print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Hash + Eq, V: 'static> Extend<(K, Obj<V>)> for WeakValueMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, Obj<V>)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, &v);
        }
    }
}

impl<'a, K: Hash + Eq, V: 'static> Extend<(K, &'a Obj<V>)> for WeakValueMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, &'a Obj<V>)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Hash + Eq, V: 'static> FromIterator<(K, Obj<V>)> for WeakValueMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, Obj<V>)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<'a, K: Hash + Eq, V: 'static> FromIterator<(K, &'a Obj<V>)> for WeakValueMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, &'a Obj<V>)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<'a, K, V: 'static> IntoIterator for &'a WeakValueMap<K, V> {
    type Item = (&'a K, Obj<V>);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

/// The iterator of [`WeakValueMap::iter`]: `(&K, Obj<V>)` for each live entry.
///
/// ```
/// use weakref_collections::unsync::{weak_value_map::Iter, WeakValueMap};
/// let map = WeakValueMap::<u8, u8>::new();
/// let mut iter: Iter<'_, u8, u8> = map.iter();
/// assert!(iter.next().is_none());
/// ```
pub struct Iter<'a, K, V: 'static> {
    entries: hashbrown::hash_table::Iter<'a, UEntry<K, (), V>>,
}

impl<'a, K, V: 'static> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, Obj<V>);

    fn next(&mut self) -> Option<Self::Item> {
        self.entries
            .by_ref()
            .find_map(|entry| Some((&entry.key, entry.weak.upgrade()?)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.entries.size_hint().1)
    }
}

impl<K, V: 'static> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

/// The iterator of [`WeakValueMap::keys`]: the keys of the live entries.
///
/// ```
/// use weakref_collections::unsync::{weak_value_map::Keys, WeakValueMap};
/// let map = WeakValueMap::<u8, u8>::new();
/// let keys: Keys<'_, u8, u8> = map.keys();
/// assert_eq!(keys.count(), 0);
/// ```
pub struct Keys<'a, K, V: 'static> {
    inner: Iter<'a, K, V>,
}

impl<'a, K, V: 'static> Iterator for Keys<'a, K, V> {
    type Item = &'a K;

    fn next(&mut self) -> Option<&'a K> {
        self.inner.next().map(|(k, _)| k)
    }
}

impl<K, V: 'static> fmt::Debug for Keys<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

/// The iterator of [`WeakValueMap::values`]: the live values as strong handles.
///
/// ```
/// use weakref_collections::unsync::{weak_value_map::Values, WeakValueMap};
/// let map = WeakValueMap::<u8, u8>::new();
/// let values: Values<'_, u8, u8> = map.values();
/// assert_eq!(values.count(), 0);
/// ```
pub struct Values<'a, K, V: 'static> {
    inner: Iter<'a, K, V>,
}

impl<K, V: 'static> Iterator for Values<'_, K, V> {
    type Item = Obj<V>;

    fn next(&mut self) -> Option<Obj<V>> {
        self.inner.next().map(|(_, v)| v)
    }
}

impl<K, V: 'static> fmt::Debug for Values<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Values").finish_non_exhaustive()
    }
}
