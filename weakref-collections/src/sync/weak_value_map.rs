//! [`WeakValueMap`] (Python's `WeakValueDictionary`, `sync` flavour) and its iterators.
//!
//! ```
//! use weakref_collections::sync::weak_value_map::{Iter, WeakValueMap};
//! let map = WeakValueMap::<u8, u8>::new();
//! let iter: Iter<'_, u8, u8> = map.iter();
//! assert_eq!(iter.count(), 0);
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::vec;

use weakref_core::sync::{Obj, Weak, WeakRef};

use super::table::{upgrade, SEntry, Table};

/// Python's `WeakValueDictionary` for many threads: `&self` everywhere, sharded locks. Values
/// are held weakly; an entry whose value died is gone at once (`get`, `contains_key`, `len`,
/// iteration); its key is dropped no later than the next call of a method that may change the
/// map (`insert`, `remove`, `pop_item`, `clear`, `retain`, `get_or_insert_with`,
/// `try_get_or_insert_with`, `purge`). Operations on one key are linearizable.
///
/// No lock is held while a `Drop`, a callback or a closure argument runs. `K`'s `Hash`, `Eq`
/// and `Clone` may run under a shard lock and must not use the same map (that deadlocks).
///
/// ```
/// use std::sync::Arc;
/// use weakref_collections::sync::WeakValueMap;
/// use weakref_core::sync::Obj;
///
/// let cache = Arc::new(WeakValueMap::new());
/// let value = Obj::new(42);
/// cache.insert("answer", &value);
/// let reader = Arc::clone(&cache);
/// std::thread::spawn(move || assert_eq!(*reader.get("answer").unwrap(), 42))
///     .join()
///     .unwrap();
/// drop(value);
/// assert!(cache.is_empty());
/// ```
///
/// # A cache holds only what someone else holds
/// A weak cache keeps nothing between two requests unless callers keep the values; pair it
/// with a small strong cache of recent values to keep those alive:
///
/// ```
/// use std::collections::VecDeque;
/// use std::sync::Mutex;
/// use weakref_collections::sync::WeakValueMap;
/// use weakref_core::sync::Obj;
///
/// let weak = WeakValueMap::new();
/// let recent = Mutex::new(VecDeque::new());
/// let get = |id: u32| {
///     let value = weak.get_or_insert_with(id, || Obj::new(format!("object {id}")));
///     let mut recent = recent.lock().unwrap();
///     if recent.len() == 2 {
///         recent.pop_front();
///     }
///     recent.push_back(value.clone());
///     value
/// };
/// let first = Obj::as_ptr(&get(1));
/// assert_eq!(Obj::as_ptr(&get(1)), first); // kept alive by `recent`
/// get(2);
/// get(3); // 1 leaves `recent`: nobody holds it any more
/// assert!(!weak.contains_key(&1));
/// ```
pub struct WeakValueMap<K, V: 'static> {
    table: Table<K, (), V>,
}

impl<K, V> WeakValueMap<K, V>
where
    K: Hash + Eq + Send + 'static,
    V: Send + Sync + 'static,
{
    /// An empty map.
    ///
    /// ```
    /// let map = weakref_collections::sync::WeakValueMap::<u8, u8>::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty map with room for about `capacity` entries.
    ///
    /// ```
    /// let map = weakref_collections::sync::WeakValueMap::<u8, u8>::with_capacity(64);
    /// assert_eq!(map.len(), 0);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        WeakValueMap {
            table: Table::with_capacity(capacity),
        }
    }

    /// Entries whose value is alive (O(1); exact whenever no death is in progress on another
    /// thread).
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let map = WeakValueMap::new();
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
    /// assert!(weakref_collections::sync::WeakValueMap::<u8, u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the keys of dead entries now (including entries that die because of those drops).
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let map = WeakValueMap::new();
    /// map.insert(String::from("k"), &Obj::new(1)); // dies at once
    /// map.purge(); // the key is dropped here
    /// assert!(map.is_empty());
    /// ```
    pub fn purge(&self) {
        self.table.purge();
    }

    /// Removes every entry.
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let v = Obj::new(1);
    /// let map: WeakValueMap<_, _> = [(1, &v), (2, &v)].into_iter().collect();
    /// map.clear();
    /// assert!(map.is_empty());
    /// ```
    pub fn clear(&self) {
        self.table.clear();
    }

    /// Removes and returns a live entry (which one is unspecified).
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let v = Obj::new(7);
    /// let map = WeakValueMap::new();
    /// map.insert("a", &v);
    /// let (k, obj) = map.pop_item().unwrap();
    /// assert_eq!((k, *obj), ("a", 7));
    /// assert!(map.pop_item().is_none());
    /// ```
    pub fn pop_item(&self) -> Option<(K, Obj<V>)> {
        let (entry, obj) = self.table.pop_live()?;
        let SEntry { key, hook, .. } = entry;
        drop(hook);
        Some((key, obj))
    }

    /// The live values, as strong handles (a snapshot of the entries, taken now).
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let v = Obj::new(1);
    /// let map = WeakValueMap::new();
    /// map.insert("a", &v);
    /// assert!(map.values().all(|obj| Obj::ptr_eq(&obj, &v)));
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values {
            weaks: self.table.snapshot(|entry| entry.weak).into_iter(),
            _map: PhantomData,
        }
    }

    /// Python's `valuerefs()`: a [`WeakRef`] to each live value.
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let v = Obj::new(1);
    /// let map = WeakValueMap::new();
    /// map.insert("a", &v);
    /// assert!(map.valuerefs()[0].get().is_some());
    /// ```
    pub fn valuerefs(&self) -> Vec<WeakRef<V>> {
        self.values().map(|obj| WeakRef::new(&obj)).collect()
    }

    /// Maps `key` to `value` (held weakly); returns the previous live value. An equal key
    /// already present is kept, as a Python dict does.
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let (a, b) = (Obj::new(1), Obj::new(2));
    /// let map = WeakValueMap::new();
    /// assert!(map.insert("k", &a).is_none());
    /// assert!(Obj::ptr_eq(&map.insert("k", &b).unwrap(), &a));
    /// assert_eq!(*map.get("k").unwrap(), 2);
    /// ```
    pub fn insert(&self, key: K, value: &Obj<V>) -> Option<Obj<V>> {
        self.table.purge();
        let hash = self.table.hash(&key);
        let mut shard = self.table.shard(hash);
        match shard.replace_weak(hash, |k| *k == key, value, true) {
            Some((previous, old_hook)) => {
                drop(shard);
                drop(old_hook);
                drop(key);
                previous
            }
            None => {
                shard.insert_new(hash, key, (), value);
                None
            }
        }
    }

    /// The live value of `key`.
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let v = Obj::new(1);
    /// let map = WeakValueMap::new();
    /// map.insert(String::from("k"), &v);
    /// assert!(map.get("k").is_some()); // looked up by &str
    /// ```
    #[inline]
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<Obj<V>>
    where
        K: Borrow<Q>,
    {
        let hash = self.table.hash(key);
        let shard = self.table.shard(hash);
        upgrade(shard.find(hash, |k| k.borrow() == key)?)
    }

    /// Whether `key` has a live value.
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let v = Obj::new(1);
    /// let map = WeakValueMap::new();
    /// map.insert(1, &v);
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// ```
    #[inline]
    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        let hash = self.table.hash(key);
        let shard = self.table.shard(hash);
        shard
            .find(hash, |k| k.borrow() == key)
            .is_some_and(|entry| !entry.dead() && entry.weak.is_alive())
    }

    /// Removes `key`; returns its live value.
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let v = Obj::new(1);
    /// let map = WeakValueMap::new();
    /// map.insert(1, &v);
    /// assert!(map.remove(&1).is_some());
    /// assert!(map.remove(&1).is_none());
    /// ```
    pub fn remove<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<Obj<V>>
    where
        K: Borrow<Q>,
    {
        self.table.purge();
        let hash = self.table.hash(key);
        let mut shard = self.table.shard(hash);
        let entry = shard.remove_by(hash, |entry| entry.key.borrow() == key)?;
        let previous = upgrade(&entry);
        drop(shard);
        entry.dispose();
        previous
    }

    /// Python's `setdefault`: the live value of `key`, or else `f()`'s, inserted. Never dead.
    /// `f` runs with no lock held and may run on several racing threads; one result is kept
    /// and returned to all.
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let map = WeakValueMap::new();
    /// let a = map.get_or_insert_with("k", || Obj::new(1));
    /// let b = map.get_or_insert_with("k", || Obj::new(2));
    /// assert!(Obj::ptr_eq(&a, &b));
    /// ```
    pub fn get_or_insert_with(&self, key: K, f: impl FnOnce() -> Obj<V>) -> Obj<V> {
        match self.try_get_or_insert_with(key, || Ok::<_, std::convert::Infallible>(f())) {
            Ok(obj) => obj,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) with a loader that can fail:
    /// nothing is inserted on `Err`.
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let map: WeakValueMap<&str, i32> = WeakValueMap::new();
    /// assert_eq!(map.try_get_or_insert_with("k", || Err("no")).unwrap_err(), "no");
    /// assert!(map.is_empty());
    /// let v = map.try_get_or_insert_with("k", || Ok::<_, ()>(Obj::new(1))).unwrap();
    /// assert_eq!(*v, 1);
    /// ```
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        f: impl FnOnce() -> Result<Obj<V>, E>,
    ) -> Result<Obj<V>, E> {
        self.table.purge();
        if let Some(obj) = self.get(&key) {
            return Ok(obj);
        }
        let obj = f()?;
        let hash = self.table.hash(&key);
        let mut shard = self.table.shard(hash);
        match shard.replace_weak(hash, |k| *k == key, &obj, false) {
            Some((Some(winner), _)) => {
                // Another thread inserted a live value meanwhile: keep it.
                drop(shard);
                drop((obj, key));
                return Ok(winner);
            }
            Some((None, old_hook)) => {
                drop(shard);
                drop((old_hook, key));
            }
            None => {
                shard.insert_new(hash, key, (), &obj);
            }
        }
        Ok(obj)
    }
}

impl<K, V> WeakValueMap<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Send + Sync + 'static,
{
    /// Iterates over a snapshot of the entries taken now, as `(K, Obj<V>)`; entries that die
    /// meanwhile are skipped. Entries inserted or removed later may or may not appear.
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let v = Obj::new(1);
    /// let map = WeakValueMap::new();
    /// map.insert("a", &v);
    /// for (k, obj) in &map {
    ///     assert_eq!((k, *obj), ("a", 1));
    /// }
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            entries: self
                .table
                .snapshot(|entry| (entry.key.clone(), entry.weak))
                .into_iter(),
            _map: PhantomData,
        }
    }

    /// The keys of the live entries (a snapshot).
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let v = Obj::new(1);
    /// let map = WeakValueMap::new();
    /// map.insert("a", &v);
    /// assert_eq!(map.keys().collect::<Vec<_>>(), ["a"]);
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys { inner: self.iter() }
    }

    /// Keeps only the live entries for which `f` returns true. `f` runs with no lock held, on
    /// a snapshot; an entry replaced meanwhile is kept.
    ///
    /// ```
    /// use weakref_collections::sync::WeakValueMap;
    /// use weakref_core::sync::Obj;
    /// let objs: Vec<_> = (0..4).map(Obj::new).collect();
    /// let map: WeakValueMap<_, _> = objs.iter().map(|o| (**o, o)).collect();
    /// map.retain(|_, v| **v % 2 == 0);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn retain(&self, mut f: impl FnMut(&K, &Obj<V>) -> bool) {
        self.table.purge();
        let snapshot = self.table.snapshot(|entry| (entry.key.clone(), entry.weak));
        for (key, weak) in snapshot {
            let Some(obj) = weak.upgrade() else { continue };
            if !f(&key, &obj) {
                self.remove_if_holds(&key, weak);
            }
            drop(obj);
        }
    }

    /// Removes `key`'s entry if it still holds `weak`.
    fn remove_if_holds(&self, key: &K, weak: Weak<V>) {
        let hash = self.table.hash(key);
        let mut shard = self.table.shard(hash);
        let Some(entry) = shard.remove_by(hash, |entry| entry.key == *key && entry.weak == weak)
        else {
            return;
        };
        drop(shard);
        entry.dispose();
    }
}

impl<K, V> Default for WeakValueMap<K, V>
where
    K: Hash + Eq + Send + 'static,
    V: Send + Sync + 'static,
{
    /// An empty map.
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> Clone for WeakValueMap<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Send + Sync + 'static,
{
    /// Python's `copy()`: a new map of the live entries (with its own hooks).
    fn clone(&self) -> Self {
        self.iter().collect()
    }
}

impl<K, V> fmt::Debug for WeakValueMap<K, V>
where
    K: Hash + Eq + Clone + Send + fmt::Debug + 'static,
    V: Send + Sync + fmt::Debug + 'static,
{
    /// The live entries, as std's maps print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V> Extend<(K, Obj<V>)> for WeakValueMap<K, V>
where
    K: Hash + Eq + Send + 'static,
    V: Send + Sync + 'static,
{
    fn extend<I: IntoIterator<Item = (K, Obj<V>)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, &v);
        }
    }
}

impl<'a, K, V> Extend<(K, &'a Obj<V>)> for WeakValueMap<K, V>
where
    K: Hash + Eq + Send + 'static,
    V: Send + Sync + 'static,
{
    fn extend<I: IntoIterator<Item = (K, &'a Obj<V>)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K, V> FromIterator<(K, Obj<V>)> for WeakValueMap<K, V>
where
    K: Hash + Eq + Send + 'static,
    V: Send + Sync + 'static,
{
    fn from_iter<I: IntoIterator<Item = (K, Obj<V>)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<'a, K, V> FromIterator<(K, &'a Obj<V>)> for WeakValueMap<K, V>
where
    K: Hash + Eq + Send + 'static,
    V: Send + Sync + 'static,
{
    fn from_iter<I: IntoIterator<Item = (K, &'a Obj<V>)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<'a, K, V> IntoIterator for &'a WeakValueMap<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Send + Sync + 'static,
{
    type Item = (K, Obj<V>);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

/// The iterator of [`WeakValueMap::iter`]: `(K, Obj<V>)` for each entry of the snapshot that
/// is still alive.
///
/// ```
/// use weakref_collections::sync::{weak_value_map::Iter, WeakValueMap};
/// let map = WeakValueMap::<u8, u8>::new();
/// let mut iter: Iter<'_, u8, u8> = map.iter();
/// assert!(iter.next().is_none());
/// ```
pub struct Iter<'a, K, V: 'static> {
    entries: vec::IntoIter<(K, Weak<V>)>,
    _map: PhantomData<&'a ()>,
}

impl<K, V: 'static> Iterator for Iter<'_, K, V> {
    type Item = (K, Obj<V>);

    fn next(&mut self) -> Option<(K, Obj<V>)> {
        self.entries
            .by_ref()
            .find_map(|(key, weak)| Some((key, weak.upgrade()?)))
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

/// The iterator of [`WeakValueMap::keys`]: the keys of the snapshot's live entries.
///
/// ```
/// use weakref_collections::sync::{weak_value_map::Keys, WeakValueMap};
/// let map = WeakValueMap::<u8, u8>::new();
/// let keys: Keys<'_, u8, u8> = map.keys();
/// assert_eq!(keys.count(), 0);
/// ```
pub struct Keys<'a, K, V: 'static> {
    inner: Iter<'a, K, V>,
}

impl<K, V: 'static> Iterator for Keys<'_, K, V> {
    type Item = K;

    fn next(&mut self) -> Option<K> {
        self.inner.next().map(|(k, _)| k)
    }
}

impl<K, V: 'static> fmt::Debug for Keys<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

/// The iterator of [`WeakValueMap::values`]: the snapshot's live values as strong handles.
///
/// ```
/// use weakref_collections::sync::{weak_value_map::Values, WeakValueMap};
/// let map = WeakValueMap::<u8, u8>::new();
/// let values: Values<'_, u8, u8> = map.values();
/// assert_eq!(values.count(), 0);
/// ```
pub struct Values<'a, K, V: 'static> {
    weaks: vec::IntoIter<Weak<V>>,
    _map: PhantomData<&'a K>,
}

impl<K, V: 'static> Iterator for Values<'_, K, V> {
    type Item = Obj<V>;

    fn next(&mut self) -> Option<Obj<V>> {
        self.weaks.by_ref().find_map(|weak| weak.upgrade())
    }
}

impl<K, V: 'static> fmt::Debug for Values<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Values").finish_non_exhaustive()
    }
}
