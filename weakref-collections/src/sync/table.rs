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
    /// The hashes of entries marked dead, one per marking, waiting for a purge; a hash whose
    /// entry was removed or revived since is stale.
    dead_hashes: Vec<u64>,
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
                    dead_hashes: Vec::new(),
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
            let mut garbage = Vec::new();
            for (shard_idx, shard) in self.inner.shards.iter().enumerate() {
                if shard.n_queued.load(Ordering::Acquire) == 0 {
                    continue;
                }
                let mut locked = self.shard_at(shard_idx);
                let hashes = mem::take(&mut locked.state.dead_hashes);
                shard.n_queued.store(0, Ordering::Release);
                self.inner
                    .n_queued
                    .fetch_sub(hashes.len(), Ordering::AcqRel);
                // One marked entry of each queued hash: each marking queued its entry's hash
                // once, so every marked entry is removed once; a stale hash may find none, or
                // one whose own hash is queued too.
                let raw = &mut locked.state.raw;
                for hash in hashes {
                    if let Some(pos) = raw.find_by(hash, |entry| entry.dead) {
                        garbage.push(raw.remove(pos));
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
            let found = locked
                .state
                .raw
                .entries()
                .iter()
                .enumerate()
                .find_map(|(pos, entry)| {
                    if entry.dead {
                        return None;
                    }
                    Some((pos, entry.weak.upgrade()?))
                });
            if let Some((pos, obj)) = found {
                let entry = locked.remove(pos);
                drop(locked);
                return Some((entry, obj));
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
            let n_hashes = mem::take(&mut locked.state.dead_hashes).len();
            self.inner.n_queued.fetch_sub(n_hashes, Ordering::AcqRel);
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
                    .entries()
                    .iter()
                    .filter(|e| !e.dead)
                    .map(&mut f),
            );
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
    /// The position of the entry (marked or not) whose hashed key satisfies `eq`.
    #[inline]
    pub(crate) fn find(&self, hash: u64, eq: impl FnMut(&H) -> bool) -> Option<usize> {
        self.state.raw.find(hash, eq)
    }

    /// The position of the entry (marked or not) that holds `weak` (identity-keyed tables).
    #[inline]
    pub(crate) fn find_weak(&self, hash: u64, weak: Weak<W>) -> Option<usize> {
        self.state.raw.find_weak(hash, weak)
    }

    #[inline]
    pub(crate) fn entry(&self, pos: usize) -> &SEntry<H, O, W> {
        self.state.raw.get(pos)
    }

    #[inline]
    pub(crate) fn entry_mut(&mut self, pos: usize) -> &mut SEntry<H, O, W> {
        self.state.raw.get_mut(pos)
    }

    /// The object of an unmarked entry, if alive (an `Obj` to drop with no lock held).
    #[inline]
    pub(crate) fn upgrade(&self, pos: usize) -> Option<Obj<W>> {
        upgrade(self.entry(pos))
    }

    /// Inserts a new entry (the caller found no equal key in this shard).
    pub(crate) fn insert_new(&mut self, hash: u64, key: H, val: O, obj: &Obj<W>) -> usize {
        let pos = self.state.raw.insert(Entry {
            hash,
            key,
            val,
            weak: Obj::downgrade(obj),
            hook: hook(Arc::downgrade(self.inner), hash, obj),
            dead: false,
        });
        self.inner.len.fetch_add(1, Ordering::AcqRel);
        pos
    }

    /// Makes the entry at `pos` hold `obj` weakly with a new hook; returns the old hook, to be
    /// dropped with no lock held. A pending hook of the old object no longer matches the entry.
    pub(crate) fn replace_weak(&mut self, pos: usize, obj: &Obj<W>) -> WeakRef<W> {
        let new_hook = hook(Arc::downgrade(self.inner), self.entry(pos).hash, obj);
        let entry = self.state.raw.get_mut(pos);
        if entry.dead {
            entry.dead = false;
            self.inner.len.fetch_add(1, Ordering::AcqRel);
        }
        entry.weak = Obj::downgrade(obj);
        mem::replace(&mut entry.hook, new_hook)
    }

    /// Takes the entry at `pos` out (the last entry moves to `pos`); the caller disposes of it
    /// with no lock held.
    pub(crate) fn remove(&mut self, pos: usize) -> SEntry<H, O, W> {
        let entry = self.state.raw.remove(pos);
        if !entry.dead {
            self.inner.len.fetch_sub(1, Ordering::AcqRel);
        }
        // A marked entry's hash stays in `dead_hashes`: a stale hash for the purge.
        entry
    }
}

/// The object of an unmarked entry, if alive.
#[inline]
pub(crate) fn upgrade<H, O, W: 'static>(entry: &SEntry<H, O, W>) -> Option<Obj<W>> {
    if entry.dead {
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
            if let Some(pos) = state.raw.find_by(hash, |e| WeakRef::ptr_eq(&e.hook, hook)) {
                let entry = state.raw.get_mut(pos);
                if !entry.dead {
                    entry.dead = true;
                    state.dead_hashes.push(hash);
                    shard.n_queued.fetch_add(1, Ordering::AcqRel);
                    inner.n_queued.fetch_add(1, Ordering::AcqRel);
                    inner.len.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        // If the collection was dropped meanwhile, this may be the last `Arc`: its drop
        // emptied every shard first, so nothing of the user's is dropped here.
        drop(inner);
    };
    hooks::register(obj, RecordKind::DeathHook, HOOK_NAME, Some(callback))
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
