//! [`WeakSet`] (Python's `WeakSet`, `unsync` flavour) and its iterator.
//!
//! ```
//! use weakref_collections::unsync::weak_set::{Iter, WeakSet};
//! let set = WeakSet::<u8>::new();
//! let iter: Iter<'_, u8> = set.iter();
//! assert_eq!(iter.count(), 0);
//! ```

use std::fmt;

use weakref_core::unsync::{AsWeak, Obj};

use super::weak_key_map::{self, WeakKeyMap};
use crate::raw::Identity;

/// Python's `WeakSet` for one thread: members are objects held weakly and identified by
/// identity ([`Obj::ptr_eq`]). A member that died is gone at once.
///
/// ```
/// use weakref_collections::unsync::WeakSet;
/// use weakref_core::unsync::Obj;
///
/// let (a, b) = (Obj::new("a"), Obj::new("b"));
/// let mut listeners = WeakSet::new();
/// listeners.insert(&a);
/// listeners.insert(&b);
/// drop(a);
/// assert_eq!(listeners.len(), 1);
/// assert!(listeners.contains(&b));
/// ```
pub struct WeakSet<T: 'static> {
    map: WeakKeyMap<T, ()>,
}

impl<T: 'static> WeakSet<T> {
    /// An empty set.
    ///
    /// ```
    /// assert!(weakref_collections::unsync::WeakSet::<u8>::new().is_empty());
    /// ```
    pub fn new() -> Self {
        WeakSet {
            map: WeakKeyMap::new(),
        }
    }

    /// An empty set with room for `capacity` members.
    ///
    /// ```
    /// assert!(weakref_collections::unsync::WeakSet::<u8>::with_capacity(4).is_empty());
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        WeakSet {
            map: WeakKeyMap::with_capacity(capacity),
        }
    }

    /// Adds the object `value`; false if it was already a member.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let x = Obj::new(1);
    /// let mut set = WeakSet::new();
    /// assert!(set.insert(&x));
    /// assert!(!set.insert(&x));
    /// assert!(set.insert(&Obj::new(1))); // another object, equal value
    /// ```
    pub fn insert(&mut self, value: &Obj<T>) -> bool {
        self.map.insert(value, ()).is_none()
    }

    /// Removes the object `value` names; false if it was not a member.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let x = Obj::new(1);
    /// let mut set = WeakSet::new();
    /// set.insert(&x);
    /// assert!(set.remove(&x));
    /// assert!(!set.remove(&x));
    /// ```
    pub fn remove(&mut self, value: &impl AsWeak<T>) -> bool {
        self.map.remove(value).is_some()
    }

    /// Removes and returns a live member (which one is unspecified).
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let x = Obj::new(1);
    /// let mut set = WeakSet::new();
    /// set.insert(&x);
    /// assert!(Obj::ptr_eq(&set.pop().unwrap(), &x));
    /// assert!(set.pop().is_none());
    /// ```
    pub fn pop(&mut self) -> Option<Obj<T>> {
        self.map.pop_item().map(|(k, ())| k)
    }

    /// Whether the object `value` names is a live member.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let x = Obj::new(1);
    /// let mut set = WeakSet::new();
    /// set.insert(&x);
    /// assert!(set.contains(&Obj::downgrade(&x)));
    /// ```
    #[inline]
    pub fn contains(&self, value: &impl AsWeak<T>) -> bool {
        self.map.contains_key(value)
    }

    /// Live members (exact, O(1)).
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let x = Obj::new(1);
    /// let set: WeakSet<_> = [&x].into_iter().collect();
    /// assert_eq!(set.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no member is alive.
    ///
    /// ```
    /// assert!(weakref_collections::unsync::WeakSet::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes every member.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let x = Obj::new(1);
    /// let mut set: WeakSet<_> = [&x].into_iter().collect();
    /// set.clear();
    /// assert!(set.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Forgets dead members now.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let mut set = WeakSet::new();
    /// set.insert(&Obj::new(1));
    /// set.purge();
    /// assert!(set.is_empty());
    /// ```
    pub fn purge(&mut self) {
        self.map.purge();
    }

    /// Iterates over the live members, as strong handles.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let x = Obj::new(1);
    /// let set: WeakSet<_> = [&x].into_iter().collect();
    /// assert_eq!(set.iter().map(|m| *m).sum::<i32>(), 1);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            keys: self.map.keys(),
        }
    }

    /// The members of either set (held weakly).
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let (x, y) = (Obj::new(1), Obj::new(2));
    /// let a: WeakSet<_> = [&x].into_iter().collect();
    /// let b: WeakSet<_> = [&y].into_iter().collect();
    /// assert_eq!(a.union(&b).len(), 2);
    /// ```
    pub fn union(&self, other: &WeakSet<T>) -> WeakSet<T> {
        self.iter().chain(other.iter()).collect()
    }

    /// The members of both sets.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let (x, y) = (Obj::new(1), Obj::new(2));
    /// let a: WeakSet<_> = [&x, &y].into_iter().collect();
    /// let b: WeakSet<_> = [&y].into_iter().collect();
    /// assert!(a.intersection(&b).contains(&y));
    /// assert_eq!(a.intersection(&b).len(), 1);
    /// ```
    pub fn intersection(&self, other: &WeakSet<T>) -> WeakSet<T> {
        self.iter().filter(|m| other.contains(m)).collect()
    }

    /// The members of `self` that are not in `other`.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let (x, y) = (Obj::new(1), Obj::new(2));
    /// let a: WeakSet<_> = [&x, &y].into_iter().collect();
    /// let b: WeakSet<_> = [&y].into_iter().collect();
    /// assert!(a.difference(&b).contains(&x));
    /// assert_eq!(a.difference(&b).len(), 1);
    /// ```
    pub fn difference(&self, other: &WeakSet<T>) -> WeakSet<T> {
        self.iter().filter(|m| !other.contains(m)).collect()
    }

    /// The members of exactly one of the sets.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let (x, y, z) = (Obj::new(1), Obj::new(2), Obj::new(3));
    /// let a: WeakSet<_> = [&x, &y].into_iter().collect();
    /// let b: WeakSet<_> = [&y, &z].into_iter().collect();
    /// let s = a.symmetric_difference(&b);
    /// assert!(s.contains(&x) && s.contains(&z) && !s.contains(&y));
    /// ```
    pub fn symmetric_difference(&self, other: &WeakSet<T>) -> WeakSet<T> {
        let mut result = self.difference(other);
        result.extend(other.iter().filter(|m| !self.contains(m)));
        result
    }

    /// Whether every live member of `self` is in `other`.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let (x, y) = (Obj::new(1), Obj::new(2));
    /// let a: WeakSet<_> = [&x].into_iter().collect();
    /// let b: WeakSet<_> = [&x, &y].into_iter().collect();
    /// assert!(a.is_subset(&b) && !b.is_subset(&a));
    /// ```
    pub fn is_subset(&self, other: &WeakSet<T>) -> bool {
        self.iter().all(|m| other.contains(&m))
    }

    /// Whether every live member of `other` is in `self`.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let (x, y) = (Obj::new(1), Obj::new(2));
    /// let a: WeakSet<_> = [&x].into_iter().collect();
    /// let b: WeakSet<_> = [&x, &y].into_iter().collect();
    /// assert!(b.is_superset(&a));
    /// ```
    pub fn is_superset(&self, other: &WeakSet<T>) -> bool {
        other.is_subset(self)
    }

    /// Whether the sets have no live member in common.
    ///
    /// ```
    /// use weakref_collections::unsync::WeakSet;
    /// use weakref_core::unsync::Obj;
    /// let (x, y) = (Obj::new(1), Obj::new(2));
    /// let a: WeakSet<_> = [&x].into_iter().collect();
    /// let b: WeakSet<_> = [&y].into_iter().collect();
    /// assert!(a.is_disjoint(&b));
    /// ```
    pub fn is_disjoint(&self, other: &WeakSet<T>) -> bool {
        !self.iter().any(|m| other.contains(&m))
    }
}

impl<T: 'static> Default for WeakSet<T> {
    /// An empty set.
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static> Clone for WeakSet<T> {
    /// Python's `copy()`: a new set of the live members.
    fn clone(&self) -> Self {
        self.iter().collect()
    }
}

impl<T: 'static> PartialEq for WeakSet<T> {
    /// Same live members (by identity).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.is_subset(other)
    }
}

impl<T: 'static> Eq for WeakSet<T> {}

impl<T: 'static> fmt::Debug for WeakSet<T> {
    /// The live members, as std's sets print, each as `TypeName@0x…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = f.debug_set();
        for member in self.iter() {
            set.entry(&Identity(&member));
        }
        set.finish()
    }
}

impl<T: 'static> Extend<Obj<T>> for WeakSet<T> {
    fn extend<I: IntoIterator<Item = Obj<T>>>(&mut self, iter: I) {
        for member in iter {
            self.insert(&member);
        }
    }
}

impl<'a, T: 'static> Extend<&'a Obj<T>> for WeakSet<T> {
    fn extend<I: IntoIterator<Item = &'a Obj<T>>>(&mut self, iter: I) {
        for member in iter {
            self.insert(member);
        }
    }
}

impl<T: 'static> FromIterator<Obj<T>> for WeakSet<T> {
    fn from_iter<I: IntoIterator<Item = Obj<T>>>(iter: I) -> Self {
        let mut set = Self::new();
        set.extend(iter);
        set
    }
}

impl<'a, T: 'static> FromIterator<&'a Obj<T>> for WeakSet<T> {
    fn from_iter<I: IntoIterator<Item = &'a Obj<T>>>(iter: I) -> Self {
        let mut set = Self::new();
        set.extend(iter);
        set
    }
}

impl<'a, T: 'static> IntoIterator for &'a WeakSet<T> {
    type Item = Obj<T>;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// The iterator of [`WeakSet::iter`]: the live members as strong handles.
///
/// ```
/// use weakref_collections::unsync::{weak_set::Iter, WeakSet};
/// let set = WeakSet::<u8>::new();
/// let iter: Iter<'_, u8> = set.iter();
/// assert_eq!(iter.count(), 0);
/// ```
pub struct Iter<'a, T: 'static> {
    keys: weak_key_map::Keys<'a, T, ()>,
}

impl<T: 'static> Iterator for Iter<'_, T> {
    type Item = Obj<T>;

    fn next(&mut self) -> Option<Obj<T>> {
        self.keys.next()
    }
}

impl<T: 'static> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}
