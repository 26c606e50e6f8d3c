//! The `unsync` table: a [`RawTable`] whose entries' death hooks report to a small shared queue.
//!
//! One thread owns everything here, and core runs a death hook at the very instant of death,
//! so "the entry's object is dead" and "its hook counted it in `n_dead`" are the same fact for
//! every entry in the table. `len()` is entries minus `n_dead`; mutating calls drain the queue.

use std::cell::{Cell, RefCell};
use std::rc::{self, Rc};

use weakref_core::flavor::UnsyncFlavor;
use weakref_core::hooks::{self, RecordKind};
use weakref_core::unsync::{Obj, WeakRef};

use crate::raw::{Entry, EntryKey, Hasher, RawTable, HOOK_NAME};

/// An entry of the `unsync` flavour.
pub(crate) type UEntry<H, O, W> = Entry<H, O, W, UnsyncFlavor>;

/// What the death hooks share with their collection (they hold it weakly).
#[derive(Default)]
struct DeadQueue {
    /// Keys of entries whose objects died; some may be stale (removed since).
    keys: RefCell<Vec<EntryKey>>,
    /// Entries in the table whose object is dead.
    n_dead: Cell<usize>,
}

/// The shared body of the three `unsync` collections.
pub(crate) struct Table<H, O, W: 'static> {
    pub(crate) raw: RawTable<UEntry<H, O, W>>,
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
    pub(crate) fn len(&self) -> usize {
        self.raw.len() - self.queue.n_dead.get()
    }

    /// The entry at `key` (live or dead).
    pub(crate) fn entry(&self, key: EntryKey) -> &UEntry<H, O, W> {
        &self.raw.entries[key]
    }

    /// The entry at `key` (live or dead), mutably.
    pub(crate) fn entry_mut(&mut self, key: EntryKey) -> &mut UEntry<H, O, W> {
        &mut self.raw.entries[key]
    }

    /// The key of the entry whose hashed key satisfies `eq` (live or dead).
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(&H) -> bool) -> Option<EntryKey> {
        self.raw.find(hash, |entry| eq(&entry.key))
    }

    /// Every entry, live or dead.
    pub(crate) fn entries(&self) -> slotmap::dense::Values<'_, EntryKey, UEntry<H, O, W>> {
        self.raw.entries.values()
    }

    fn hook(&self, key: EntryKey, obj: &Obj<W>) -> WeakRef<W> {
        let queue = Rc::downgrade(&self.queue);
        hooks::register(
            obj,
            RecordKind::DeathHook,
            HOOK_NAME,
            Some(death_hook(queue, key)),
        )
    }

    /// Inserts a new entry (the caller made sure no equal key is present).
    pub(crate) fn insert_new(&mut self, hash: u64, key: H, val: O, obj: &Obj<W>) -> EntryKey {
        let queue = Rc::downgrade(&self.queue);
        self.raw.insert_with_key(hash, |entry_key| Entry {
            hash,
            key,
            val,
            weak: Obj::downgrade(obj),
            hook: hooks::register(
                obj,
                RecordKind::DeathHook,
                HOOK_NAME,
                Some(death_hook(queue, entry_key)),
            ),
            dead: false,
        })
    }

    /// Makes the entry at `key` hold `obj` weakly, with a new hook; returns the old hook, which
    /// the caller drops (while the old object, if still alive, is kept alive by the caller).
    pub(crate) fn replace_weak(&mut self, key: EntryKey, obj: &Obj<W>) -> WeakRef<W> {
        let new_hook = self.hook(key, obj);
        let entry = &mut self.raw.entries[key];
        if !entry.weak.is_alive() {
            // Its hook counted it dead; it is alive again.
            self.queue.n_dead.set(self.queue.n_dead.get() - 1);
        }
        entry.weak = Obj::downgrade(obj);
        std::mem::replace(&mut entry.hook, new_hook)
    }

    /// Takes the entry at `key` out of the table; the caller disposes of it.
    pub(crate) fn remove(&mut self, key: EntryKey) -> Option<UEntry<H, O, W>> {
        let entry = self.raw.remove(key)?;
        if !entry.weak.is_alive() {
            self.queue.n_dead.set(self.queue.n_dead.get() - 1);
        }
        Some(entry)
    }

    /// Removes every dead entry, dropping their owned parts, until no dead entry is left (the
    /// drops may kill more). Each death is handled once: amortized O(1) per dead entry.
    pub(crate) fn purge(&mut self) {
        loop {
            // One key at a time: a panicking `Drop` leaves the rest queued.
            let next = self.queue.keys.borrow_mut().pop();
            let Some(key) = next else { break };
            // A stale key (entry removed or revived since) finds no dead entry and does nothing.
            let dead = self
                .raw
                .entries
                .get(key)
                .is_some_and(|entry| !entry.weak.is_alive());
            if dead {
                if let Some(entry) = self.remove(key) {
                    entry.dispose();
                }
            }
        }
    }

    /// Removes a live entry after purging, with its object; `None` when empty.
    pub(crate) fn pop_live(&mut self) -> Option<(UEntry<H, O, W>, Obj<W>)> {
        self.purge();
        // After a purge every entry is alive; stay robust anyway.
        loop {
            let key = self.raw.entries.keys().next()?;
            let entry = self.remove(key)?;
            match entry.weak.upgrade() {
                Some(obj) => return Some((entry, obj)),
                None => entry.dispose(),
            }
        }
    }

    /// Removes every entry: every hook is unregistered before any owned part is dropped.
    pub(crate) fn clear(&mut self) {
        let entries = self.raw.drain();
        self.queue.keys.borrow_mut().clear();
        self.queue.n_dead.set(0);
        crate::raw::dispose_all(entries);
    }
}

/// The hook of the entry at `key`: marks it dead in the queue, if the collection still exists.
fn death_hook<W: 'static>(
    queue: rc::Weak<DeadQueue>,
    key: EntryKey,
) -> impl FnOnce(&WeakRef<W>) + 'static {
    move |_| {
        if let Some(queue) = queue.upgrade() {
            queue.keys.borrow_mut().push(key);
            queue.n_dead.set(queue.n_dead.get() + 1);
        }
    }
}

impl<H, O, W: 'static> Drop for Table<H, O, W> {
    fn drop(&mut self) {
        self.clear();
    }
}
