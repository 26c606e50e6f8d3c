//! Criterion benches of weakref-collections against `weak-table` 0.3 and a plain
//! `HashMap<u64, Weak<u64>>`.
//!
//! Naming convention (as in `core.rs`): every criterion group is one operation,
//! `<flavour>/<operation>`; the function named exactly `ours` is weakref-collections, every other
//! function is a peer:
//! - `weak-table`: `WeakValueHashMap` / `PtrWeakKeyHashMap` / `PtrWeakHashSet` over std's
//!   `Rc` (`unsync`) or `Arc` (`sync`) with its default hasher, std's `RandomState` (SipHash-1-3);
//! - `weak-table-foldhash`: the same with `hashbrown::DefaultHashBuilder` (foldhash), the hasher
//!   ours always uses: the "same hasher on both sides" run;
//! - `hashmap-rc-weak` / `hashmap-arc-weak` (std's `HashMap<u64, Weak<u64>>`, default hasher
//!   SipHash) and `…-foldhash` (the same with foldhash): value-map groups only;
//! - `mutex-weak-table` / `mutex-weak-table-foldhash`: a `Mutex` around weak-table's
//!   `WeakValueHashMap<u64, std::sync::Weak<u64>>`, in the 4-thread cache groups.
//!
//! In the single-thread `sync/…` groups the weak-table peers use `Arc` without any lock (weak-table
//! maps are not shared between threads); ours pays for its sharded locks there.
//!
//! Every table holds [`N`] entries (the churn groups: [`RING`] live ones). Before a function is
//! measured its state is checked with asserts: hits hit, misses miss, the cache returns the held
//! object, half the entries are really dead, the churn keeps exactly [`RING`] live entries.

use std::collections::hash_map::{Entry as HmEntry, RandomState as Sip};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::ops::Deref;
use std::rc::{Rc, Weak as RcWeak};
use std::sync::{Arc, Barrier, Mutex, Weak as ArcWeak};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use hashbrown::DefaultHashBuilder as Fold;
use weak_table::traits::WeakElement;
use weak_table::{PtrWeakHashSet, PtrWeakKeyHashMap, WeakValueHashMap};
use weakref_collections as wc;
use weakref_core::{sync, unsync};

mod common;
use common::sink;

/// Entries per table.
const N: u64 = 1000;

/// Live objects in the churn groups (the rest of the `N` keys name dead objects).
const RING: u64 = 256;

/// Threads of the cache groups.
const THREADS: usize = 4;

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Keys `base .. base + N`, round robin.
struct Keys {
    base: u64,
    i: u64,
}

impl Keys {
    fn new(base: u64) -> Self {
        Keys { base, i: 0 }
    }

    #[inline(always)]
    fn next_key(&mut self) -> u64 {
        self.i += 1;
        if self.i == N {
            self.i = 0;
        }
        self.base + self.i
    }

    /// The next index into a slice of `N` objects.
    #[inline(always)]
    fn next_index(&mut self) -> usize {
        (self.next_key() - self.base) as usize
    }
}

/// Whether two strong handles name the same object.
fn same<P: Deref<Target = u64>>(a: &P, b: &P) -> bool {
    std::ptr::eq::<u64>(&**a, &**b)
}

// ---- peers, generic over the std weak type `W` (Rc's or Arc's) and the hasher `S` ----

fn wt_value_map<W, S>(objs: &[W::Strong]) -> WeakValueHashMap<u64, W, S>
where
    W: WeakElement,
    W::Strong: Clone,
    S: BuildHasher + Default,
{
    let mut map = WeakValueHashMap::with_capacity_and_hasher(objs.len(), S::default());
    for (k, o) in (0u64..).zip(objs) {
        map.insert(k, o.clone());
    }
    map
}

fn std_value_map<W, S>(objs: &[W::Strong]) -> HashMap<u64, W, S>
where
    W: WeakElement,
    S: BuildHasher + Default,
{
    let mut map = HashMap::with_capacity_and_hasher(objs.len(), S::default());
    for (k, o) in (0u64..).zip(objs) {
        map.insert(k, W::new(o));
    }
    map
}

fn wt_key_map<W, S>(objs: &[W::Strong]) -> PtrWeakKeyHashMap<W, u64, S>
where
    W: WeakElement,
    W::Strong: Clone + Deref,
    S: BuildHasher + Default,
{
    let mut map = PtrWeakKeyHashMap::with_capacity_and_hasher(objs.len(), S::default());
    for (k, o) in (0u64..).zip(objs) {
        map.insert(o.clone(), k);
    }
    map
}

fn wt_set<W, S>(objs: &[W::Strong]) -> PtrWeakHashSet<W, S>
where
    W: WeakElement,
    W::Strong: Clone + Deref,
    S: BuildHasher + Default,
{
    let mut set = PtrWeakHashSet::with_capacity_and_hasher(objs.len(), S::default());
    for o in objs {
        set.insert(o.clone());
    }
    set
}

/// `HashMap<u64, Weak>` used as `setdefault`: the live value, or else `f()`'s, inserted.
fn std_get_or_insert_with<W, S>(
    map: &mut HashMap<u64, W, S>,
    key: u64,
    f: impl FnOnce() -> W::Strong,
) -> W::Strong
where
    W: WeakElement,
    S: BuildHasher,
{
    match map.entry(key) {
        HmEntry::Occupied(mut e) => match e.get().view() {
            Some(strong) => strong,
            None => {
                let strong = f();
                e.insert(W::new(&strong));
                strong
            }
        },
        HmEntry::Vacant(e) => {
            let strong = f();
            e.insert(W::new(&strong));
            strong
        }
    }
}

fn wvm_get_wt<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong, base: u64, hit: bool)
where
    W: WeakElement,
    W::Strong: Clone,
    S: BuildHasher + Default,
{
    let objs: Vec<W::Strong> = (0..N).map(mk).collect();
    let map = wt_value_map::<W, S>(&objs);
    for k in base..base + N {
        assert_eq!(map.get(&k).is_some(), hit, "{name}: key {k}");
    }
    g.bench_function(name, |b| {
        let mut keys = Keys::new(base);
        b.iter(|| sink(map.get(&black_box(keys.next_key()))))
    });
}

fn wvm_get_std<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong, base: u64, hit: bool)
where
    W: WeakElement,
    S: BuildHasher + Default,
{
    let objs: Vec<W::Strong> = (0..N).map(mk).collect();
    let map = std_value_map::<W, S>(&objs);
    for k in base..base + N {
        assert_eq!(
            map.get(&k).and_then(W::view).is_some(),
            hit,
            "{name}: key {k}"
        );
    }
    g.bench_function(name, |b| {
        let mut keys = Keys::new(base);
        b.iter(|| sink(map.get(&black_box(keys.next_key())).and_then(W::view)))
    });
}

fn wkm_get_wt<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong, hit: bool)
where
    W: WeakElement,
    W::Strong: Clone + Deref,
    S: BuildHasher + Default,
{
    let objs: Vec<W::Strong> = (0..N).map(mk).collect();
    let others: Vec<W::Strong> = (0..N).map(mk).collect();
    let map = wt_key_map::<W, S>(&objs);
    let probes = if hit { &objs } else { &others };
    for p in probes {
        assert_eq!(map.get(p).is_some(), hit, "{name}");
    }
    g.bench_function(name, |b| {
        let mut keys = Keys::new(0);
        b.iter(|| sink(map.get(black_box(&probes[keys.next_index()]))))
    });
}

fn wset_contains_wt<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong, hit: bool)
where
    W: WeakElement,
    W::Strong: Clone + Deref,
    S: BuildHasher + Default,
{
    let objs: Vec<W::Strong> = (0..N).map(mk).collect();
    let others: Vec<W::Strong> = (0..N).map(mk).collect();
    let set = wt_set::<W, S>(&objs);
    let probes = if hit { &objs } else { &others };
    for p in probes {
        assert_eq!(set.contains(p), hit, "{name}");
    }
    g.bench_function(name, |b| {
        let mut keys = Keys::new(0);
        b.iter(|| set.contains(black_box(&probes[keys.next_index()])))
    });
}

fn wvm_cache_hit_wt<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong)
where
    W: WeakElement,
    W::Strong: Clone + Deref<Target = u64>,
    S: BuildHasher + Default,
{
    let objs: Vec<W::Strong> = (0..N).map(mk).collect();
    let mut map = wt_value_map::<W, S>(&objs);
    for (k, o) in (0u64..).zip(&objs) {
        assert!(same(&map.entry(k).or_insert_with(|| mk(k)), o), "{name}");
    }
    g.bench_function(name, |b| {
        let mut keys = Keys::new(0);
        b.iter(|| {
            let k = black_box(keys.next_key());
            sink(map.entry(k).or_insert_with(|| mk(k)))
        })
    });
    assert_eq!(map.iter().count(), N as usize, "{name}");
}

fn wvm_cache_hit_std<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong)
where
    W: WeakElement,
    W::Strong: Deref<Target = u64>,
    S: BuildHasher + Default,
{
    let objs: Vec<W::Strong> = (0..N).map(mk).collect();
    let mut map = std_value_map::<W, S>(&objs);
    for (k, o) in (0u64..).zip(&objs) {
        assert!(
            same(&std_get_or_insert_with(&mut map, k, || mk(k)), o),
            "{name}"
        );
    }
    g.bench_function(name, |b| {
        let mut keys = Keys::new(0);
        b.iter(|| {
            let k = black_box(keys.next_key());
            sink(std_get_or_insert_with(&mut map, k, || mk(k)))
        })
    });
    assert_eq!(map.len(), N as usize, "{name}");
}

/// Churn state: the map, the last `RING` objects (the only live ones) and a counter.
struct Churn<M, O> {
    map: M,
    ring: Vec<O>,
    i: u64,
}

impl<M, O> Churn<M, O> {
    fn new(map: M, mk: impl Fn(u64) -> O) -> Self {
        Churn {
            map,
            ring: (0..RING).map(|k| mk(u64::MAX - k)).collect(),
            i: 0,
        }
    }

    /// One step: a new object under key `i % N` replaces the object `RING` steps older in the
    /// ring, which dies.
    #[inline(always)]
    fn step(&mut self, mk: impl Fn(u64) -> O, insert: impl Fn(&mut M, u64, &O)) {
        self.i += 1;
        let obj = mk(black_box(self.i));
        insert(&mut self.map, self.i % N, &obj);
        self.ring[(self.i % RING) as usize] = obj;
    }
}

fn churn_bench<M, O>(
    g: &mut Group<'_>,
    name: &str,
    map: M,
    mk: impl Fn(u64) -> O + Copy,
    insert: impl Fn(&mut M, u64, &O) + Copy,
    live: impl Fn(&M) -> usize,
) {
    let mut state = Churn::new(map, mk);
    for _ in 0..3 * N {
        state.step(mk, insert);
    }
    assert_eq!(live(&state.map), RING as usize, "{name}: before");
    g.bench_function(name, |b| b.iter(|| state.step(mk, insert)));
    assert_eq!(live(&state.map), RING as usize, "{name}: after");
}

fn wvm_churn_wt<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong)
where
    W: WeakElement,
    W::Strong: Clone,
    S: BuildHasher + Default,
{
    churn_bench(
        g,
        name,
        WeakValueHashMap::<u64, W, S>::with_hasher(S::default()),
        mk,
        |map, k, o: &W::Strong| sink(map.insert(k, o.clone())),
        |map| map.iter().count(),
    );
}

fn wvm_churn_std<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong)
where
    W: WeakElement,
    S: BuildHasher + Default,
{
    churn_bench(
        g,
        name,
        HashMap::<u64, W, S>::with_hasher(S::default()),
        mk,
        |map, k, o: &W::Strong| sink(map.insert(k, W::new(o))),
        |map| map.values().filter(|w| w.view().is_some()).count(),
    );
}

/// `N` objects, the odd-numbered ones dropped: (the kept ones, the table built from all).
fn half_dead<O, M>(mk: impl Fn(u64) -> O, build: impl FnOnce(&[O]) -> M) -> (Vec<O>, M) {
    let all: Vec<O> = (0..N).map(mk).collect();
    let map = build(&all);
    let kept: Vec<O> = all.into_iter().step_by(2).collect();
    assert_eq!(kept.len(), (N / 2) as usize);
    (kept, map)
}

fn wvm_iter_wt<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong)
where
    W: WeakElement,
    W::Strong: Clone + Deref<Target = u64>,
    S: BuildHasher + Default,
{
    let (kept, map) = half_dead(mk, wt_value_map::<W, S>);
    assert_eq!(map.iter().count(), kept.len(), "{name}");
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for (k, v) in black_box(&map).iter() {
                sink(k);
                sum = sum.wrapping_add(*v);
            }
            sum
        })
    });
    drop(kept);
}

fn wvm_iter_std<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong)
where
    W: WeakElement,
    W::Strong: Deref<Target = u64>,
    S: BuildHasher + Default,
{
    let (kept, map) = half_dead(mk, std_value_map::<W, S>);
    let live = map.values().filter(|w| w.view().is_some()).count();
    assert_eq!(live, kept.len(), "{name}");
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for (k, w) in black_box(&map).iter() {
                if let Some(v) = w.view() {
                    sink(k);
                    sum = sum.wrapping_add(*v);
                }
            }
            sum
        })
    });
    drop(kept);
}

fn wkm_iter_wt<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong)
where
    W: WeakElement,
    W::Strong: Clone + Deref<Target = u64>,
    S: BuildHasher + Default,
{
    let (kept, map) = half_dead(mk, wt_key_map::<W, S>);
    assert_eq!(map.iter().count(), kept.len(), "{name}");
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for (k, v) in black_box(&map).iter() {
                sink(v);
                sum = sum.wrapping_add(*k);
            }
            sum
        })
    });
    drop(kept);
}

fn wset_iter_wt<W, S>(g: &mut Group<'_>, name: &str, mk: fn(u64) -> W::Strong)
where
    W: WeakElement,
    W::Strong: Clone + Deref<Target = u64>,
    S: BuildHasher + Default,
{
    let (kept, set) = half_dead(mk, wt_set::<W, S>);
    assert_eq!(set.iter().count(), kept.len(), "{name}");
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for o in black_box(&set).iter() {
                sum = sum.wrapping_add(*o);
            }
            sum
        })
    });
    drop(kept);
}

// ---- groups ----

/// The groups both flavours have: `$m` is the flavour module, `$Strong` / `$StdWeak` std's pair,
/// `$hm` / `$hm_fold` the names of the `HashMap<u64, Weak>` peers.
macro_rules! flavour_groups {
    ($c:expr, $flavour:literal, $m:ident, $Strong:ident, $StdWeak:ident, $hm:literal, $hm_fold:literal) => {{
        let c: &mut Criterion = $c;
        type W = $StdWeak<u64>;
        let mk: fn(u64) -> $Strong<u64> = $Strong::new;

        // WeakValueMap::get: keys 0..N are present and alive (hit), keys N..2N absent (miss).
        for (op, base, hit) in [("wvm_get_hit", 0, true), ("wvm_get_miss", N, false)] {
            let mut g = c.benchmark_group(format!("{}/{op}", $flavour));
            let objs: Vec<$m::Obj<u64>> = (0..N).map($m::Obj::new).collect();
            let map: wc::$m::WeakValueMap<u64, u64> = (0u64..).zip(&objs).collect();
            for k in base..base + N {
                assert_eq!(map.get(&k).is_some(), hit, "ours: key {k}");
            }
            g.bench_function("ours", |b| {
                let mut keys = Keys::new(base);
                b.iter(|| sink(map.get(&black_box(keys.next_key()))))
            });
            drop((map, objs));
            wvm_get_wt::<W, Sip>(&mut g, "weak-table", mk, base, hit);
            wvm_get_wt::<W, Fold>(&mut g, "weak-table-foldhash", mk, base, hit);
            wvm_get_std::<W, Sip>(&mut g, $hm, mk, base, hit);
            wvm_get_std::<W, Fold>(&mut g, $hm_fold, mk, base, hit);
            g.finish();
        }

        // WeakKeyMap::get: the N key objects (hit) or N other live objects (miss).
        for (op, hit) in [("wkm_get_hit", true), ("wkm_get_miss", false)] {
            let mut g = c.benchmark_group(format!("{}/{op}", $flavour));
            let objs: Vec<$m::Obj<u64>> = (0..N).map($m::Obj::new).collect();
            let others: Vec<$m::Obj<u64>> = (0..N).map($m::Obj::new).collect();
            let map: wc::$m::WeakKeyMap<u64, u64> = objs.iter().zip(0u64..).collect();
            let probes = if hit { &objs } else { &others };
            for p in probes {
                assert_eq!(map.get(p).is_some(), hit, "ours");
            }
            g.bench_function("ours", |b| {
                let mut keys = Keys::new(0);
                b.iter(|| sink(map.get(black_box(&probes[keys.next_index()]))))
            });
            drop((map, objs, others));
            wkm_get_wt::<W, Sip>(&mut g, "weak-table", mk, hit);
            wkm_get_wt::<W, Fold>(&mut g, "weak-table-foldhash", mk, hit);
            g.finish();
        }

        // WeakSet::contains: the N members (hit) or N other live objects (miss).
        for (op, hit) in [("wset_contains_hit", true), ("wset_contains_miss", false)] {
            let mut g = c.benchmark_group(format!("{}/{op}", $flavour));
            let objs: Vec<$m::Obj<u64>> = (0..N).map($m::Obj::new).collect();
            let others: Vec<$m::Obj<u64>> = (0..N).map($m::Obj::new).collect();
            let set: wc::$m::WeakSet<u64> = objs.iter().collect();
            let probes = if hit { &objs } else { &others };
            for p in probes {
                assert_eq!(set.contains(p), hit, "ours");
            }
            g.bench_function("ours", |b| {
                let mut keys = Keys::new(0);
                b.iter(|| set.contains(black_box(&probes[keys.next_index()])))
            });
            drop((set, objs, others));
            wset_contains_wt::<W, Sip>(&mut g, "weak-table", mk, hit);
            wset_contains_wt::<W, Fold>(&mut g, "weak-table-foldhash", mk, hit);
            g.finish();
        }

        // get_or_insert_with as a cache, hit path: every key's object is held elsewhere.
        {
            let mut g = c.benchmark_group(concat!($flavour, "/wvm_get_or_insert_hit"));
            let objs: Vec<$m::Obj<u64>> = (0..N).map($m::Obj::new).collect();
            #[allow(unused_mut)]
            let mut map: wc::$m::WeakValueMap<u64, u64> = (0u64..).zip(&objs).collect();
            for (k, o) in (0u64..).zip(&objs) {
                let got = map.get_or_insert_with(k, || $m::Obj::new(k));
                assert!($m::Obj::ptr_eq(&got, o), "ours: key {k}");
            }
            g.bench_function("ours", |b| {
                let mut keys = Keys::new(0);
                b.iter(|| {
                    let k = black_box(keys.next_key());
                    sink(map.get_or_insert_with(k, || $m::Obj::new(k)))
                })
            });
            assert_eq!(map.len(), N as usize, "ours");
            drop((map, objs));
            wvm_cache_hit_wt::<W, Sip>(&mut g, "weak-table", mk);
            wvm_cache_hit_wt::<W, Fold>(&mut g, "weak-table-foldhash", mk);
            wvm_cache_hit_std::<W, Sip>(&mut g, $hm, mk);
            wvm_cache_hit_std::<W, Fold>(&mut g, $hm_fold, mk);
            g.finish();
        }

        // insert with churn: each step a new object under key i % N, and the object inserted
        // RING steps earlier dies (the time includes creating and killing the object).
        {
            let mut g = c.benchmark_group(concat!($flavour, "/wvm_insert_churn"));
            churn_bench(
                &mut g,
                "ours",
                wc::$m::WeakValueMap::<u64, u64>::new(),
                $m::Obj::new,
                |map, k, o| sink(map.insert(k, o)),
                |map| map.len(),
            );
            wvm_churn_wt::<W, Sip>(&mut g, "weak-table", mk);
            wvm_churn_wt::<W, Fold>(&mut g, "weak-table-foldhash", mk);
            wvm_churn_std::<W, Sip>(&mut g, $hm, mk);
            wvm_churn_std::<W, Fold>(&mut g, $hm_fold, mk);
            g.finish();
        }

        // Iteration over N entries of which the odd-numbered half is dead (not purged).
        {
            let mut g = c.benchmark_group(concat!($flavour, "/wvm_iter_half_dead"));
            let (kept, map) = half_dead($m::Obj::new, |all: &[$m::Obj<u64>]| {
                (0u64..)
                    .zip(all)
                    .collect::<wc::$m::WeakValueMap<u64, u64>>()
            });
            assert_eq!(map.iter().count(), kept.len(), "ours");
            g.bench_function("ours", |b| {
                b.iter(|| {
                    let mut sum = 0u64;
                    for (k, v) in black_box(&map).iter() {
                        sink(k);
                        sum = sum.wrapping_add(*v);
                    }
                    sum
                })
            });
            drop((map, kept));
            wvm_iter_wt::<W, Sip>(&mut g, "weak-table", mk);
            wvm_iter_wt::<W, Fold>(&mut g, "weak-table-foldhash", mk);
            wvm_iter_std::<W, Sip>(&mut g, $hm, mk);
            wvm_iter_std::<W, Fold>(&mut g, $hm_fold, mk);
            g.finish();
        }
        {
            let mut g = c.benchmark_group(concat!($flavour, "/wkm_iter_half_dead"));
            let (kept, map) = half_dead($m::Obj::new, |all: &[$m::Obj<u64>]| {
                all.iter()
                    .zip(0u64..)
                    .collect::<wc::$m::WeakKeyMap<u64, u64>>()
            });
            assert_eq!(map.iter().count(), kept.len(), "ours");
            g.bench_function("ours", |b| {
                b.iter(|| {
                    let mut sum = 0u64;
                    for (k, v) in black_box(&map).iter() {
                        sink(v);
                        sum = sum.wrapping_add(*k);
                    }
                    sum
                })
            });
            drop((map, kept));
            wkm_iter_wt::<W, Sip>(&mut g, "weak-table", mk);
            wkm_iter_wt::<W, Fold>(&mut g, "weak-table-foldhash", mk);
            g.finish();
        }
        {
            let mut g = c.benchmark_group(concat!($flavour, "/wset_iter_half_dead"));
            let (kept, set) = half_dead($m::Obj::new, |all: &[$m::Obj<u64>]| {
                all.iter().collect::<wc::$m::WeakSet<u64>>()
            });
            assert_eq!(set.iter().count(), kept.len(), "ours");
            g.bench_function("ours", |b| {
                b.iter(|| {
                    let mut sum = 0u64;
                    for o in black_box(&set).iter() {
                        sum = sum.wrapping_add(*o);
                    }
                    sum
                })
            });
            drop((set, kept));
            wset_iter_wt::<W, Sip>(&mut g, "weak-table", mk);
            wset_iter_wt::<W, Fold>(&mut g, "weak-table-foldhash", mk);
            g.finish();
        }
    }};
}

/// `iters` calls of `op(thread, k)` on each of [`THREADS`] threads at once (this one and
/// scoped helpers); the time is from the common start (a barrier) until all are done.
fn threads(iters: u64, op: impl Fn(usize, u64) + Sync) -> Duration {
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..THREADS)
            .map(|t| {
                let (barrier, op) = (&barrier, &op);
                s.spawn(move || {
                    barrier.wait();
                    for k in 0..iters {
                        op(t, k);
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for k in 0..iters {
            op(0, k);
        }
        for h in helpers {
            h.join().expect("helper thread panicked");
        }
        start.elapsed()
    })
}

/// The key thread `t` asks for at its step `k`: each thread walks all N keys from its own offset.
#[inline(always)]
fn thread_key(t: usize, k: u64) -> u64 {
    (k + t as u64 * (N / THREADS as u64)) % N
}

fn mutex_cache<S>(g: &mut Group<'_>, name: &str, held: &[Option<Arc<u64>>])
where
    S: BuildHasher + Default + Send,
{
    let map: Mutex<WeakValueHashMap<u64, ArcWeak<u64>, S>> = Mutex::new(
        WeakValueHashMap::with_capacity_and_hasher(N as usize, S::default()),
    );
    for (k, o) in (0u64..).zip(held) {
        if let Some(o) = o {
            map.lock().expect("poisoned").insert(k, o.clone());
        }
    }
    let op = |t: usize, k: u64| {
        let key = black_box(thread_key(t, k));
        let value = map
            .lock()
            .expect("poisoned")
            .entry(key)
            .or_insert_with(|| Arc::new(key));
        sink(value);
    };
    threads(2 * N, op);
    check_cache(name, held, |k| map.lock().expect("poisoned").get(&k));
    g.bench_function(name, |b| b.iter_custom(|iters| threads(iters, op)));
}

/// After a run: every held key maps to its held object, every other key is dead.
fn check_cache<P: Deref<Target = u64>>(
    name: &str,
    held: &[Option<P>],
    get: impl Fn(u64) -> Option<P>,
) {
    for (k, o) in (0u64..).zip(held) {
        match (o, get(k)) {
            (Some(o), Some(got)) => assert!(same(o, &got), "{name}: key {k}"),
            (None, None) => {}
            (o, got) => panic!(
                "{name}: key {k}: held {}, found {}",
                o.is_some(),
                got.is_some()
            ),
        }
    }
}

fn sync_thread_groups(c: &mut Criterion) {
    // A shared cache used by 4 threads at once, each walking all N keys from its own offset with
    // get_or_insert_with. `hit`: every key's object is held elsewhere; `mixed`: only the even
    // keys' objects are, so an odd key's lookup creates an object, which dies when the thread
    // drops it. Time per iteration: each of the 4 threads does one lookup.
    for (op, hold_odd) in [
        ("sync/wvm_cache_4threads_hit", true),
        ("sync/wvm_cache_4threads_mixed", false),
    ] {
        let mut g = c.benchmark_group(op);
        let held_ours: Vec<Option<sync::Obj<u64>>> = (0..N)
            .map(|k| (hold_odd || k % 2 == 0).then(|| sync::Obj::new(k)))
            .collect();
        let map: wc::sync::WeakValueMap<u64, u64> = (0u64..)
            .zip(&held_ours)
            .filter_map(|(k, o)| Some((k, o.as_ref()?)))
            .collect();
        let ours_op = |t: usize, k: u64| {
            let key = black_box(thread_key(t, k));
            sink(map.get_or_insert_with(key, || sync::Obj::new(key)));
        };
        threads(2 * N, ours_op);
        check_cache("ours", &held_ours, |k| map.get(&k));
        g.bench_function("ours", |b| b.iter_custom(|iters| threads(iters, ours_op)));
        drop((map, held_ours));

        let held_std: Vec<Option<Arc<u64>>> = (0..N)
            .map(|k| (hold_odd || k % 2 == 0).then(|| Arc::new(k)))
            .collect();
        mutex_cache::<Sip>(&mut g, "mutex-weak-table", &held_std);
        mutex_cache::<Fold>(&mut g, "mutex-weak-table-foldhash", &held_std);
        g.finish();
    }
}

fn main() {
    let mut c = common::criterion();
    flavour_groups!(
        &mut c,
        "unsync",
        unsync,
        Rc,
        RcWeak,
        "hashmap-rc-weak",
        "hashmap-rc-weak-foldhash"
    );
    flavour_groups!(
        &mut c,
        "sync",
        sync,
        Arc,
        ArcWeak,
        "hashmap-arc-weak",
        "hashmap-arc-weak-foldhash"
    );
    sync_thread_groups(&mut c);
    c.final_summary();
}
