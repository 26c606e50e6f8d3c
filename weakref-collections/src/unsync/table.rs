//! The `unsync` table: a [`RawTable`] whose entries' death hooks report to a small shared queue.
//!
//! One thread owns everything here, and core runs a death hook at the very instant of death,
//! so "the entry's object is dead" and "its hook counted it in `n_dead`" are the same fact for
//! every entry in the table. `len()` is entries minus `n_dead`; mutating calls drain the queue.

use std::cell::{Cell, RefCell};
use std::rc::{self, Rc};

use weakref_core::flavor::UnsyncFlavor;
use weakref_core::hooks::{self, RecordKind};
use weakref_core::unsync::{Obj, Weak, WeakRef};

use crate::raw::{Entry, Hasher, RawTable, HOOK_NAME};

/// An entry of the `unsync` flavour.
pub(crate) type UEntry<H, O, W> = Entry<H, O, W, UnsyncFlavor>;

/// What [`Table::replace_weak`] found: the entry's previous live object and its old hook.
pub(crate) type Replaced<W> = (Option<Obj<W>>, Option<WeakRef<W>>);

/// What the death hooks share with their collection (they hold it weakly).
#[derive(Default)]
struct DeadQueue {
    /// The hashes of entries whose objects died, one per death; some may be stale (the entry
    /// removed or revived since). Emptied whenever `n_dead` drops to 0: then all are stale.
    hashes: RefCell<Vec<u64>>,
    /// Entries in the table whose object is dead.
    n_dead: Cell<usize>,
}

/// The shared body of the three `unsync` collections.
pub(crate) struct Table<H, O, W: 'static> {
    pub(crate) raw: RawTable<H, O, W, UnsyncFlavor>,
    pub(crate) hasher: Hasher,
    queue: Rc<DeadQueue>,
}

impl<H, O, W: 'static> Table<H, O, W> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Table {
            raw: RawTable::with_capacity(capacity),
            hasher: Hasher::default(),
            queue: Rc::new(DeadQueue::default()),
        }
    }

    /// Live entries: exact at every moment.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.raw.len() - self.queue.n_dead.get()
    }

    /// The entry whose hashed key satisfies `eq` (live or dead).
    #[inline]
    pub(crate) fn find(
        &self,
        hash: u64,
        mut eq: impl FnMut(&H) -> bool,
    ) -> Option<&UEntry<H, O, W>> {
        self.raw.find_by(hash, |entry| eq(&entry.key))
    }

    /// The entry that holds `weak` (live or dead; identity-keyed tables).
    #[inline]
    pub(crate) fn find_weak(&self, hash: u64, weak: Weak<W>) -> Option<&UEntry<H, O, W>> {
        self.raw.find_by(hash, |entry| entry.weak == weak)
    }

    /// The entry that holds `weak`, mutably.
    #[inline]
    pub(crate) fn find_weak_mut(
        &mut self,
        hash: u64,
        weak: Weak<W>,
    ) -> Option<&mut UEntry<H, O, W>> {
        self.raw.find_by_mut(hash, |entry| entry.weak == weak)
    }

    /// Every entry, live or dead.
    #[inline]
    pub(crate) fn entries(&self) -> hashbrown::hash_table::Iter<'_, UEntry<H, O, W>> {
        self.raw.iter()
    }

    fn new_entry(&self, hash: u64, key: H, val: O, obj: &Obj<W>) -> UEntry<H, O, W> {
        Entry {
            hash,
            key,
            val,
            weak: Obj::downgrade(obj),
            hook: Some(hook(Rc::downgrade(&self.queue), hash, obj)),
        }
    }

    /// Inserts a new entry (the caller made sure no equal key is present).
    pub(crate) fn insert_new(&mut self, hash: u64, key: H, val: O, obj: &Obj<W>) {
        let entry = self.new_entry(hash, key, val, obj);
        self.raw.insert(entry);
    }

    /// The entry that holds `obj` (an identity key), or else a new one with the value `make`
    /// gives, inserted.
    pub(crate) fn find_or_insert_weak(
        &mut self,
        hash: u64,
        key: impl FnOnce() -> H,
        obj: &Obj<W>,
        make: impl FnOnce() -> O,
    ) -> &mut UEntry<H, O, W> {
        let weak = Obj::downgrade(obj);
        let queue = Rc::downgrade(&self.queue);
        self.raw.find_or_insert_with(
            hash,
            |entry| entry.weak == weak,
            || Entry {
                hash,
                key: key(),
                val: make(),
                weak,
                hook: Some(hook(queue, hash, obj)),
            },
        )
    }

    /// Makes the entry whose hashed key satisfies `eq` hold `obj` weakly, with a new hook;
    /// returns its previous live object and its old hook, which the caller drops (the old
    /// object, if still alive, is kept alive by the first), or `None` if there is no such entry.
    pub(crate) fn replace_weak(
        &mut self,
        hash: u64,
        mut eq: impl FnMut(&H) -> bool,
        obj: &Obj<W>,
    ) -> Option<Replaced<W>> {
        let entry = self.raw.find_by_mut(hash, |entry| eq(&entry.key))?;
        let previous = entry.weak.upgrade();
        let new_hook = hook(Rc::downgrade(&self.queue), hash, obj);
        entry.weak = Obj::downgrade(obj);
        let old_hook = entry.hook.replace(new_hook);
        if previous.is_none() {
            // Its hook counted it dead; it is alive again.
            uncount_dead(&self.queue);
            self.raw.relog(hash);
        }
        Some((previous, old_hook))
    }

    /// Takes the entry for which `eq` holds out of the table; the caller disposes of it.
    pub(crate) fn remove_by(
        &mut self,
        hash: u64,
        eq: impl FnMut(&UEntry<H, O, W>) -> bool,
    ) -> Option<UEntry<H, O, W>> {
        let entry = self.raw.remove_by(hash, eq)?;
        if !entry.weak.is_alive() {
            uncount_dead(&self.queue);
        }
        Some(entry)
    }

    /// Removes the live entries for which `remove` holds (given the entry and its object),
    /// disposing of each at once.
    pub(crate) fn remove_live_if(
        &mut self,
        mut remove: impl FnMut(&mut UEntry<H, O, W>, &Obj<W>) -> bool,
    ) {
        // The object of a removed entry is dropped after the entry's hook: if that was its
        // last strong reference, no hook of the removed entry counts the death.
        let held = Cell::new(None);
        self.raw.extract_if(
            |entry| {
                let Some(obj) = entry.weak.upgrade() else {
                    return false;
                };
                let removed = remove(entry, &obj);
                if removed {
                    held.set(Some(obj));
                }
                removed
            },
            |entry| {
                entry.dispose();
                drop(held.take());
            },
        );
    }

    /// Removes every dead entry, dropping their owned parts, until no dead entry is left (the
    /// drops may kill more). Each death is handled once: amortized O(1) per dead entry.
    #[inline]
    pub(crate) fn purge(&mut self) {
        if self.queue.n_dead.get() != 0 {
            self.purge_slow();
        }
    }

    #[cold]
    fn purge_slow(&mut self) {
        loop {
            // One death at a time: a panicking `Drop` leaves the rest queued.
            let next = self.queue.hashes.borrow_mut().pop();
            let Some(hash) = next else { break };
            // Each death in the table queued its entry's hash once, so removing one dead entry
            // of that hash per queued hash removes each once; a stale hash (its entry removed
            // or revived since) may find none, or one whose own hash is queued too.
            if let Some(entry) = self.remove_by(hash, |entry| !entry.weak.is_alive()) {
                entry.dispose();
            }
        }
    }

    /// Removes a live entry after purging, with its object; `None` when empty.
    pub(crate) fn pop_live(&mut self) -> Option<(UEntry<H, O, W>, Obj<W>)> {
        self.purge();
        // After a purge every entry is alive.
        let mut obj = None;
        let entry = self.raw.pop_any(|entry| {
            obj = entry.weak.upgrade();
            obj.is_some()
        })?;
        Some((entry, obj?))
    }

    /// Removes every entry: every hook is unregistered before any owned part is dropped.
    pub(crate) fn clear(&mut self) {
        let entries = self.raw.drain();
        self.queue.hashes.borrow_mut().clear();
        self.queue.n_dead.set(0);
        crate::raw::dispose_all(entries);
    }
}

/// One dead entry fewer in the table.
fn uncount_dead(queue: &DeadQueue) {
    let n_dead = queue.n_dead.get() - 1;
    queue.n_dead.set(n_dead);
    if n_dead == 0 {
        // No entry is dead: every queued hash is stale.
        queue.hashes.borrow_mut().clear();
    }
}

/// Registers on `obj` the hook of an entry of `hash`: it queues the death, if the collection
/// still exists.
fn hook<W: 'static>(queue: rc::Weak<DeadQueue>, hash: u64, obj: &Obj<W>) -> WeakRef<W> {
    let callback = move |_: &WeakRef<W>| {
        if let Some(queue) = queue.upgrade() {
            queue.hashes.borrow_mut().push(hash);
            queue.n_dead.set(queue.n_dead.get() + 1);
        }
    };
    hooks::register(obj, RecordKind::DeathHook, HOOK_NAME, Some(callback))
}

impl<H, O, W: 'static> Drop for Table<H, O, W> {
    fn drop(&mut self) {
        self.clear();
    }
}
