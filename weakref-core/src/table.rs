//! The generational slot table: one global, append-only table of slots shared by both flavours,
//! with per-thread caches of free slots.
//!
//! A slot is `(word, ptr, records)`. The word packs `version << 32 | strong count`; an object is
//! alive while its handle's version equals the slot's and the count is not zero. Slots live in
//! chunks that are allocated once and never freed or moved, so any slot can be read at any time
//! by anyone holding its index. A slot whose version space is used up is retired, never reused.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ptr;

use crate::death::Pending;
use crate::flavor::word;
use crate::primitive::{lock, AtomicPtr, AtomicU64, Mutex, Ordering};

/// The last version a slot may carry; a slot that would pass it is retired.
pub(crate) const LAST_VERSION: u32 = u32::MAX - 1;
/// The version a retired slot carries forever: no handle ever has it.
const RETIRED_VERSION: u32 = u32::MAX;
/// The index of no slot: the index of `Weak::new()`.
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// log2 of the first chunk's length; chunk `b` holds `2^(b + FIRST_CHUNK_LOG)` slots.
const FIRST_CHUNK_LOG: u32 = 5;
/// Enough chunks to cover every index below `NO_SLOT`.
const N_CHUNKS: usize = 28;
/// Free indices moved between a thread's cache and the shared pool at a time.
const BATCH: usize = 32;
/// A thread's cache gives a batch back to the pool when it holds more than this.
const CACHE_MAX: usize = 4 * BATCH;
/// Shards of the lock that guards the slots' record lists.
const N_LOCKS: usize = 64;

/// One slot of the table.
pub(crate) struct Slot {
    /// `version << 32 | strong count`.
    pub(crate) word: AtomicU64,
    /// The object's header while the object is alive (type-erased).
    pub(crate) ptr: AtomicPtr<u8>,
    /// The object's record list, or null when it has none; read and written under `lock_for`.
    pub(crate) records: AtomicPtr<()>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            word: AtomicU64::new(0),
            ptr: AtomicPtr::new(ptr::null_mut()),
            records: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

/// Free indices and counters shared by all threads.
struct Pool {
    free: Vec<u32>,
    /// The next index never handed out.
    next: u32,
    retired: usize,
}

/// The table of slots. One global instance serves the library (`table()`); loom models get a
/// fresh one per execution.
pub(crate) struct SlotTable {
    chunks: [AtomicPtr<Slot>; N_CHUNKS],
    pool: Mutex<Pool>,
    locks: [Mutex<()>; N_LOCKS],
}

/// Which chunk holds `idx`, and where in it.
#[inline]
fn chunk_of(idx: u32) -> (usize, usize) {
    let shifted = u64::from(idx) + (1 << FIRST_CHUNK_LOG);
    let bucket = 63 - shifted.leading_zeros() - FIRST_CHUNK_LOG;
    let offset = shifted - (1 << (bucket + FIRST_CHUNK_LOG));
    (bucket as usize, offset as usize)
}

fn chunk_len(bucket: usize) -> usize {
    1 << (bucket as u32 + FIRST_CHUNK_LOG)
}

impl SlotTable {
    #[cfg(not(weakref_loom))]
    const fn new() -> SlotTable {
        SlotTable {
            chunks: [const { AtomicPtr::new(ptr::null_mut()) }; N_CHUNKS],
            pool: Mutex::new(Pool {
                free: Vec::new(),
                next: 0,
                retired: 0,
            }),
            locks: [const { Mutex::new(()) }; N_LOCKS],
        }
    }

    #[cfg(weakref_loom)]
    fn new() -> SlotTable {
        SlotTable {
            chunks: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            pool: Mutex::new(Pool {
                free: Vec::new(),
                next: 0,
                retired: 0,
            }),
            locks: std::array::from_fn(|_| Mutex::new(())),
        }
    }

    /// The slot at `idx`, which `alloc` handed out at some time.
    #[inline]
    pub(crate) fn slot(&self, idx: u32) -> &Slot {
        let (bucket, offset) = chunk_of(idx);
        let base = self.chunks[bucket].load(Ordering::Acquire);
        assert!(!base.is_null(), "slot index {idx} was never allocated");
        // SAFETY: `base` points to a leaked chunk of `chunk_len(bucket)` slots that is never
        // freed or moved, and `chunk_of` puts `offset` below that length.
        unsafe { &*base.add(offset) }
    }

    /// The lock guarding the record list of slot `idx`.
    pub(crate) fn lock_for(&self, idx: u32) -> &Mutex<()> {
        &self.locks[idx as usize % N_LOCKS]
    }

    /// Moves a batch of free indices into `cache`, minting fresh ones when the pool is empty.
    fn refill(&self, cache: &mut Vec<u32>) {
        let mut pool = lock(&self.pool);
        if !pool.free.is_empty() {
            let keep = pool.free.len().saturating_sub(BATCH);
            cache.extend(pool.free.drain(keep..));
            return;
        }
        let start = pool.next;
        // Fresh indices come in aligned batches of 32, so one batch lies in one chunk.
        assert!(start < NO_SLOT - BATCH as u32, "weakref slot table is full");
        let (bucket, _) = chunk_of(start);
        if self.chunks[bucket].load(Ordering::Acquire).is_null() {
            let chunk: Box<[Slot]> = (0..chunk_len(bucket)).map(|_| Slot::new()).collect();
            let base = Box::into_raw(chunk).cast::<Slot>();
            self.chunks[bucket].store(base, Ordering::Release);
        }
        pool.next = start + BATCH as u32;
        cache.extend((start..start + BATCH as u32).rev());
    }

    fn give_back(&self, indices: impl Iterator<Item = u32>) {
        lock(&self.pool).free.extend(indices);
    }

    /// Hands out one free index without a thread cache (used when thread-locals are gone).
    fn alloc_uncached(&self) -> u32 {
        let mut batch = Vec::with_capacity(BATCH);
        self.refill(&mut batch);
        let idx = batch.pop().expect("refill yields a batch");
        self.give_back(batch.into_iter());
        idx
    }
}

#[cfg(not(weakref_loom))]
static TABLE: SlotTable = SlotTable::new();

/// The global slot table.
#[cfg(not(weakref_loom))]
#[inline]
pub(crate) fn table() -> &'static SlotTable {
    &TABLE
}

#[cfg(weakref_loom)]
loom::lazy_static! {
    static ref TABLE: SlotTable = SlotTable::new();
}

/// The global slot table (a fresh one per loom execution).
#[cfg(weakref_loom)]
pub(crate) fn table() -> &'static SlotTable {
    &TABLE
}

/// What each thread keeps: its free-slot cache and its death queue.
pub(crate) struct Local {
    free: RefCell<Vec<u32>>,
    /// Non-zero while this thread processes a death or runs inside `defer_deaths`.
    pub(crate) depth: Cell<u32>,
    /// Deaths whose steps 2–4 wait for the outermost death or `defer_deaths` on this thread.
    pub(crate) queue: RefCell<VecDeque<Pending>>,
    /// The version the next slot allocated on this thread starts at, at least (tests only).
    forced_version: Cell<u32>,
}

impl Local {
    #[cfg(not(weakref_loom))]
    const fn new() -> Local {
        Local {
            free: RefCell::new(Vec::new()),
            depth: Cell::new(0),
            queue: RefCell::new(VecDeque::new()),
            forced_version: Cell::new(0),
        }
    }

    #[cfg(weakref_loom)]
    fn new() -> Local {
        Local {
            free: RefCell::new(Vec::new()),
            depth: Cell::new(0),
            queue: RefCell::new(VecDeque::new()),
            forced_version: Cell::new(0),
        }
    }
}

// Under loom the table is torn down before the threads' locals; their cached slots simply go
// with that execution's table.
#[cfg(not(weakref_loom))]
impl Drop for Local {
    fn drop(&mut self) {
        let free = std::mem::take(self.free.get_mut());
        if !free.is_empty() {
            table().give_back(free.into_iter());
        }
    }
}

#[cfg(not(weakref_loom))]
std::thread_local! {
    static LOCAL: Local = const { Local::new() };
}

#[cfg(weakref_loom)]
loom::thread_local! {
    static LOCAL: Local = Local::new();
}

/// Runs `f` with this thread's `Local`, or returns `None` once thread-locals are torn down.
#[inline]
pub(crate) fn with_local<R>(f: impl FnOnce(&Local) -> R) -> Option<R> {
    LOCAL.try_with(f).ok()
}

/// A freshly allocated slot: its index, the slot, and the version its object gets.
pub(crate) struct NewSlot {
    pub(crate) idx: u32,
    pub(crate) slot: &'static Slot,
    pub(crate) version: u32,
}

/// Takes a free slot. Its word still reads dead (count 0); the caller publishes the object.
#[inline]
pub(crate) fn alloc_slot() -> NewSlot {
    let table = table();
    let (idx, forced) = with_local(|local| {
        let mut free = local.free.borrow_mut();
        let idx = match free.pop() {
            Some(idx) => idx,
            None => {
                table.refill(&mut free);
                free.pop().expect("refill yields a batch")
            }
        };
        (idx, local.forced_version.replace(0))
    })
    .unwrap_or_else(|| (table.alloc_uncached(), 0));
    let slot = table.slot(idx);
    let version = word::version(slot.word.load(Ordering::Relaxed))
        .max(1)
        .max(forced.min(LAST_VERSION));
    NewSlot { idx, slot, version }
}

/// Step 4 of a death: bumps the slot's version (every handle is now stale for good) and puts
/// the slot up for reuse, or retires it when its versions are used up. The slot's count is zero
/// and its record list was taken, so no other thread writes to it any more.
pub(crate) fn free_slot(idx: u32, slot: &Slot) {
    let version = word::version(slot.word.load(Ordering::Relaxed));
    slot.ptr.store(ptr::null_mut(), Ordering::Relaxed);
    let table = table();
    if version >= LAST_VERSION {
        slot.word
            .store(word::pack(RETIRED_VERSION, 0), Ordering::Release);
        lock(&table.pool).retired += 1;
        return;
    }
    slot.word
        .store(word::pack(version + 1, 0), Ordering::Release);
    let cached = with_local(|local| {
        let mut free = local.free.borrow_mut();
        free.push(idx);
        if free.len() > CACHE_MAX {
            let keep = free.len() - BATCH;
            table.give_back(free.drain(keep..));
        }
    });
    if cached.is_none() {
        table.give_back(std::iter::once(idx));
    }
}

/// Test support: the next slot allocated on this thread starts at version `version` at least.
pub(crate) fn force_next_version(version: u32) {
    with_local(|local| local.forced_version.set(version));
}

/// Statistics for tests and the soak: (slots ever created, free slots, retired slots).
pub(crate) fn stats() -> (usize, usize, usize) {
    let cached = with_local(|local| local.free.borrow().len()).unwrap_or(0);
    let pool = lock(&table().pool);
    (pool.next as usize, pool.free.len() + cached, pool.retired)
}

#[cfg(test)]
mod tests {
    use super::{chunk_len, chunk_of};

    #[test]
    fn chunks_cover_indices_without_gaps() {
        assert_eq!(chunk_of(0), (0, 0));
        assert_eq!(chunk_of(31), (0, 31));
        assert_eq!(chunk_of(32), (1, 0));
        assert_eq!(chunk_of(95), (1, 63));
        assert_eq!(chunk_of(96), (2, 0));
        let (bucket, offset) = chunk_of(u32::MAX - 1);
        assert!(bucket < super::N_CHUNKS);
        assert!(offset < chunk_len(bucket));
    }
}
