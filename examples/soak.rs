//! Soak run: many millions of create / downgrade / upgrade / drop cycles on both flavours; memory and the slot table must stay flat.
//!
//! `cargo xtask soak` runs it in release; by hand:
//! `cargo run --release -p weakref-examples --example soak -- [CYCLES]` (default 10^8; `1e7` works too).
//!
//! Each cycle, on each flavour: create an object, downgrade it, upgrade the handle (must hit and read
//! the value), replace one member of a ring of `RING` live objects with it (so slots are reused in a
//! scattered order, not only last-in-first-out), drop the replaced object and check that its handle
//! no longer upgrades. Every `CALLBACK_EVERY` cycles an object also dies with a `WeakRef` callback,
//! which must run once. At every 10% a helper thread takes `HANDOFF` `sync` objects made here, drops
//! them there, and hands back as many made there to be dropped here, so slots move between the
//! threads' free-slot caches and a thread exits with a full cache.
//!
//! Printed at the start, at every 10% and at the end: elapsed time, resident memory (from
//! `/proc/self/statm`), `slot_table_len()` and `free_slots()`. The run fails (exit code 1) when,
//! after the warm-up (the first 10%), the slot table grew by more than `MAX_SLOT_GROWTH` slots or the
//! resident memory by more than `MAX_RSS_GROWTH` bytes, or a callback count is off.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use weakref_core::__testing::{free_slots, slot_table_len};
use weakref_core::{sync, unsync};

/// Objects kept alive in each flavour's ring.
const RING: usize = 1024;
/// One object in this many cycles dies with a `WeakRef` callback.
const CALLBACK_EVERY: u64 = 256;
/// `sync` objects handed to and from a helper thread at every 10%.
const HANDOFF: usize = 10_000;
/// Slots the table may grow by after the warm-up.
const MAX_SLOT_GROWTH: usize = 1024;
/// Bytes the resident memory may grow by after the warm-up.
const MAX_RSS_GROWTH: u64 = 4_000_000;

static UNSYNC_CALLBACKS: AtomicU64 = AtomicU64::new(0);
static SYNC_CALLBACKS: AtomicU64 = AtomicU64::new(0);

/// The page size, from the auxiliary vector (`AT_PAGESZ`); 4096 if it cannot be read.
fn page_size() -> u64 {
    const AT_PAGESZ: u64 = 6;
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 4096;
    };
    auxv.chunks_exact(16)
        .map(|pair| {
            let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().expect("8 bytes"));
            (word(&pair[..8]), word(&pair[8..]))
        })
        .find(|&(key, _)| key == AT_PAGESZ)
        .map_or(4096, |(_, value)| value)
}

/// Resident memory in bytes, from `/proc/self/statm` (its second field, in pages).
fn rss_bytes(page: u64) -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("statm's resident field");
    pages * page
}

#[derive(Clone, Copy)]
struct Snapshot {
    rss: u64,
    slots: usize,
    free: usize,
}

impl Snapshot {
    fn take(page: u64) -> Self {
        Snapshot {
            rss: rss_bytes(page),
            slots: slot_table_len(),
            free: free_slots(),
        }
    }

    fn line(&self) -> String {
        format!(
            "rss {:.1} MB, slot_table_len {}, free_slots {}",
            self.rss as f64 / 1e6,
            self.slots,
            self.free
        )
    }
}

/// Parses the cycle count: digits (underscores allowed) or a float such as `1e7`.
fn parse_cycles(arg: &str) -> Option<u64> {
    let arg = arg.replace('_', "");
    arg.parse::<u64>().ok().or_else(|| {
        let f: f64 = arg.parse().ok()?;
        (f.is_finite() && f >= 0.0 && f <= u64::MAX as f64).then_some(f as u64)
    })
}

/// The rings of live objects, one per flavour.
struct Rings {
    unsync: Vec<unsync::Obj<u64>>,
    sync: Vec<sync::Obj<u64>>,
}

/// One cycle on each flavour.
fn cycle(i: u64, rings: &mut Rings) {
    let slot = usize::try_from(i % RING as u64).expect("ring index");

    // unsync
    let o = unsync::Obj::new(i);
    let w = unsync::Obj::downgrade(&o);
    let up = w.upgrade().expect("unsync: a live object did not upgrade");
    assert_eq!(*up, i, "unsync: upgrade gave another object");
    drop(up);
    if i % CALLBACK_EVERY == 0 {
        let r = unsync::WeakRef::with_callback(&o, |_r: &unsync::WeakRef<u64>| {
            UNSYNC_CALLBACKS.fetch_add(1, Ordering::Relaxed);
        });
        drop(o);
        assert!(w.upgrade().is_none(), "unsync: a dead object upgraded");
        drop(r);
    } else if rings.unsync.len() < RING {
        rings.unsync.push(o);
    } else {
        let old = std::mem::replace(&mut rings.unsync[slot], o);
        let old_w = unsync::Obj::downgrade(&old);
        drop(old);
        assert!(old_w.upgrade().is_none(), "unsync: a dead object upgraded");
    }

    // sync
    let o = sync::Obj::new(i);
    let w = sync::Obj::downgrade(&o);
    let up = w.upgrade().expect("sync: a live object did not upgrade");
    assert_eq!(*up, i, "sync: upgrade gave another object");
    drop(up);
    if i % CALLBACK_EVERY == 0 {
        let r = sync::WeakRef::with_callback(&o, |_r: &sync::WeakRef<u64>| {
            SYNC_CALLBACKS.fetch_add(1, Ordering::Relaxed);
        });
        drop(o);
        assert!(w.upgrade().is_none(), "sync: a dead object upgraded");
        drop(r);
    } else if rings.sync.len() < RING {
        rings.sync.push(o);
    } else {
        let old = std::mem::replace(&mut rings.sync[slot], o);
        let old_w = sync::Obj::downgrade(&old);
        drop(old);
        assert!(old_w.upgrade().is_none(), "sync: a dead object upgraded");
    }
}

/// Hands `HANDOFF` `sync` objects made here to a helper thread that drops them, and drops here as
/// many made there; the helper exits with whatever its free-slot cache holds.
fn handoff() {
    let mine: Vec<sync::Obj<u64>> = (0..HANDOFF as u64).map(sync::Obj::new).collect();
    let weaks: Vec<sync::Weak<u64>> = mine.iter().map(sync::Obj::downgrade).collect();
    let theirs = std::thread::spawn(move || {
        drop(mine);
        (0..HANDOFF as u64)
            .map(sync::Obj::new)
            .collect::<Vec<sync::Obj<u64>>>()
    })
    .join()
    .expect("handoff thread panicked");
    assert!(
        weaks.iter().all(|w| w.upgrade().is_none()),
        "sync: an object dropped on another thread still upgrades"
    );
    let their_weaks: Vec<sync::Weak<u64>> = theirs.iter().map(sync::Obj::downgrade).collect();
    drop(theirs);
    assert!(
        their_weaks.iter().all(|w| w.upgrade().is_none()),
        "sync: an object made on another thread still upgrades"
    );
}

fn main() {
    let cycles = match std::env::args().nth(1) {
        Some(arg) => parse_cycles(&arg).unwrap_or_else(|| {
            eprintln!("soak: the first argument must be a cycle count, got {arg:?}");
            std::process::exit(2)
        }),
        None => 100_000_000,
    };
    let page = page_size();
    let start = Snapshot::take(page);
    println!("soak: {cycles} cycles on both flavours");
    println!("soak: start: {}", start.line());

    let t0 = Instant::now();
    let mut rings = Rings {
        unsync: Vec::with_capacity(RING),
        sync: Vec::with_capacity(RING),
    };
    let mut warm: Option<Snapshot> = None;
    let mut done = 0u64;
    for tenth in 1..=10u64 {
        let until = cycles / 10 * tenth + if tenth == 10 { cycles % 10 } else { 0 };
        while done < until {
            cycle(done, &mut rings);
            done += 1;
        }
        handoff();
        let now = Snapshot::take(page);
        println!(
            "soak: {:3}% ({done} cycles) in {:.1} s: {}",
            tenth * 10,
            t0.elapsed().as_secs_f64(),
            now.line()
        );
        if warm.is_none() {
            warm = Some(now);
        }
    }
    drop(rings);

    let end = Snapshot::take(page);
    let warm = warm.expect("at least one progress point");
    let expected_callbacks = cycles.div_ceil(CALLBACK_EVERY);
    println!(
        "soak: end after {:.1} s: {}",
        t0.elapsed().as_secs_f64(),
        end.line()
    );
    println!(
        "soak: after warm-up: slot table grew by {} slots (bound {MAX_SLOT_GROWTH}), rss by {:.2} MB (bound {:.1} MB); since start: {} slots, {:.2} MB",
        end.slots.saturating_sub(warm.slots),
        end.rss.saturating_sub(warm.rss) as f64 / 1e6,
        MAX_RSS_GROWTH as f64 / 1e6,
        end.slots.saturating_sub(start.slots),
        end.rss.saturating_sub(start.rss) as f64 / 1e6,
    );

    let mut failures = Vec::new();
    if end.slots > warm.slots + MAX_SLOT_GROWTH {
        failures.push(format!(
            "the slot table grew from {} to {} slots after the warm-up",
            warm.slots, end.slots
        ));
    }
    if end.rss > warm.rss + MAX_RSS_GROWTH {
        failures.push(format!(
            "resident memory grew from {:.1} MB to {:.1} MB after the warm-up",
            warm.rss as f64 / 1e6,
            end.rss as f64 / 1e6
        ));
    }
    for (flavour, counter) in [("unsync", &UNSYNC_CALLBACKS), ("sync", &SYNC_CALLBACKS)] {
        let ran = counter.load(Ordering::Relaxed);
        if ran != expected_callbacks {
            failures.push(format!(
                "{flavour}: {ran} callbacks ran, {expected_callbacks} expected"
            ));
        }
    }
    if failures.is_empty() {
        println!("soak: ok");
    } else {
        for f in &failures {
            println!("soak: FAILED: {f}");
        }
        std::process::exit(1);
    }
}
