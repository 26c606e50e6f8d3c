//! Criterion benches of weakref-core's handles against std (`Rc` / `Arc`) and the `weakref` crate.
//!
//! Naming convention (a summarizer parses it): every criterion group is one operation, named
//! `<flavour>/<operation>` (`unsync/upgrade_hit`); inside a group the function named exactly `ours`
//! is weakref-core and every other function is a peer: `std` (`std::rc` for `unsync`, `std::sync`
//! for `sync`), `std-no-callbacks` (std's death, which has no callbacks, as the baseline of the
//! callback groups) and `weakref-crate` (samsartor's epoch-based `Own` / `Ref`, `sync` groups only:
//! it has no single-thread flavour). `weak-table` has no counterpart to a single handle operation;
//! it is a peer of the collections' groups, not of these.
//!
//! Groups that create and destroy many objects run in chunks of [`CHUNK`] iterations with
//! [`criterion::Bencher::iter_custom`]: the setup of a chunk (objects whose death is measured, pre-allocated
//! vectors) and its teardown (dropping kept handles) are outside the timed section.

use std::hint::black_box;
use std::rc::{Rc, Weak as RcWeak};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Weak as ArcWeak};
use std::time::{Duration, Instant};

use criterion::Criterion;
use weakref_core::{sync, unsync};

mod common;
use common::sink;

/// Iterations per chunk in the chunked groups: big enough to amortize the timer, small enough that
/// the kept handles and pre-built objects stay in cache-sized vectors.
const CHUNK: u64 = 4096;

/// Runs `iters` iterations in chunks: `setup(state, n)` and `teardown(state)` untimed, `timed(state, n)` timed.
fn chunked<S>(
    iters: u64,
    state: &mut S,
    mut setup: impl FnMut(&mut S, usize),
    mut timed: impl FnMut(&mut S, usize),
    mut teardown: impl FnMut(&mut S),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let n_usize = usize::try_from(n).expect("chunk fits usize");
        setup(state, n_usize);
        let start = Instant::now();
        timed(state, n_usize);
        total += start.elapsed();
        teardown(state);
        left -= n;
    }
    total
}

/// Handles each thread of the two-thread groups cycles through.
const PER_THREAD: usize = 8;

/// `iters` calls of `op` on each of two threads at once, cycling through `a` on this thread and
/// through `b` on a scoped helper thread; the time is from the common start (a barrier) until
/// both are done.
fn two_threads<W: Sync>(
    iters: u64,
    a: &[W; PER_THREAD],
    b: &[W; PER_THREAD],
    op: impl Fn(&W) + Sync,
) -> Duration {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let other = s.spawn(|| {
            barrier.wait();
            for k in 0..iters {
                op(black_box(&b[k as usize % PER_THREAD]));
            }
        });
        barrier.wait();
        let start = Instant::now();
        for k in 0..iters {
            op(black_box(&a[k as usize % PER_THREAD]));
        }
        other.join().expect("helper thread panicked");
        start.elapsed()
    })
}

/// Splits 2 * PER_THREAD items into (even positions, odd positions): interleaved neighbours.
fn interleave<W: Copy>(items: &[W]) -> ([W; PER_THREAD], [W; PER_THREAD]) {
    assert_eq!(items.len(), 2 * PER_THREAD);
    (
        std::array::from_fn(|k| items[2 * k]),
        std::array::from_fn(|k| items[2 * k + 1]),
    )
}

/// Counts callbacks in the sanity checks.
static CALLBACKS: AtomicUsize = AtomicUsize::new(0);

/// Checks once, before anything is timed, that each bench measures what its name says.
fn sanity_checks() {
    let o = unsync::Obj::new(7u64);
    let w = unsync::Obj::downgrade(&o);
    assert_eq!(w.upgrade().map(|x| *x), Some(7));
    let refs: Vec<_> = (0..8)
        .map(|_| {
            unsync::WeakRef::with_callback(&o, |_r: &unsync::WeakRef<u64>| {
                CALLBACKS.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    drop(o);
    assert!(w.upgrade().is_none(), "unsync: a dead object upgraded");
    assert_eq!(
        CALLBACKS.swap(0, Ordering::Relaxed),
        8,
        "unsync: callbacks did not run"
    );
    drop(refs);

    let o = sync::Obj::new(7u64);
    let w = sync::Obj::downgrade(&o);
    assert_eq!(w.upgrade().map(|x| *x), Some(7));
    let refs: Vec<_> = (0..8)
        .map(|_| {
            sync::WeakRef::with_callback(&o, |_r: &sync::WeakRef<u64>| {
                CALLBACKS.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    drop(o);
    assert!(w.upgrade().is_none(), "sync: a dead object upgraded");
    assert_eq!(
        CALLBACKS.swap(0, Ordering::Relaxed),
        8,
        "sync: callbacks did not run"
    );
    drop(refs);
}

/// The groups both flavours have: `$m` is the flavour module, `$Strong` / `$StdWeak` std's pair.
macro_rules! common_groups {
    ($c:expr, $flavour:literal, $m:ident, $Strong:ident, $StdWeak:ident) => {{
        let c: &mut Criterion = $c;

        let mut g = c.benchmark_group(concat!($flavour, "/new_drop"));
        g.bench_function("ours", |b| b.iter(|| sink($m::Obj::new(black_box(42u64)))));
        g.bench_function("std", |b| b.iter(|| sink($Strong::new(black_box(42u64)))));
        g.finish();

        let mut g = c.benchmark_group(concat!($flavour, "/clone_drop"));
        g.bench_function("ours", |b| {
            let o = $m::Obj::new(42u64);
            b.iter(|| sink(black_box(&o).clone()))
        });
        g.bench_function("std", |b| {
            let o = $Strong::new(42u64);
            b.iter(|| sink(black_box(&o).clone()))
        });
        g.finish();

        let mut g = c.benchmark_group(concat!($flavour, "/downgrade_drop"));
        g.bench_function("ours", |b| {
            let o = $m::Obj::new(42u64);
            b.iter(|| sink($m::Obj::downgrade(black_box(&o))))
        });
        g.bench_function("std", |b| {
            let o = $Strong::new(42u64);
            b.iter(|| sink($Strong::downgrade(black_box(&o))))
        });
        g.finish();

        let mut g = c.benchmark_group(concat!($flavour, "/upgrade_hit"));
        g.bench_function("ours", |b| {
            let o = $m::Obj::new(42u64);
            let w = $m::Obj::downgrade(&o);
            b.iter(|| sink(black_box(&w).upgrade()));
            drop(o);
        });
        g.bench_function("std", |b| {
            let o = $Strong::new(42u64);
            let w = $Strong::downgrade(&o);
            b.iter(|| sink(black_box(&w).upgrade()));
            drop(o);
        });
        g.finish();

        let mut g = c.benchmark_group(concat!($flavour, "/upgrade_miss"));
        g.bench_function("ours", |b| {
            let o = $m::Obj::new(42u64);
            let w = $m::Obj::downgrade(&o);
            drop(o);
            b.iter(|| sink(black_box(&w).upgrade()))
        });
        g.bench_function("std", |b| {
            let o = $Strong::new(42u64);
            let w = $Strong::downgrade(&o);
            drop(o);
            b.iter(|| sink(black_box(&w).upgrade()))
        });
        if $flavour == "sync" {
            g.bench_function("weakref-crate", |b| {
                let o = weakref::Own::new_box(42u64);
                let r = o.refer();
                drop(o);
                b.iter(|| {
                    let guard = weakref::pin();
                    sink(black_box(r).get(&guard));
                })
            });
        }
        g.finish();

        // Death with one weak handle outstanding: new, downgrade, drop the strong handle; the weak
        // handle goes into a pre-allocated Vec and is dropped untimed, after the chunk.
        let mut g = c.benchmark_group(concat!($flavour, "/death_weak_kept"));
        g.bench_function("ours", |b| {
            let mut kept: Vec<$m::Weak<u64>> = Vec::with_capacity(CHUNK as usize);
            b.iter_custom(|iters| {
                chunked(
                    iters,
                    &mut kept,
                    |_, _| {},
                    |kept, n| {
                        for i in 0..n {
                            let o = $m::Obj::new(black_box(i as u64));
                            kept.push($m::Obj::downgrade(&o));
                            drop(o);
                        }
                    },
                    |kept| kept.clear(),
                )
            })
        });
        g.bench_function("std", |b| {
            let mut kept: Vec<$StdWeak<u64>> = Vec::with_capacity(CHUNK as usize);
            b.iter_custom(|iters| {
                chunked(
                    iters,
                    &mut kept,
                    |_, _| {},
                    |kept, n| {
                        for i in 0..n {
                            let o = $Strong::new(black_box(i as u64));
                            kept.push($Strong::downgrade(&o));
                            drop(o);
                        }
                    },
                    |kept| kept.clear(),
                )
            })
        });
        if $flavour == "sync" {
            g.bench_function("weakref-crate", |b| {
                let mut kept: Vec<weakref::Ref<u64>> = Vec::with_capacity(CHUNK as usize);
                b.iter_custom(|iters| {
                    chunked(
                        iters,
                        &mut kept,
                        |_, _| {},
                        |kept, n| {
                            for i in 0..n {
                                let o = weakref::Own::new_box(black_box(i as u64));
                                kept.push(o.refer());
                                drop(o);
                            }
                        },
                        |kept| kept.clear(),
                    )
                })
            });
        }
        g.finish();

        // The same, with the weak handle dropped right after the strong one (timed).
        let mut g = c.benchmark_group(concat!($flavour, "/death_weak_dropped"));
        g.bench_function("ours", |b| {
            b.iter(|| {
                let o = $m::Obj::new(black_box(42u64));
                let w = $m::Obj::downgrade(&o);
                drop(o);
                sink(w);
            })
        });
        g.bench_function("std", |b| {
            b.iter(|| {
                let o = $Strong::new(black_box(42u64));
                let w = $Strong::downgrade(&o);
                drop(o);
                sink(w);
            })
        });
        if $flavour == "sync" {
            g.bench_function("weakref-crate", |b| {
                b.iter(|| {
                    let o = weakref::Own::new_box(black_box(42u64));
                    let r = o.refer();
                    drop(o);
                    sink(r);
                })
            });
        }
        g.finish();

        // Death with 0 / 1 / 8 WeakRef callbacks: objects and refs are built untimed; the timed
        // part drops the last `Obj` (the death, running the callbacks); refs are dropped untimed.
        for (name, callbacks) in [
            (concat!($flavour, "/death_0_callbacks"), 0usize),
            (concat!($flavour, "/death_1_callback"), 1),
            (concat!($flavour, "/death_8_callbacks"), 8),
        ] {
            let mut g = c.benchmark_group(name);
            g.bench_function("ours", |b| {
                let mut state: (Vec<$m::Obj<u64>>, Vec<$m::WeakRef<u64>>) = (
                    Vec::with_capacity(CHUNK as usize),
                    Vec::with_capacity(CHUNK as usize * callbacks),
                );
                b.iter_custom(|iters| {
                    chunked(
                        iters,
                        &mut state,
                        |(objs, refs), n| {
                            for i in 0..n {
                                let o = $m::Obj::new(i as u64);
                                for _ in 0..callbacks {
                                    refs.push($m::WeakRef::with_callback(
                                        &o,
                                        |r: &$m::WeakRef<u64>| sink(r),
                                    ));
                                }
                                objs.push(o);
                            }
                        },
                        |(objs, _), _| {
                            for o in objs.drain(..) {
                                drop(o);
                            }
                        },
                        |(_, refs)| refs.clear(),
                    )
                })
            });
            g.bench_function("std-no-callbacks", |b| {
                let mut objs: Vec<$Strong<u64>> = Vec::with_capacity(CHUNK as usize);
                b.iter_custom(|iters| {
                    chunked(
                        iters,
                        &mut objs,
                        |objs, n| objs.extend((0..n).map(|i| $Strong::new(i as u64))),
                        |objs, _| {
                            for o in objs.drain(..) {
                                drop(o);
                            }
                        },
                        |_| {},
                    )
                })
            });
            g.finish();
        }
    }};
}

fn unsync_groups(c: &mut Criterion) {
    common_groups!(c, "unsync", unsync, Rc, RcWeak);
}

fn sync_groups(c: &mut Criterion) {
    common_groups!(c, "sync", sync, Arc, ArcWeak);

    // Upgrade, read the value, drop the strong reference: what a reader does; the weakref crate
    // does it as `Ref::get` under its epoch guard (a load and a compare, no write). The value
    // read comes out as a plain `u64` (0 when dead): an `Option<u64>` handed to `black_box` is
    // written as two words and read back as one, a store-forwarding stall (about 5 ns) that
    // made all three sides measure the same.
    let mut g = c.benchmark_group("sync/upgrade_read");
    g.bench_function("ours", |b| {
        let o = sync::Obj::new(42u64);
        let w = sync::Obj::downgrade(&o);
        b.iter(|| black_box(black_box(&w).upgrade().map_or(0, |x| *x)));
        drop(o);
    });
    g.bench_function("std", |b| {
        let o = Arc::new(42u64);
        let w = Arc::downgrade(&o);
        b.iter(|| black_box(black_box(&w).upgrade().map_or(0, |x| *x)));
        drop(o);
    });
    g.bench_function("weakref-crate", |b| {
        let o = weakref::Own::new_box(42u64);
        let r = o.refer();
        b.iter(|| {
            let guard = weakref::pin();
            black_box(black_box(r).get(&guard).map_or(0, |x| *x))
        });
        drop(o);
    });
    g.finish();

    // Two threads upgrade (and drop the result) at once, each cycling through 8 objects. Here the
    // two threads' objects are interleaved neighbours: 16 consecutive slots (ours; 24-byte slots,
    // so every cache line holds slots of both threads) or 16 `Arc`s found back to back in memory
    // (std, `adjacent_arcs`; the weakref crate's boxes are only allocated in a row, and its reads
    // write nothing): false sharing, if any, shows here. Time per iteration is for both threads
    // doing one upgrade each at once.
    let mut g = c.benchmark_group("sync/upgrade_2threads_neighbours");
    g.bench_function("ours", |b| {
        let (objs, handles) = objects_by_slot();
        let (wa, wb) = match consecutive_run(&handles, 2 * PER_THREAD) {
            Some(run) => interleave(&handles[run..run + 2 * PER_THREAD]),
            None => {
                eprintln!("note: no 16 consecutive slots found; using the first 16 by slot");
                interleave(&handles[..2 * PER_THREAD])
            }
        };
        let wa = wa.map(|(_, w)| w);
        let wb = wb.map(|(_, w)| w);
        b.iter_custom(|iters| two_threads(iters, &wa, &wb, |w| sink(w.upgrade())));
        drop(objs);
    });
    g.bench_function("std", |b| {
        let (objs, weaks) = adjacent_arcs();
        let wa: [ArcWeak<u64>; PER_THREAD] = std::array::from_fn(|k| weaks[2 * k].clone());
        let wb: [ArcWeak<u64>; PER_THREAD] = std::array::from_fn(|k| weaks[2 * k + 1].clone());
        b.iter_custom(|iters| two_threads(iters, &wa, &wb, |w| sink(w.upgrade())));
        drop(objs);
    });
    g.bench_function("weakref-crate", |b| {
        let owns: Vec<_> = (0..2 * PER_THREAD as u64)
            .map(weakref::Own::new_box)
            .collect();
        let refs: Vec<weakref::Ref<u64>> = owns.iter().map(|o| o.refer()).collect();
        let (ra, rb) = interleave(&refs);
        b.iter_custom(|iters| {
            two_threads(iters, &ra, &rb, |r| {
                let guard = weakref::pin();
                sink(r.get(&guard).map_or(0, |x| *x));
            })
        });
        drop(owns);
    });
    g.finish();

    // The same with the two threads' objects far apart: the 8 lowest and the 8 highest of 256
    // slots (ours), or 8 `Arc`s, 64 fillers, 8 `Arc`s (std): no shared cache line.
    let mut g = c.benchmark_group("sync/upgrade_2threads_apart");
    g.bench_function("ours", |b| {
        let (objs, handles) = objects_by_slot();
        let low: [sync::Weak<u64>; PER_THREAD] = std::array::from_fn(|k| handles[k].1);
        let n = handles.len();
        let high: [sync::Weak<u64>; PER_THREAD] =
            std::array::from_fn(|k| handles[n - PER_THREAD + k].1);
        b.iter_custom(|iters| two_threads(iters, &low, &high, |w| sink(w.upgrade())));
        drop(objs);
    });
    g.bench_function("std", |b| {
        let a: Vec<Arc<u64>> = (0..PER_THREAD as u64).map(Arc::new).collect();
        let fillers: Vec<Arc<u64>> = (0..64u64).map(Arc::new).collect();
        let bb: Vec<Arc<u64>> = (0..PER_THREAD as u64).map(Arc::new).collect();
        let wa: [ArcWeak<u64>; PER_THREAD] = std::array::from_fn(|k| Arc::downgrade(&a[k]));
        let wb: [ArcWeak<u64>; PER_THREAD] = std::array::from_fn(|k| Arc::downgrade(&bb[k]));
        b.iter_custom(|iters| two_threads(iters, &wa, &wb, |w| sink(w.upgrade())));
        drop((a, bb, fillers));
    });
    g.finish();
}

/// A handle with its slot index.
type SlotHandle = (u32, sync::Weak<u64>);

/// The slot index of a handle, read from its `Debug` text (`Weak { slot: 12, .. }`).
fn slot_of(w: &sync::Weak<u64>) -> Option<u32> {
    let text = format!("{w:?}");
    let rest = &text[text.find("slot: ")? + "slot: ".len()..];
    rest.split(|ch: char| !ch.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// 256 live `sync` objects (kept alive, so no slot changes hands) and their handles sorted by
/// slot index (objects whose slot cannot be read sort last).
fn objects_by_slot() -> (Vec<sync::Obj<u64>>, Vec<SlotHandle>) {
    let objs: Vec<_> = (0..256u64).map(sync::Obj::new).collect();
    let mut handles: Vec<SlotHandle> = objs
        .iter()
        .map(|o| {
            let w = sync::Obj::downgrade(o);
            (slot_of(&w).unwrap_or(u32::MAX), w)
        })
        .collect();
    handles.sort_by_key(|&(slot, _)| slot);
    (objs, handles)
}

/// 256 live `Arc`s, and the weak handles of 16 of them that the allocator placed back to back
/// (each at most 32 bytes after the previous: an `ArcInner<u64>` is 24 bytes), so that every cache
/// line holds two or more of them, as 16 consecutive slots of ours do. `Arc`s allocated in a row
/// are not always adjacent (the allocator reuses freed blocks first); without such a run, the
/// nearest 16 by address, with a loud note.
fn adjacent_arcs() -> (Vec<Arc<u64>>, Vec<ArcWeak<u64>>) {
    let len = 2 * PER_THREAD;
    let mut objs: Vec<Arc<u64>> = (0..256u64).map(Arc::new).collect();
    objs.sort_by_key(|o| Arc::as_ptr(o) as usize);
    let addr = |k: usize| Arc::as_ptr(&objs[k]) as usize;
    let start = (0..=objs.len() - len)
        .find(|&start| (start..start + len - 1).all(|k| addr(k + 1) - addr(k) <= 32))
        .unwrap_or_else(|| {
            eprintln!("note: no 16 back-to-back Arcs found; using the 16 nearest by address");
            (0..=objs.len() - len)
                .min_by_key(|&start| addr(start + len - 1) - addr(start))
                .unwrap_or(0)
        });
    let weaks = objs[start..start + len]
        .iter()
        .map(Arc::downgrade)
        .collect();
    (objs, weaks)
}

/// The start of `len` handles with consecutive slot indices in `sorted`, if there is such a run.
fn consecutive_run(sorted: &[SlotHandle], len: usize) -> Option<usize> {
    (0..=sorted.len().checked_sub(len)?).find(|&start| {
        let run = &sorted[start..start + len];
        run[0].0 != u32::MAX && run.windows(2).all(|p| p[1].0 == p[0].0 + 1)
    })
}

fn main() {
    sanity_checks();
    let mut c = common::criterion();
    unsync_groups(&mut c);
    sync_groups(&mut c);
    c.final_summary();
}
