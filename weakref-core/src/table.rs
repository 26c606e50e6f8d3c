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
use crate::storage::BlockCache;

/// The last version a slot may carry; a slot that would pass it is retired.
pub(crate) const LAST_VERSION: u32 = u32::MAX - 1;
/// The version a retired slot carries forever: no handle ever has it.
const RETIRED_VERSION: u32 = u32::MAX;
/// The slot of no object: never handed out, its word reads version 0 (no handle's version)
/// forever. `Weak::new()` names it, so every handle names a slot that exists.
pub(crate) const NULL_SLOT: u32 = 0;

/// log2 of a chunk's length: chunks hold 4096 slots (fewer under Miri and loom, which pay for
/// every slot and every directory entry they see).
#[cfg(not(any(miri, weakref_loom)))]
const CHUNK_LOG: u32 = 12;
#[cfg(any(miri, weakref_loom))]
const CHUNK_LOG: u32 = 7;
/// How many chunks the directory can hold: at most `N_CHUNKS << CHUNK_LOG` slots (2^29)
/// ever exist. Miri retags the whole table on every access, so it gets a small directory
/// (2^15 slots); loom gets a tiny one.
#[cfg(not(any(miri, weakref_loom)))]
const N_CHUNKS: usize = 1 << 17;
#[cfg(all(miri, not(weakref_loom)))]
const N_CHUNKS: usize = 1 << 8;
#[cfg(weakref_loom)]
const N_CHUNKS: usize = 4;
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
    #[cfg(not(weakref_loom))]
    const fn new() -> Slot {
        Slot {
            word: AtomicU64::new(0),
            ptr: AtomicPtr::new(ptr::null_mut()),
            records: AtomicPtr::new(ptr::null_mut()),
        }
    }

    #[cfg(weakref_loom)]
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

/// Which chunk holds `idx`, and where in it. (Plain shifts: no `leading_zeros`, whose `bsr`
/// form carries a false dependency that made every upgrade several times slower.)
#[inline]
fn chunk_of(idx: u32) -> (usize, usize) {
    (
        (idx >> CHUNK_LOG) as usize,
        (idx & ((1 << CHUNK_LOG) - 1)) as usize,
    )
}

/// The number of slots in a chunk.
const CHUNK_LEN: usize = 1 << CHUNK_LOG;

/// The first index that cannot be handed out.
const INDEX_LIMIT: u64 = (N_CHUNKS as u64) << CHUNK_LOG;

impl SlotTable {
    /// The directory of its first `STATIC_CHUNKS` chunks stays null: `slot` reads those from
    /// `STATIC_SLOTS` (and the whole table stays in `.bss`).
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
        // Each execution's table leaks its chunks, as the global one does.
        let first = Box::into_raw(new_chunk()).cast::<Slot>();
        SlotTable {
            chunks: std::array::from_fn(|bucket| {
                AtomicPtr::new(if bucket == 0 { first } else { ptr::null_mut() })
            }),
            pool: Mutex::new(Pool {
                free: Vec::new(),
                next: 0,
                retired: 0,
            }),
            locks: std::array::from_fn(|_| Mutex::new(())),
        }
    }

    /// The slot at `idx`.
    ///
    /// # Safety
    /// `idx` is [`NULL_SLOT`] or was handed out by this table (`refill`) at some time, which is
    /// true of every index a handle or a header carries.
    #[inline]
    pub(crate) unsafe fn slot(&self, idx: u32) -> &Slot {
        #[cfg(not(weakref_loom))]
        if (idx as usize) < STATIC_LEN {
            // SAFETY: in bounds of the static slots (no directory load on this path).
            return unsafe { STATIC_SLOTS.get_unchecked(idx as usize) };
        }
        let (bucket, offset) = chunk_of(idx);
        debug_assert!(bucket < N_CHUNKS, "slot index {idx} out of range");
        // SAFETY: handed-out indices are below `INDEX_LIMIT` (checked by `refill`), so
        // `bucket < N_CHUNKS`.
        let base = unsafe { self.chunks.get_unchecked(bucket) }.load(Ordering::Acquire);
        debug_assert!(!base.is_null(), "slot index {idx} was never allocated");
        // SAFETY: past the static chunks, `refill` publishes a chunk before
        // handing out any of its indices (the handle that carries `idx` was made after, on
        // this thread or one that synchronized with it). A chunk holds `CHUNK_LEN` slots and is
        // never freed or moved, and `chunk_of` puts `offset` below that length.
        unsafe { &*base.add(offset) }
    }

    /// The slot of `key` ([`key_of`] its index).
    ///
    /// A static slot's key is its offset in `STATIC_SLOTS` in words, so the hot path (an
    /// upgrade) reaches it with one compare and one scaled-index load; other keys go through
    /// [`slot`](Self::slot).
    ///
    /// # Safety
    /// `key` is the key of an index that [`slot`](Self::slot) accepts.
    #[inline]
    pub(crate) unsafe fn slot_by_key(&self, key: u32) -> &Slot {
        #[cfg(not(weakref_loom))]
        if (key as usize) < STATIC_LEN * KEY_SCALE {
            // SAFETY: the key of static slot `i` is `i * KEY_SCALE`, and a slot is `KEY_SCALE`
            // words: this is slot `i` of the array, in bounds and aligned.
            return unsafe {
                &*STATIC_SLOTS
                    .as_ptr()
                    .cast::<u64>()
                    .add(key as usize)
                    .cast::<Slot>()
            };
        }
        // SAFETY: the caller's promise.
        unsafe { self.slot_by_key_past_static(key) }
    }

    /// [`slot_by_key`](Self::slot_by_key) past the static slots: out of line, so that the
    /// static path is straight code.
    ///
    /// # Safety
    /// As for [`slot_by_key`](Self::slot_by_key).
    #[cold]
    #[inline(never)]
    unsafe fn slot_by_key_past_static(&self, key: u32) -> &Slot {
        // SAFETY: the caller's promise.
        unsafe { self.slot(idx_of(key)) }
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
        assert!(
            u64::from(start) + (BATCH as u64) <= INDEX_LIMIT,
            "weakref slot table is full ({INDEX_LIMIT} slots)"
        );
        let (bucket, _) = chunk_of(start);
        if bucket >= STATIC_CHUNKS && self.chunks[bucket].load(Ordering::Acquire).is_null() {
            let base = Box::into_raw(new_chunk()).cast::<Slot>();
            self.chunks[bucket].store(base, Ordering::Release);
        }
        pool.next = start + BATCH as u32;
        cache.extend(
            (start..start + BATCH as u32)
                .rev()
                .filter(|&idx| idx != NULL_SLOT),
        );
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

/// The size of a [`Slot`] in 8-byte words.
const KEY_SCALE: usize = std::mem::size_of::<Slot>() / 8;
const _: () = assert!(std::mem::size_of::<Slot>() == KEY_SCALE * 8);
// Every key fits the handle's 32 bits.
const _: () = assert!(INDEX_LIMIT * (KEY_SCALE as u64) <= u32::MAX as u64 + 1);

/// The key of slot `idx`, which handles carry in place of the index: `idx` times the slot's
/// size in words (see [`SlotTable::slot_by_key`]). Order-preserving and one-to-one.
#[inline]
pub(crate) const fn key_of(idx: u32) -> u32 {
    idx * KEY_SCALE as u32
}

/// The index of slot `key` (the inverse of [`key_of`]).
#[inline]
pub(crate) const fn idx_of(key: u32) -> u32 {
    key / KEY_SCALE as u32
}

/// A chunk of fresh slots.
fn new_chunk() -> Box<[Slot]> {
    (0..CHUNK_LEN).map(|_| Slot::new()).collect()
}

/// How many chunks at the start of the table are static: 2^20 slots, reached without the
/// directory (one dependent load less on every upgrade). All zero, so they cost address space
/// only (24 MiB of `.bss`) until used. One chunk under Miri, which pays for every slot.
#[cfg(not(any(miri, weakref_loom)))]
const STATIC_CHUNKS: usize = 256;
#[cfg(all(miri, not(weakref_loom)))]
const STATIC_CHUNKS: usize = 1;
/// None under loom, whose table (a fresh one per execution) allocates its first chunk.
#[cfg(weakref_loom)]
const STATIC_CHUNKS: usize = 0;
/// Number of static slots.
#[cfg(not(weakref_loom))]
const STATIC_LEN: usize = STATIC_CHUNKS * CHUNK_LEN;

/// The static slots: the first chunks of the table, so that [`NULL_SLOT`] exists before any
/// allocation and the first 2^20 slots need no directory lookup.
#[cfg(not(weakref_loom))]
static STATIC_SLOTS: [Slot; STATIC_LEN] = [const { Slot::new() }; STATIC_LEN];

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

/// What each thread keeps on the hot paths: its free-slot cache and its death depth.
///
/// It has no destructor, so it is reachable at every moment of a thread's life (also while
/// other thread-locals are torn down) and each access is a plain thread-local offset. Slots
/// cached here go back to the pool from `FlushOnExit`'s destructor.
pub(crate) struct Local {
    free: [Cell<u32>; CACHE_CAP],
    free_len: Cell<usize>,
    /// `UNARMED`, `ARMED` (`FLUSH_ON_EXIT` will flush this thread's caches) or `CLOSED` (flushed:
    /// thread teardown, slots go straight back to the pool).
    flush_state: Cell<u8>,
    /// Non-zero while this thread processes a death or runs inside `defer_deaths`.
    pub(crate) depth: Cell<u32>,
    /// How many deaths wait in `QUEUE`.
    pub(crate) queued: Cell<usize>,
    /// The version the next slot allocated on this thread starts at, at least (tests only).
    forced_version: Cell<u32>,
    /// Freed object storage kept for reuse on this thread.
    pub(crate) blocks: BlockCache,
}

/// `Local::flush_state` values.
const UNARMED: u8 = 0;
const ARMED: u8 = 1;
const CLOSED: u8 = 2;

/// Capacity of a thread's free-slot cache.
const CACHE_CAP: usize = CACHE_MAX + 1;

impl Local {
    #[cfg(not(weakref_loom))]
    const fn new() -> Local {
        Local {
            free: [const { Cell::new(0) }; CACHE_CAP],
            free_len: Cell::new(0),
            flush_state: Cell::new(UNARMED),
            depth: Cell::new(0),
            queued: Cell::new(0),
            forced_version: Cell::new(0),
            blocks: BlockCache::new(),
        }
    }

    #[cfg(weakref_loom)]
    fn new() -> Local {
        Local {
            free: std::array::from_fn(|_| Cell::new(0)),
            free_len: Cell::new(0),
            flush_state: Cell::new(UNARMED),
            depth: Cell::new(0),
            queued: Cell::new(0),
            forced_version: Cell::new(0),
            blocks: BlockCache::new(),
        }
    }

    #[inline]
    fn pop_free(&self) -> Option<u32> {
        let len = self.free_len.get();
        if len == 0 {
            return None;
        }
        self.free_len.set(len - 1);
        Some(self.free[len - 1].get())
    }

    /// Caches a free slot; gives a batch back to the pool when the cache is full.
    #[inline]
    fn push_free(&self, idx: u32) {
        let len = self.free_len.get();
        self.free[len].set(idx);
        self.free_len.set(len + 1);
        if len + 1 == CACHE_CAP {
            self.spill();
        }
    }

    #[cold]
    fn spill(&self) {
        let len = self.free_len.get();
        let keep = len - BATCH;
        table().give_back(self.free[keep..len].iter().map(Cell::get));
        self.free_len.set(keep);
    }

    /// Refills the cache from the pool; false (and nothing cached) once the cache is closed.
    #[cold]
    fn refill(&self) -> bool {
        if !self.arm_flush() {
            return false;
        }
        let mut batch = Vec::with_capacity(BATCH);
        table().refill(&mut batch);
        for idx in batch {
            self.push_free(idx);
        }
        true
    }

    /// Makes sure this thread's cached slots and blocks go back when the thread ends; false
    /// when they already went back (thread teardown): then nothing may be cached any more.
    #[inline]
    pub(crate) fn arm_flush(&self) -> bool {
        self.flush_state.get() == ARMED || self.arm_flush_now()
    }

    #[cold]
    fn arm_flush_now(&self) -> bool {
        if self.flush_state.get() == CLOSED {
            return false;
        }
        self.flush_state.set(ARMED);
        let _ = FLUSH_ON_EXIT.try_with(|_| ());
        true
    }

    #[cfg_attr(weakref_loom, allow(dead_code))]
    fn flush(&self) {
        self.flush_state.set(CLOSED);
        self.blocks.close();
        let len = self.free_len.replace(0);
        if len > 0 {
            table().give_back(self.free[..len].iter().map(Cell::get));
        }
    }
}

/// Gives the thread's cached free slots back to the pool when the thread ends.
struct FlushOnExit;

#[cfg(not(weakref_loom))]
impl Drop for FlushOnExit {
    fn drop(&mut self) {
        let _ = LOCAL.try_with(Local::flush);
    }
}

// Under loom the table is torn down before the threads' locals; their cached slots simply go
// with that execution's table.
#[cfg(weakref_loom)]
impl Drop for FlushOnExit {
    fn drop(&mut self) {}
}

#[cfg(not(weakref_loom))]
std::thread_local! {
    static LOCAL: Local = const { Local::new() };
    static FLUSH_ON_EXIT: FlushOnExit = const { FlushOnExit };
    /// Deaths whose steps 2–4 wait for the outermost death or `defer_deaths` on this thread.
    static QUEUE: RefCell<VecDeque<Pending>> = const { RefCell::new(VecDeque::new()) };
}

#[cfg(weakref_loom)]
loom::thread_local! {
    static LOCAL: Local = Local::new();
    static FLUSH_ON_EXIT: FlushOnExit = FlushOnExit;
    static QUEUE: RefCell<VecDeque<Pending>> = RefCell::new(VecDeque::new());
}

/// Runs `f` with this thread's `Local`, or returns `None` once thread-locals are torn down
/// (never, outside loom: `Local` has no destructor).
#[inline]
pub(crate) fn with_local<R>(f: impl FnOnce(&Local) -> R) -> Option<R> {
    LOCAL.try_with(f).ok()
}

/// Queues a death on this thread; gives it back if the queue is already torn down.
pub(crate) fn queue_death(local: &Local, pending: Pending) -> Option<Pending> {
    let mut pending = Some(pending);
    let queued = QUEUE.try_with(|queue| {
        if let Some(pending) = pending.take() {
            queue.borrow_mut().push_back(pending);
        }
    });
    if queued.is_ok() {
        local.queued.set(local.queued.get() + 1);
    }
    pending
}

/// Takes the oldest queued death of this thread.
pub(crate) fn next_queued_death(local: &Local) -> Option<Pending> {
    if local.queued.get() == 0 {
        return None;
    }
    let next = QUEUE
        .try_with(|queue| queue.borrow_mut().pop_front())
        .ok()
        .flatten();
    local.queued.set(if next.is_some() {
        local.queued.get() - 1
    } else {
        0
    });
    next
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
        let idx = match local.pop_free() {
            Some(idx) => idx,
            None if local.refill() => local.pop_free().expect("refill yields a batch"),
            None => table.alloc_uncached(),
        };
        (idx, local.forced_version.replace(0))
    })
    .unwrap_or_else(|| (table.alloc_uncached(), 0));
    // SAFETY: `idx` was just handed out by the table.
    let slot = unsafe { table.slot(idx) };
    let version = word::version(slot.word.load(Ordering::Relaxed))
        .max(1)
        .max(forced.min(LAST_VERSION));
    NewSlot { idx, slot, version }
}

/// Step 4 of a death: bumps the slot's version (every handle is now stale for good) and puts
/// the slot up for reuse, or retires it when its versions are used up. The slot's count is zero
/// and its record list was taken, so no other thread writes to it any more.
#[inline]
pub(crate) fn free_slot(idx: u32, slot: &Slot) {
    let version = word::version(slot.word.load(Ordering::Relaxed));
    if version >= LAST_VERSION {
        retire(slot);
        return;
    }
    slot.word
        .store(word::pack(version + 1, 0), Ordering::Release);
    let cached = with_local(|local| {
        let open = local.arm_flush();
        if open {
            local.push_free(idx);
        }
        open
    });
    if cached != Some(true) {
        table().give_back(std::iter::once(idx));
    }
}

/// Retires a slot whose versions are used up: it is never reused.
#[cold]
fn retire(slot: &Slot) {
    slot.word
        .store(word::pack(RETIRED_VERSION, 0), Ordering::Release);
    lock(&table().pool).retired += 1;
}

/// Bytes of static slots ever handed out (tests and benches).
pub(crate) fn static_slot_bytes() -> usize {
    let next = lock(&table().pool).next as usize;
    next.min(STATIC_CHUNKS * CHUNK_LEN) * std::mem::size_of::<Slot>()
}

/// Test support: the next slot allocated on this thread starts at version `version` at least.
pub(crate) fn force_next_version(version: u32) {
    with_local(|local| local.forced_version.set(version));
}

/// Statistics for tests and the soak: (slots ever created, free slots, retired slots).
pub(crate) fn stats() -> (usize, usize, usize) {
    let cached = with_local(|local| local.free_len.get()).unwrap_or(0);
    let pool = lock(&table().pool);
    (pool.next as usize, pool.free.len() + cached, pool.retired)
}

#[cfg(test)]
mod tests {
    use super::{chunk_of, CHUNK_LEN, INDEX_LIMIT, N_CHUNKS};

    #[test]
    fn chunks_cover_indices_without_gaps() {
        assert_eq!(chunk_of(0), (0, 0));
        assert_eq!(chunk_of(CHUNK_LEN as u32 - 1), (0, CHUNK_LEN - 1));
        assert_eq!(chunk_of(CHUNK_LEN as u32), (1, 0));
        let (bucket, offset) = chunk_of((INDEX_LIMIT - 1) as u32);
        assert_eq!(bucket, N_CHUNKS - 1);
        assert_eq!(offset, CHUNK_LEN - 1);
        assert_eq!(chunk_of(super::NULL_SLOT), (0, 0));
    }
}
