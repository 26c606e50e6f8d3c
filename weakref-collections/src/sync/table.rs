//! The `sync` table: shards, each a lock around a [`RawTable`], and death hooks that mark
//! their entry dead under its shard's lock.
//!
//! A hook marks an entry dead (and takes it out of `len`) only if that exact entry is still
//! present and unmarked: its entry key is versioned and its weak side is the hook's object.
//! So an entry removed or replaced while its old object was dying on another thread never
//! counts twice, and `len` is exact whenever no death is in progress on another thread.
//! No lock is held while an `Obj`, a hook handle or an owned part is dropped.

use std::mem;
use std::sync::{self as std_sync, Arc};

use weakref_core::flavor::SyncFlavor;
use weakref_core::hooks::{self, RecordKind};
use weakref_core::sync::{Obj, WeakRef};

use crate::primitive::{AtomicUsize, Mutex, MutexGuard, Ordering};
use crate::raw::{dispose_all, Entry, EntryKey, Hasher, RawTable, HOOK_NAME};

/// An entry of the `sync` flavour.
pub(crate) type SEntry<H, O, W> = Entry<H, O, W, SyncFlavor>;

/// Shards per collection (a power of two).
const N_SHARDS: usize = if cfg!(weakref_loom) { 2 } else { 16 };

/// The part of a shard behind its lock.
pub(crate) struct ShardState<H, O, W: 'static> {
    raw: RawTable<SEntry<H, O, W>>,
    /// Keys of entries marked dead, waiting for a purge; a key whose entry was removed or
    /// revived since is skipped.
    dead_keys: Vec<EntryKey>,
}

struct Shard<H, O, W: 'static> {
    state: Mutex<ShardState<H, O, W>>,
    /// `dead_keys.len()`, readable without the lock.
    n_queued: AtomicUsize,
}

/// What a collection and its hooks share (the hooks hold it weakly).
pub(crate) struct Inner<H, O, W: 'static> {
    shards: Box<[Shard<H, O, W>]>,
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

/// A locked shard, with what its operations need.
pub(crate) struct ShardRef<'a, H, O, W: 'static> {
    state: MutexGuard<'a, ShardState<H, O, W>>,
    inner: &'a Arc<Inner<H, O, W>>,
    shard_idx: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<H, O, W> Table<H, O, W>
where
    H: Send + 'static,
    O: Send + 'static,
    W: Send + Sync + 'static,
{
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(N_SHARDS);
        let shards = (0..N_SHARDS)
            .map(|_| Shard {
                state: Mutex::new(ShardState {
                    raw: RawTable::with_capacity(per_shard),
                    dead_keys: Vec::new(),
                }),
                n_queued: AtomicUsize::new(0),
            })
            .collect();
        Table {
            inner: Arc::new(Inner {
                shards,
                len: AtomicUsize::new(0),
                n_queued: AtomicUsize::new(0),
                hasher: Hasher::default(),
            }),
        }
    }

    pub(crate) fn hash<Q: std::hash::Hash + ?Sized>(&self, value: &Q) -> u64 {
        self.inner.hasher.hash(value)
    }

    /// Entries not marked dead: exact whenever no death is in progress on another thread.
    pub(crate) fn len(&self) -> usize {
        self.inner.len.load(Ordering::Acquire)
    }

    /// Locks the shard of `hash`. Only `Hash`, `Eq` and `Clone` of the parts may run under it.
    pub(crate) fn shard(&self, hash: u64) -> ShardRef<'_, H, O, W> {
        self.shard_at(shard_of(hash))
    }

    fn shard_at(&self, shard_idx: usize) -> ShardRef<'_, H, O, W> {
        ShardRef {
            state: lock(&self.inner.shards[shard_idx].state),
            inner: &self.inner,
            shard_idx,
        }
    }

    /// Removes every entry marked dead, dropping owned parts with no lock held, until none is
    /// left (the drops may kill more). Each marked entry is handled once.
    pub(crate) fn purge(&self) {
        while self.inner.n_queued.load(Ordering::Acquire) > 0 {
            let mut garbage = Vec::new();
            for (shard_idx, shard) in self.inner.shards.iter().enumerate() {
                if shard.n_queued.load(Ordering::Acquire) == 0 {
                    continue;
                }
                let mut locked = self.shard_at(shard_idx);
                let keys = mem::take(&mut locked.state.dead_keys);
                shard.n_queued.store(0, Ordering::Release);
                self.inner.n_queued.fetch_sub(keys.len(), Ordering::AcqRel);
                for key in keys {
                    let marked = locked.state.raw.entries.get(key).is_some_and(|e| e.dead);
                    if marked {
                        garbage.extend(locked.state.raw.remove(key));
                    }
                }
            }
            dispose_all(garbage);
        }
    }

    /// Removes and returns an unmarked entry whose object is alive, with the object.
    pub(crate) fn pop_live(&self) -> Option<(SEntry<H, O, W>, Obj<W>)> {
        self.purge();
        for shard_idx in 0..N_SHARDS {
            let mut locked = self.shard_at(shard_idx);
            let found = locked.state.raw.entries.iter().find_map(|(key, entry)| {
                if entry.dead {
                    return None;
                }
                Some((key, entry.weak.upgrade()?))
            });
            if let Some((key, obj)) = found {
                let entry = locked.remove(key);
                drop(locked);
                return entry.map(|entry| (entry, obj));
            }
        }
        None
    }

    /// Removes every entry; hooks are unregistered before any owned part is dropped.
    pub(crate) fn clear(&self) {
        let mut removed = Vec::new();
        for shard_idx in 0..N_SHARDS {
            let mut locked = self.shard_at(shard_idx);
            let entries = locked.state.raw.drain();
            let n_live = entries.iter().filter(|e| !e.dead).count();
            self.inner.len.fetch_sub(n_live, Ordering::AcqRel);
            let n_keys = mem::take(&mut locked.state.dead_keys).len();
            self.inner.n_queued.fetch_sub(n_keys, Ordering::AcqRel);
            self.inner.shards[shard_idx]
                .n_queued
                .store(0, Ordering::Release);
            removed.extend(entries);
        }
        dispose_all(removed);
    }

    /// `f` of every unmarked entry, shard by shard (each under its lock): a snapshot.
    pub(crate) fn snapshot<T>(&self, mut f: impl FnMut(&SEntry<H, O, W>) -> T) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        for shard_idx in 0..N_SHARDS {
            let locked = self.shard_at(shard_idx);
            out.extend(
                locked
                    .state
                    .raw
                    .entries
                    .values()
                    .filter(|e| !e.dead)
                    .map(&mut f),
            );
        }
        out
    }
}

fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize & (N_SHARDS - 1)
}

impl<H, O, W> ShardRef<'_, H, O, W>
where
    H: Send + 'static,
    O: Send + 'static,
    W: Send + Sync + 'static,
{
    /// The key of the entry (marked or not) whose hashed key satisfies `eq`.
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(&H) -> bool) -> Option<EntryKey> {
        self.state.raw.find(hash, |entry| eq(&entry.key))
    }

    pub(crate) fn entry(&self, key: EntryKey) -> &SEntry<H, O, W> {
        &self.state.raw.entries[key]
    }

    pub(crate) fn entry_mut(&mut self, key: EntryKey) -> &mut SEntry<H, O, W> {
        &mut self.state.raw.entries[key]
    }

    /// The object of an unmarked entry, if alive (an `Obj` to drop with no lock held).
    pub(crate) fn upgrade(&self, key: EntryKey) -> Option<Obj<W>> {
        let entry = self.entry(key);
        if entry.dead {
            return None;
        }
        entry.weak.upgrade()
    }

    fn hook(&self, key: EntryKey, obj: &Obj<W>) -> WeakRef<W> {
        let hook = death_hook(Arc::downgrade(self.inner), self.shard_idx, key);
        hooks::register(obj, RecordKind::DeathHook, HOOK_NAME, Some(hook))
    }

    /// Inserts a new entry (the caller found no equal key in this shard).
    pub(crate) fn insert_new(&mut self, hash: u64, key: H, val: O, obj: &Obj<W>) -> EntryKey {
        let hook_target = Arc::downgrade(self.inner);
        let shard_idx = self.shard_idx;
        let entry_key = self.state.raw.insert_with_key(hash, |entry_key| Entry {
            hash,
            key,
            val,
            weak: Obj::downgrade(obj),
            hook: hooks::register(
                obj,
                RecordKind::DeathHook,
                HOOK_NAME,
                Some(death_hook(hook_target, shard_idx, entry_key)),
            ),
            dead: false,
        });
        self.inner.len.fetch_add(1, Ordering::AcqRel);
        entry_key
    }

    /// Makes the entry at `key` hold `obj` weakly with a new hook; returns the old hook, to be
    /// dropped with no lock held. A pending hook of the old object no longer matches the entry.
    pub(crate) fn replace_weak(&mut self, key: EntryKey, obj: &Obj<W>) -> WeakRef<W> {
        let new_hook = self.hook(key, obj);
        let entry = &mut self.state.raw.entries[key];
        if entry.dead {
            entry.dead = false;
            self.inner.len.fetch_add(1, Ordering::AcqRel);
        }
        entry.weak = Obj::downgrade(obj);
        mem::replace(&mut entry.hook, new_hook)
    }

    /// Takes the entry at `key` out; the caller disposes of it with no lock held.
    pub(crate) fn remove(&mut self, key: EntryKey) -> Option<SEntry<H, O, W>> {
        let entry = self.state.raw.remove(key)?;
        if !entry.dead {
            self.inner.len.fetch_sub(1, Ordering::AcqRel);
        }
        // A marked entry's key stays in `dead_keys`; the purge finds it gone and skips it.
        Some(entry)
    }
}

/// The hook of the entry at `key` in shard `shard_idx`: marks it dead if that exact entry is
/// still present, unmarked and holding the hook's object.
fn death_hook<H, O, W>(
    inner: std_sync::Weak<Inner<H, O, W>>,
    shard_idx: usize,
    key: EntryKey,
) -> impl FnOnce(&WeakRef<W>) + Send + 'static
where
    H: Send + 'static,
    O: Send + 'static,
    W: Send + Sync + 'static,
{
    move |hook| {
        let Some(inner) = inner.upgrade() else { return };
        let target = hook.downgrade();
        {
            let shard = &inner.shards[shard_idx];
            let mut state = lock(&shard.state);
            if let Some(entry) = state.raw.entries.get_mut(key) {
                if !entry.dead && entry.weak == target {
                    entry.dead = true;
                    state.dead_keys.push(key);
                    shard.n_queued.fetch_add(1, Ordering::AcqRel);
                    inner.n_queued.fetch_add(1, Ordering::AcqRel);
                    inner.len.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        // If the collection was dropped meanwhile, this may be the last `Arc`: its drop
        // emptied every shard first, so nothing of the user's is dropped here.
        drop(inner);
    }
}

impl<H, O, W: 'static> Drop for Table<H, O, W> {
    fn drop(&mut self) {
        let mut removed = Vec::new();
        for shard in self.inner.shards.iter() {
            removed.extend(lock(&shard.state).raw.drain());
        }
        dispose_all(removed);
    }
}
