//! The `sync` collections under real threads: lookups, inserts and removals racing deaths.

use std::sync::{Arc, Barrier};
use std::thread;

use weakref_collections::sync::{WeakKeyMap, WeakSet, WeakValueMap};
use weakref_core::sync::Obj;

use crate::helpers::*;

const THREADS: usize = 4;

#[test]
fn get_or_insert_with_never_returns_dead_or_missing_under_concurrent_deaths() {
    let rounds = scaled(2_000, 8);
    let cache: Arc<WeakValueMap<u32, u32>> = Arc::new(WeakValueMap::new());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                for i in 0..rounds {
                    let key = ((i + t) % 3) as u32;
                    let value = cache.get_or_insert_with(key, || Obj::new(key));
                    assert_eq!(*value, key);
                    if i % 7 == 0 {
                        cache.remove(&key);
                    }
                    drop(value); // often the last holder: the entry dies here
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(cache.len(), 0);
    cache.purge();
    assert_eq!(cache.iter().count(), 0);
}

#[test]
fn racing_loaders_all_get_the_one_kept_result() {
    let cache: Arc<WeakValueMap<&str, usize>> = Arc::new(WeakValueMap::new());
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (cache, start) = (Arc::clone(&cache), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                cache.get_or_insert_with("shared", || Obj::new(t))
            })
        })
        .collect();
    let results: Vec<Obj<usize>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.iter().all(|r| Obj::ptr_eq(r, &results[0])));
    assert_eq!(cache.len(), 1);
}

#[test]
fn len_is_exact_after_concurrent_inserts_and_deaths() {
    let rounds = scaled(1_000, 10);
    let drops = Drops::new();
    let map: Arc<WeakValueMap<Counted, u32>> = Arc::new(WeakValueMap::new());
    let keys: Arc<WeakKeyMap<u32, Counted>> = Arc::new(WeakKeyMap::new());
    let set: Arc<WeakSet<u32>> = Arc::new(WeakSet::new());
    let keep = Obj::new(u32::MAX);
    map.insert(drops.counted(u32::MAX), &keep);
    keys.insert(&keep, drops.counted(u32::MAX));
    set.insert(&keep);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (map, keys, set, drops) = (
                Arc::clone(&map),
                Arc::clone(&keys),
                Arc::clone(&set),
                drops.clone(),
            );
            thread::spawn(move || {
                for i in 0..rounds {
                    let id = (t * rounds + i) as u32;
                    let obj = Obj::new(id);
                    map.insert(drops.counted(id), &obj);
                    keys.insert(&obj, drops.counted(id));
                    set.insert(&obj);
                    if i % 3 == 0 {
                        assert!(map.remove(&drops.counted(id)).is_some());
                    }
                    assert!(keys.contains_key(&obj) && set.contains(&obj));
                    drop(obj);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!((map.len(), keys.len(), set.len()), (1, 1, 1));
    map.purge();
    keys.purge();
    set.purge();
    // Everything made was dropped, except the two kept entries' owned sides.
    let n = THREADS * rounds;
    let made = n + THREADS * rounds.div_ceil(3) + n + 2;
    assert_eq!(drops.count(), made - 2);
    drop((map, keys, set));
    assert_eq!(drops.count(), made);
}

#[test]
fn a_death_racing_the_drop_of_the_collection() {
    let rounds = scaled(200, 5);
    for _ in 0..rounds {
        let drops = Drops::new();
        let map = WeakKeyMap::new();
        let objs: Vec<_> = (0..4).map(Obj::new).collect();
        for obj in &objs {
            map.insert(obj, drops.counted(0));
        }
        let killer = thread::spawn(move || drop(objs));
        drop(map);
        killer.join().unwrap();
        assert_eq!(drops.count(), 4);
    }
}

#[test]
fn snapshot_iteration_while_other_threads_mutate() {
    let rounds = scaled(300, 5);
    let set: Arc<WeakSet<usize>> = Arc::new(WeakSet::new());
    let stable: Vec<_> = (0..8).map(Obj::new).collect();
    for obj in &stable {
        set.insert(obj);
    }
    let writer = {
        let set = Arc::clone(&set);
        thread::spawn(move || {
            for i in 0..rounds {
                let obj = Obj::new(1000 + i);
                set.insert(&obj);
                if i % 2 == 0 {
                    set.remove(&obj);
                }
            }
        })
    };
    for _ in 0..rounds / 10 + 1 {
        let seen: Vec<_> = set.iter().collect();
        for obj in &stable {
            assert!(seen.iter().any(|m| Obj::ptr_eq(m, obj)));
        }
    }
    writer.join().unwrap();
    assert_eq!(set.len(), 8);
}
