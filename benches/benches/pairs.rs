//! The issues' performance targets, measured as interleaved pairs: ours and the peer alternate in
//! short slices (peer first in every other round), many rounds, and the ratio is taken per
//! round. On a shared machine a burst of load then hits both sides of a round alike, where
//! criterion's sequential groups (all of ours, then all of the peer's) can put it on one side.
//!
//! `cargo bench -p weakref-benches --bench pairs` prints, per target: the median of the
//! per-round ratios, the ratio of the two sides' best slices, and the target.
//!
//! The collections' single-thread targets (issue 10) are here too, against weak-table with the
//! same hasher (foldhash) on both sides, over `Rc` (`unsync`) or `Arc` (`sync`, no lock: a
//! weak-table map is not shared between threads, while ours pays for its shard lock). The
//! 4-thread cache target stays in the criterion `collections` bench.

use std::hint::black_box;
use std::time::Instant;

use hashbrown::DefaultHashBuilder as Fold;
use weak_table::{PtrWeakKeyHashMap, WeakValueHashMap};
use weakref_collections as wc;
use weakref_core::{sync, unsync};

mod common;
use common::sink;

/// Rounds per pair.
const ROUNDS: usize = 41;
/// Objects per chunk in the death benches (the kept handles are dropped untimed after it).
const CHUNK: usize = 1_000;

/// Entries per collection in the collection pairs (looked up round robin).
const ENTRIES: u64 = 1_000;

/// One side of a pair: runs `n` iterations, returns the nanoseconds it took.
type Side<'a> = Box<dyn FnMut(u64) -> f64 + 'a>;

/// Times `n` iterations of `f`.
fn timed(n: u64, mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    f(n);
    start.elapsed().as_secs_f64() * 1e9
}

/// Median of `values` (sorted in place).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Whether this is a real bench run: `cargo bench` passes `--bench`; `cargo test --all-targets`
/// (CI's test step) runs this binary without it, unoptimized, where timings mean nothing.
fn timing() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// Runs the pair interleaved and prints its line. Outside `cargo bench`, runs each side once
/// on a few iterations (a smoke test of both sides) and prints no figure.
fn pair(name: &str, target: &str, iters: u64, mut ours: Side<'_>, mut peer: Side<'_>) {
    if !timing() {
        ours(100);
        peer(100);
        println!("{name:44} ran once (not timed: not under `cargo bench`)");
        return;
    }
    // Warm-up: caches, branch predictors, the slot table and the allocators.
    ours(iters);
    peer(iters);
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut best_ours, mut best_peer) = (f64::MAX, f64::MAX);
    for round in 0..ROUNDS {
        let (o, p) = if round % 2 == 0 {
            let o = ours(iters);
            (o, peer(iters))
        } else {
            let p = peer(iters);
            (ours(iters), p)
        };
        best_ours = best_ours.min(o);
        best_peer = best_peer.min(p);
        ratios.push(o / p);
    }
    let per = |ns: f64| ns / iters as f64;
    println!(
        "{name:44} median ratio {:5.2}  best {:5.2}  (ours {:7.2} ns, peer {:7.2} ns)  target {target}",
        median(&mut ratios),
        best_ours / best_peer,
        per(best_ours),
        per(best_peer),
    );
}

/// Death with one weak handle outstanding, `CHUNK` objects at a time: `make` creates an object
/// and returns its weak handle (the strong one dropped); the handles are dropped untimed.
fn deaths<W>(mut make: impl FnMut(u64) -> W) -> impl FnMut(u64) -> f64 {
    let mut kept: Vec<W> = Vec::with_capacity(CHUNK);
    move |n| {
        let mut total = 0.0;
        let mut left = n;
        while left > 0 {
            let chunk = left.min(CHUNK as u64);
            total += timed(chunk, |chunk| {
                for i in 0..chunk {
                    kept.push(make(i));
                }
            });
            kept.clear();
            left -= chunk;
        }
        total
    }
}

/// The pairs both flavours have: `$m` is our flavour module, `$Strong` std's counterpart,
/// `$proxy` the proxy crate's flavour module.
macro_rules! flavour_pairs {
    ($label:literal, $m:ident, $Strong:ident, $proxy:path, $upgrade_target:literal) => {{
        use $proxy as proxy;
        let o = $m::Obj::new(42u64);
        let w = $m::Obj::downgrade(&o);
        let so = $Strong::new(42u64);
        let sw = $Strong::downgrade(&so);
        pair(
            concat!($label, " Weak::upgrade hit (+drop) / std"),
            $upgrade_target,
            2_000_000,
            Box::new(|n| timed(n, |n| (0..n).for_each(|_| sink(black_box(&w).upgrade())))),
            Box::new(|n| timed(n, |n| (0..n).for_each(|_| sink(black_box(&sw).upgrade())))),
        );
        pair(
            concat!($label, " Obj::downgrade + drop / std"),
            if $label == "sync" { "<= 0.2" } else { "-" },
            2_000_000,
            Box::new(|n| {
                timed(n, |n| {
                    (0..n).for_each(|_| sink($m::Obj::downgrade(black_box(&o))))
                })
            }),
            Box::new(|n| {
                timed(n, |n| {
                    (0..n).for_each(|_| sink($Strong::downgrade(black_box(&so))))
                })
            }),
        );
        pair(
            concat!($label, " Obj::new + drop / std"),
            "<= 1.3",
            200_000,
            Box::new(|n| timed(n, |n| (0..n).for_each(|i| sink($m::Obj::new(black_box(i)))))),
            Box::new(|n| timed(n, |n| (0..n).for_each(|i| sink($Strong::new(black_box(i)))))),
        );
        pair(
            concat!($label, " death, one Weak kept / std"),
            "<= 1.3",
            200_000,
            Box::new(deaths(|i| {
                let o = $m::Obj::new(black_box(i));
                $m::Obj::downgrade(&o)
            })),
            Box::new(deaths(|i| {
                let o = $Strong::new(black_box(i));
                $Strong::downgrade(&o)
            })),
        );
        let p = proxy::Proxy::new(&o);
        assert_eq!(*p, 42);
        pair(
            concat!($label, " pinned Proxy deref / Obj deref"),
            "<= 1.5",
            5_000_000,
            Box::new(|n| timed(n, |n| (0..n).for_each(|_| sink(**black_box(&p))))),
            Box::new(|n| timed(n, |n| (0..n).for_each(|_| sink(**black_box(&o))))),
        );
    }};
}

/// The next key of a round robin over `0..ENTRIES`.
#[inline(always)]
fn next_key(i: &mut u64) -> u64 {
    *i += 1;
    if *i == ENTRIES {
        *i = 0;
    }
    *i
}

/// The collections' single-thread targets: `$m` is our flavour module, `$Strong` / `$Weak`
/// std's strong and weak types that weak-table's maps hold.
macro_rules! collection_pairs {
    ($label:literal, $m:ident, $Strong:ident, $Weak:ty) => {{
        let objs: Vec<$m::Obj<u64>> = (0..ENTRIES).map($m::Obj::new).collect();
        let peer_objs: Vec<$Strong<u64>> = (0..ENTRIES).map($Strong::new).collect();

        #[allow(unused_mut)]
        let mut ours: wc::$m::WeakValueMap<u64, u64> = (0u64..).zip(&objs).collect();
        let mut peer: WeakValueHashMap<u64, $Weak, Fold> = WeakValueHashMap::default();
        for (k, o) in (0u64..).zip(&peer_objs) {
            peer.insert(k, o.clone());
        }
        let (mut i, mut j) = (0, 0);
        pair(
            concat!($label, " WeakValueMap::get_or_insert_with hit / weak-table"),
            "<= 1.0",
            1_000_000,
            Box::new(|n| {
                timed(n, |n| {
                    for _ in 0..n {
                        let k = black_box(next_key(&mut i));
                        sink(ours.get_or_insert_with(k, || $m::Obj::new(k)));
                    }
                })
            }),
            Box::new(|n| {
                timed(n, |n| {
                    for _ in 0..n {
                        let k = black_box(next_key(&mut j));
                        sink(peer.entry(k).or_insert_with(|| $Strong::new(k)));
                    }
                })
            }),
        );
        assert_eq!(ours.len(), ENTRIES as usize);
        assert_eq!(peer.len(), ENTRIES as usize);

        let ours: wc::$m::WeakKeyMap<u64, u64> = objs.iter().zip(0u64..).collect();
        let mut peer: PtrWeakKeyHashMap<$Weak, u64, Fold> = PtrWeakKeyHashMap::default();
        for (o, k) in peer_objs.iter().zip(0u64..) {
            peer.insert(o.clone(), k);
        }
        let (mut i, mut j) = (0, 0);
        pair(
            concat!($label, " WeakKeyMap::get hit / weak-table"),
            "<= 0.8",
            1_000_000,
            Box::new(|n| {
                timed(n, |n| {
                    for _ in 0..n {
                        let key = black_box(&objs[next_key(&mut i) as usize]);
                        sink(ours.get(key));
                    }
                })
            }),
            Box::new(|n| {
                timed(n, |n| {
                    for _ in 0..n {
                        let key = black_box(&peer_objs[next_key(&mut j) as usize]);
                        sink(peer.get(key));
                    }
                })
            }),
        );
    }};
}

fn main() {
    use std::rc::Rc;
    use std::sync::Arc;
    println!("interleaved pairs: {ROUNDS} rounds, ratio = ours / peer");
    if timing() {
        // Bring the core to its working clock before the first pair (which otherwise pays for
        // the ramp on whichever side runs first).
        let start = Instant::now();
        while start.elapsed().as_millis() < 500 {
            sink(black_box(start));
        }
    }
    flavour_pairs!("unsync", unsync, Rc, weakref_proxy::unsync, "<= 1.5");
    flavour_pairs!("sync", sync, Arc, weakref_proxy::sync, "<= 1.2");
    collection_pairs!("unsync", unsync, Rc, std::rc::Weak<u64>);
    collection_pairs!("sync", sync, Arc, std::sync::Weak<u64>);
    let o = sync::Obj::new(42u64);
    let w = sync::Obj::downgrade(&o);
    let owner = weakref::Own::new_box(42u64);
    let r = owner.refer();
    pair(
        "sync upgrade + read + drop / weakref crate",
        "<= 1.0",
        2_000_000,
        Box::new(|n| {
            timed(n, |n| {
                (0..n).for_each(|_| sink(black_box(&w).upgrade().map_or(0, |x| *x)))
            })
        }),
        Box::new(|n| {
            timed(n, |n| {
                (0..n).for_each(|_| {
                    let guard = weakref::pin();
                    sink(black_box(r).get(&guard).map_or(0, |x| *x));
                })
            })
        }),
    );
}
