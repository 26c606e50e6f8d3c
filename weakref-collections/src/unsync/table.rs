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

use crate::raw::{Entry, Hasher, NewEntry, RawTable, Tag, HOOK_NAME};

/// An entry of the `unsync` flavour.
pub(crate) type UEntry<H, O, W> = Entry<H, O, W, UnsyncFlavor>;

/// What the death hooks share with their collection (they hold it weakly).
#[derive(Default)]
struct DeadQueue {
    /// Tags of entries whose objects died; some may be stale (removed or revived since).
    /// Emptied whenever `n_dead` drops to 0, when every tag in it is stale.
    tags: RefCell<Vec<Tag>>,
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

    /// The entry at `pos` (live or dead).
    #[inline]
    pub(crate) fn entry(&self, pos: usize) -> &UEntry<H, O, W> {
        self.raw.get(pos)
    }

    /// The entry at `pos` (live or dead), mutably.
    #[inline]
    pub(crate) fn entry_mut(&mut self, pos: usize) -> &mut UEntry<H, O, W> {
        self.raw.get_mut(pos)
    }

    /// The position of the entry whose hashed key satisfies `eq` (live or dead).
    #[inline]
    pub(crate) fn find(&self, hash: u64, eq: impl FnMut(&H) -> bool) -> Option<usize> {
        self.raw.find(hash, eq)
    }

    /// Every entry, live or dead.
    #[inline]
    pub(crate) fn entries(&self) -> std::slice::Iter<'_, UEntry<H, O, W>> {
        self.raw.entries().iter()
    }

    /// Inserts a new entry (the caller made sure no equal key is present); returns its position.
    pub(crate) fn insert_new(&mut self, hash: u64, key: H, val: O, obj: &Obj<W>) -> usize {
        let queue = Rc::downgrade(&self.queue);
        self.raw.insert(hash, |tag| NewEntry {
            key,
            val,
            weak: Obj::downgrade(obj),
            hook: hook(queue, tag, obj),
        })
    }

    /// Makes the entry at `pos` hold `obj` weakly, with a new hook; returns the old hook, which
    /// the caller drops (while the old object, if still alive, is kept alive by the caller).
    pub(crate) fn replace_weak(&mut self, pos: usize, obj: &Obj<W>) -> WeakRef<W> {
        let tag = self.raw.new_tag(self.raw.get(pos).hash);
        let new_hook = hook(Rc::downgrade(&self.queue), tag, obj);
        self.raw.retag(pos, tag);
        let was_dead = !self.raw.get(pos).weak.is_alive();
        let entry = self.raw.get_mut(pos);
        entry.weak = Obj::downgrade(obj);
        let old_hook = std::mem::replace(&mut entry.hook, new_hook);
        if was_dead {
            // Its hook counted it dead; it is alive again.
            self.uncount_dead();
        }
        old_hook
    }

    /// One dead entry fewer in the table.
    fn uncount_dead(&self) {
        let n_dead = self.queue.n_dead.get() - 1;
        self.queue.n_dead.set(n_dead);
        if n_dead == 0 {
            // No entry is dead: every queued tag is stale.
            self.queue.tags.borrow_mut().clear();
        }
    }

    /// Takes the entry at `pos` out of the table (the last entry moves to `pos`); the caller
    /// disposes of it.
    pub(crate) fn remove(&mut self, pos: usize) -> UEntry<H, O, W> {
        let entry = self.raw.remove(pos);
        if !entry.weak.is_alive() {
            self.uncount_dead();
        }
        entry
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
            // One tag at a time: a panicking `Drop` leaves the rest queued.
            let next = self.queue.tags.borrow_mut().pop();
            let Some(tag) = next else { break };
            // A stale tag (entry removed or revived since) finds no dead entry and does nothing.
            let dead = self
                .raw
                .find_tag(tag)
                .filter(|&pos| !self.raw.get(pos).weak.is_alive());
            if let Some(pos) = dead {
                self.remove(pos).dispose();
            }
        }
    }

    /// Removes a live entry after purging, with its object; `None` when empty.
    pub(crate) fn pop_live(&mut self) -> Option<(UEntry<H, O, W>, Obj<W>)> {
        self.purge();
        // After a purge every entry is alive; stay robust anyway.
        loop {
            let last = self.raw.len().checked_sub(1)?;
            let entry = self.remove(last);
            match entry.weak.upgrade() {
                Some(obj) => return Some((entry, obj)),
                None => entry.dispose(),
            }
        }
    }

    /// Removes every entry: every hook is unregistered before any owned part is dropped.
    pub(crate) fn clear(&mut self) {
        let entries = self.raw.drain();
        self.queue.tags.borrow_mut().clear();
        self.queue.n_dead.set(0);
        crate::raw::dispose_all(entries);
    }
}

/// Registers the hook of the entry `tag` names on `obj`: it marks the entry dead in the queue,
/// if the collection still exists.
fn hook<W: 'static>(queue: rc::Weak<DeadQueue>, tag: Tag, obj: &Obj<W>) -> WeakRef<W> {
    let callback = move |_: &WeakRef<W>| {
        if let Some(queue) = queue.upgrade() {
            queue.tags.borrow_mut().push(tag);
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
