//! The `sync` table: shards, each a lock (this crate's [`Mutex`]) around a [`RawTable`], and
//! death hooks that mark their entry dead under its shard's lock.
//!
//! A hook marks an entry dead (and takes it out of `len`) only if that exact entry is still
//! present and unmarked: it finds the entry whose hook handle is itself, and marking takes that
//! handle out of the entry (into the shard's dead list, which the purge drops). So an entry
//! removed or replaced while its old object was dying on another thread never counts twice,
//! and `len` is exact whenever no death is in progress on another thread. The shard of a hash
//! comes from bits the hash table does not use for its own probing.
//! No lock is held while an `Obj`, a hook handle or an owned part is dropped.

use std::mem;
use std::sync::{self as std_sync, Arc};

use weakref_core::flavor::SyncFlavor;
use weakref_core::hooks::{self, RecordKind};
use weakref_core::sync::{Obj, Weak, WeakRef};

use crate::primitive::{lock, AtomicUsize, Mutex, MutexGuard, Ordering};
use crate::raw::{dispose_all, Entry, Hasher, RawTable, HOOK_NAME};

/// An entry of the `sync` flavour.
pub(crate) type SEntry<H, O, W> = Entry<H, O, W, SyncFlavor>;

/// Shards per collection (a power of two).
const N_SHARDS: usize = if cfg!(weakref_loom) { 2 } else { 16 };

/// The part of a shard behind its lock.
pub(crate) struct ShardState<H, O, W: 'static> {
    raw: RawTable<H, O, W, SyncFlavor>,
    /// For each marking of an entry as dead, waiting for a purge: the entry's hash and the hook
    /// handle it gave up (to be dropped with no lock held). A hash whose entry was removed or
    /// revived since is stale.
    dead: Vec<(u64, WeakRef<W>)>,
}

/// A shard, alone on its cache lines: threads working on different shards do not contend.
#[repr(align(128))]
struct Shard<H, O, W: 'static> {
    state: Mutex<ShardState<H, O, W>>,
    /// `dead_keys.len()`, readable without the lock.
    n_queued: AtomicUsize,
}

/// What a collection and its hooks share (the hooks hold it weakly).
pub(crate) struct Inner<H, O, W: 'static> {
    /// Inline, so that reaching a shard is no extra load.
    shards: [Shard<H, O, W>; N_SHARDS],
    /// Entries not marked dead.
    len: AtomicUsize,
    /// Keys waiting in every shard's `dead_keys`: mutating calls read only this when nothing died.
    n_queued: AtomicUsize,
    hasher: Hasher,
}

/// The shared body of the three `sync` collections.
pub(crate) struct Table<H, O, W: 'static> {
    inner: Arc<Inner<H, O, W>>,
}

/// What [`ShardRef::replace_weak`] found: the entry's live object, and its old hook if it
/// was replaced.
pub(crate) type Replaced<W> = (Option<Obj<W>>, Option<WeakRef<W>>);

/// A locked shard, with what its operations need.
pub(crate) struct ShardRef<'a, H, O, W: 'static> {
    state: MutexGuard<'a, ShardState<H, O, W>>,
    inner: &'a Arc<Inner<H, O, W>>,
}

impl<H, O, W> Table<H, O, W>
where
    H: Send + 'static,
    O: Send + 'static,
    W: Send + Sync + 'static,
{
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(N_SHARDS);
        let shards = std::array::from_fn(|_| Shard {
            state: Mutex::new(ShardState {
                raw: RawTable::with_capacity(per_shard),
                dead: Vec::new(),
            }),
            n_queued: AtomicUsize::new(0),
        });
        Table {
            inner: Arc::new(Inner {
                shards,
                len: AtomicUsize::new(0),
                n_queued: AtomicUsize::new(0),
                hasher: Hasher::default(),
            }),
        }
    }

    #[inline]
    pub(crate) fn hash<Q: std::hash::Hash + ?Sized>(&self, value: &Q) -> u64 {
        self.inner.hasher.hash(value)
    }

    /// Entries not marked dead: exact whenever no death is in progress on another thread.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.inner.len.load(Ordering::Acquire)
    }

    /// Locks the shard of `hash`. Only `Hash`, `Eq` and `Clone` of the parts may run under it.
    #[inline]
    pub(crate) fn shard(&self, hash: u64) -> ShardRef<'_, H, O, W> {
        self.shard_at(shard_of(hash))
    }

    #[inline]
    fn shard_at(&self, shard_idx: usize) -> ShardRef<'_, H, O, W> {
        ShardRef {
            state: lock(&self.inner.shards[shard_idx].state),
            inner: &self.inner,
        }
    }

    /// Removes every entry marked dead, dropping owned parts with no lock held, until none is
    /// left (the drops may kill more). Each marked entry is handled once.
    #[inline]
    pub(crate) fn purge(&self) {
        if self.inner.n_queued.load(Ordering::Acquire) > 0 {
            self.purge_slow();
        }
    }

    #[cold]
    fn purge_slow(&self) {
        while self.inner.n_queued.load(Ordering::Acquire) > 0 {
            let (mut garbage, mut handles) = (Vec::new(), Vec::new());
            for (shard_idx, shard) in self.inner.shards.iter().enumerate() {
                if shard.n_queued.load(Ordering::Acquire) == 0 {
                    continue;
                }
                let mut locked = self.shard_at(shard_idx);
                let dead = mem::take(&mut locked.state.dead);
                shard.n_queued.store(0, Ordering::Release);
                self.inner.n_queued.fetch_sub(dead.len(), Ordering::AcqRel);
                // One marked entry of each queued hash: each marking queued its entry's hash
                // once, so every marked entry is removed once; a stale hash may find none, or
                // one whose own hash is queued too.
                let raw = &mut locked.state.raw;
                for (hash, handle) in dead {
                    garbage.extend(raw.remove_by(hash, |entry| entry.dead()));
                    handles.push(handle);
                }
            }
            drop(handles);
            dispose_all(garbage);
        }
    }

    /// Removes and returns an unmarked entry whose object is alive, with the object.
    pub(crate) fn pop_live(&self) -> Option<(SEntry<H, O, W>, Obj<W>)> {
        self.purge();
        for shard_idx in 0..N_SHARDS {
            let mut locked = self.shard_at(shard_idx);
            let found = locked.pop_live();
            drop(locked);
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// Removes every entry; hooks are unregistered before any owned part is dropped.
    pub(crate) fn clear(&self) {
        let (mut removed, mut handles) = (Vec::new(), Vec::new());
        for shard_idx in 0..N_SHARDS {
            let mut locked = self.shard_at(shard_idx);
            let entries = locked.state.raw.drain();
            let n_live = entries.iter().filter(|e| !e.dead()).count();
            self.inner.len.fetch_sub(n_live, Ordering::AcqRel);
            let dead = mem::take(&mut locked.state.dead);
            self.inner.n_queued.fetch_sub(dead.len(), Ordering::AcqRel);
            handles.extend(dead);
            self.inner.shards[shard_idx]
                .n_queued
                .store(0, Ordering::Release);
            removed.extend(entries);
        }
        drop(handles);
        dispose_all(removed);
    }

    /// `f` of every unmarked entry, shard by shard (each under its lock): a snapshot.
    pub(crate) fn snapshot<T>(&self, mut f: impl FnMut(&SEntry<H, O, W>) -> T) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        for shard_idx in 0..N_SHARDS {
            let locked = self.shard_at(shard_idx);
            out.extend(locked.state.raw.iter().filter(|e| !e.dead()).map(&mut f));
        }
        out
    }
}

#[inline]
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize & (N_SHARDS - 1)
}

impl<H, O, W> ShardRef<'_, H, O, W>
where
    H: Send + 'static,
    O: Send + 'static,
    W: Send + Sync + 'static,
{
    /// The entry (marked or not) whose hashed key satisfies `eq`.
    #[inline]
    pub(crate) fn find(
        &self,
        hash: u64,
        mut eq: impl FnMut(&H) -> bool,
    ) -> Option<&SEntry<H, O, W>> {
        self.state.raw.find_by(hash, |entry| eq(&entry.key))
    }

    /// The entry (marked or not) that holds `weak` (identity-keyed tables).
    #[inline]
    pub(crate) fn find_weak(&self, hash: u64, weak: Weak<W>) -> Option<&SEntry<H, O, W>> {
        self.state.raw.find_by(hash, |entry| entry.weak == weak)
    }

    /// The entry (marked or not) that holds `weak`, mutably.
    #[inline]
    pub(crate) fn find_weak_mut(
        &mut self,
        hash: u64,
        weak: Weak<W>,
    ) -> Option<&mut SEntry<H, O, W>> {
        self.state.raw.find_by_mut(hash, |entry| entry.weak == weak)
    }

    /// Inserts a new entry (the caller found no equal key in this shard).
    pub(crate) fn insert_new(&mut self, hash: u64, key: H, val: O, obj: &Obj<W>) {
        self.state.raw.insert(Entry {
            hash,
            key,
            val,
            weak: Obj::downgrade(obj),
            hook: Some(hook(Arc::downgrade(self.inner), hash, obj)),
        });
        self.inner.len.fetch_add(1, Ordering::AcqRel);
    }

    /// For the entry whose hashed key satisfies `eq`: its live object, and (unless it has one
    /// and `replace_live` is false) its old hook after it was made to hold `obj` weakly with a
    /// new hook. Both are to be dropped with no lock held, the hook first. `None` when there
    /// is no such entry. A pending hook of the old object no longer matches the entry.
    pub(crate) fn replace_weak(
        &mut self,
        hash: u64,
        mut eq: impl FnMut(&H) -> bool,
        obj: &Obj<W>,
        replace_live: bool,
    ) -> Option<Replaced<W>> {
        let inner = self.inner;
        let entry = self.state.raw.find_by_mut(hash, |entry| eq(&entry.key))?;
        let previous = upgrade(entry);
        if previous.is_some() && !replace_live {
            return Some((previous, None));
        }
        let new_hook = hook(Arc::downgrade(inner), hash, obj);
        entry.weak = Obj::downgrade(obj);
        let revived = entry.dead();
        let old_hook = entry.hook.replace(new_hook);
        if revived {
            // The old hook's handle waits in the dead list.
            inner.len.fetch_add(1, Ordering::AcqRel);
        }
        if previous.is_none() {
            // Dead or dying (marked or not): it may have lost its place in the log.
            self.state.raw.relog(hash);
        }
        Some((previous, old_hook))
    }

    /// Takes the entry for which `eq` holds out; the caller disposes of it with no lock held.
    pub(crate) fn remove_by(
        &mut self,
        hash: u64,
        eq: impl FnMut(&SEntry<H, O, W>) -> bool,
    ) -> Option<SEntry<H, O, W>> {
        let entry = self.state.raw.remove_by(hash, eq)?;
        if !entry.dead() {
            self.inner.len.fetch_sub(1, Ordering::AcqRel);
        }
        // A marked entry's hash stays in `dead`: a stale hash for the purge.
        Some(entry)
    }

    /// Takes out an unmarked entry whose object is alive, with the object.
    fn pop_live(&mut self) -> Option<(SEntry<H, O, W>, Obj<W>)> {
        let mut obj = None;
        // Rejected entries are dead or dying: their hooks mark them for the purge.
        let entry = self.state.raw.pop_any(|entry| {
            obj = upgrade(entry);
            obj.is_some()
        })?;
        self.inner.len.fetch_sub(1, Ordering::AcqRel);
        Some((entry, obj?))
    }
}

/// The object of an unmarked entry, if alive.
#[inline]
pub(crate) fn upgrade<H, O, W: 'static>(entry: &SEntry<H, O, W>) -> Option<Obj<W>> {
    if entry.dead() {
        return None;
    }
    entry.weak.upgrade()
}

/// Registers on `obj` the hook of an entry of `hash`: it marks that entry dead if it is still
/// present with this very hook (not removed, nor given another object and hook since).
fn hook<H, O, W>(inner: std_sync::Weak<Inner<H, O, W>>, hash: u64, obj: &Obj<W>) -> WeakRef<W>
where
    H: Send + 'static,
    O: Send + 'static,
    W: Send + Sync + 'static,
{
    let callback = move |hook: &WeakRef<W>| {
        let Some(inner) = inner.upgrade() else { return };
        {
            let shard = &inner.shards[shard_of(hash)];
            let mut state = lock(&shard.state);
            // The hook runs while it exists, so no other hook has its address meanwhile.
            let entry = state.raw.find_by_mut(hash, |e| {
                e.hook
                    .as_ref()
                    .is_some_and(|own| WeakRef::ptr_eq(own, hook))
            });
            // Taking the entry's handle marks it dead.
            if let Some(handle) = entry.and_then(|entry| entry.hook.take()) {
                state.dead.push((hash, handle));
                shard.n_queued.fetch_add(1, Ordering::AcqRel);
                inner.n_queued.fetch_add(1, Ordering::AcqRel);
                inner.len.fetch_sub(1, Ordering::AcqRel);
            }
        }
        // If the collection was dropped meanwhile, this may be the last `Arc`: its drop
        // emptied every shard and dead list first, so nothing of the user's (nor any hook
        // handle) is dropped here.
        drop(inner);
    };
    hooks::register(obj, RecordKind::DeathHook, HOOK_NAME, Some(callback))
}

impl<H, O, W: 'static> Drop for Table<H, O, W> {
    fn drop(&mut self) {
        let (mut removed, mut handles) = (Vec::new(), Vec::new());
        for shard in self.inner.shards.iter() {
            let mut state = lock(&shard.state);
            removed.extend(state.raw.drain());
            handles.extend(mem::take(&mut state.dead));
        }
        drop(handles);
        dispose_all(removed);
    }
}
