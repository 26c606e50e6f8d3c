//! Every semantic line of the contract's collections section, written once for both flavours.

macro_rules! flavour_tests {
    ($flavour:ident) => {
        #[allow(unused_mut, clippy::let_unit_value)]
        mod $flavour {
            use std::collections::HashSet;

            use weakref_collections::$flavour::{WeakKeyMap, WeakSet, WeakValueMap};
            use weakref_core::$flavour::{getweakrefcount, Obj, WeakRef};

            use crate::helpers::*;

            // ---- WeakValueMap -------------------------------------------------------------

            #[test]
            fn value_map_insert_get_contains_remove_len() {
                let (a, b) = (Obj::new(String::from("a")), Obj::new(String::from("b")));
                let mut map = WeakValueMap::new();
                assert!(map.insert(1u32, &a).is_none());
                assert!(map.insert(2, &b).is_none());
                assert_eq!(map.len(), 2);
                assert!(Obj::ptr_eq(&map.get(&1).unwrap(), &a));
                assert!(map.contains_key(&2));
                assert!(!map.contains_key(&3));
                assert!(map.get(&3).is_none());
                assert!(Obj::ptr_eq(&map.remove(&1).unwrap(), &a));
                assert!(map.remove(&1).is_none());
                assert_eq!(map.len(), 1);
                assert!(!map.is_empty());
            }

            #[test]
            fn value_map_lookup_by_borrowed_form() {
                let v = Obj::new(1);
                let mut map = WeakValueMap::new();
                map.insert(String::from("key"), &v);
                assert!(map.get("key").is_some());
                assert!(map.contains_key("key"));
                assert!(map.remove("key").is_some());
            }

            #[test]
            fn value_map_dead_entry_is_gone_at_once() {
                let v = Obj::new(String::from("v"));
                let mut map = WeakValueMap::new();
                map.insert(1u32, &v);
                drop(v);
                assert!(map.get(&1).is_none());
                assert!(!map.contains_key(&1));
                assert_eq!(map.len(), 0);
                assert!(map.is_empty());
                assert_eq!(map.iter().count(), 0);
                assert_eq!(map.keys().count(), 0);
                assert_eq!(map.values().count(), 0);
                assert!(map.valuerefs().is_empty());
                assert_eq!(format!("{map:?}"), "{}");
            }

            #[test]
            fn value_map_equal_key_keeps_the_original_key_object() {
                let (a, b) = (Obj::new(1), Obj::new(2));
                let mut map = WeakValueMap::new();
                map.insert(
                    Tagged {
                        value: 7,
                        tag: "first",
                    },
                    &a,
                );
                let previous = map.insert(
                    Tagged {
                        value: 7,
                        tag: "second",
                    },
                    &b,
                );
                assert!(Obj::ptr_eq(&previous.unwrap(), &a));
                let tags: Vec<&str> = map.keys().map(|k| k.tag).collect();
                assert_eq!(tags, ["first"]);
                assert!(Obj::ptr_eq(
                    &map.get(&Tagged { value: 7, tag: "" }).unwrap(),
                    &b
                ));
            }

            #[test]
            fn value_map_owned_key_dropped_by_every_mutating_call() {
                type Map = WeakValueMap<Counted, u32>;
                let calls: Vec<(&str, Box<dyn Fn(&mut Map, &Drops)>)> = vec![
                    ("purge", Box::new(|m: &mut Map, _: &Drops| m.purge())),
                    (
                        "insert",
                        Box::new(|m: &mut Map, d: &Drops| {
                            let keep = Obj::new(0);
                            m.insert(d.counted(99), &keep);
                        }),
                    ),
                    (
                        "remove",
                        Box::new(|m: &mut Map, d: &Drops| {
                            let missing = d.counted(98);
                            m.remove(&missing);
                        }),
                    ),
                    (
                        "pop_item",
                        Box::new(|m: &mut Map, _: &Drops| {
                            let _ = m.pop_item();
                        }),
                    ),
                    ("clear", Box::new(|m: &mut Map, _: &Drops| m.clear())),
                    (
                        "retain",
                        Box::new(|m: &mut Map, _: &Drops| m.retain(|_, _| true)),
                    ),
                    (
                        "get_or_insert_with",
                        Box::new(|m: &mut Map, d: &Drops| {
                            let _ = m.get_or_insert_with(d.counted(97), || Obj::new(0));
                        }),
                    ),
                    (
                        "try_get_or_insert_with",
                        Box::new(|m: &mut Map, d: &Drops| {
                            let _ =
                                m.try_get_or_insert_with(d.counted(96), || Err::<Obj<u32>, ()>(()));
                        }),
                    ),
                ];
                for (name, call) in calls {
                    let drops = Drops::new();
                    let mut map = Map::new();
                    let v = Obj::new(1);
                    map.insert(drops.counted(1), &v);
                    drop(v);
                    assert_eq!(
                        drops.count(),
                        0,
                        "{name}: the key waits for a mutating call"
                    );
                    assert_eq!(map.len(), 0);
                    let before = drops.count();
                    call(&mut map, &drops);
                    // The dead entry's key (id 1) is gone: only keys the call itself made and
                    // dropped are counted besides it.
                    assert!(drops.count() > before, "{name} dropped the dead key");
                    assert!(!map.keys().any(|k| k.id == 1), "{name}");
                    drop(map);
                }
            }

            #[test]
            fn value_map_stale_death_never_removes_a_newer_entry() {
                let (a, b) = (Obj::new(1), Obj::new(2));
                let mut map = WeakValueMap::new();
                map.insert(1u32, &a);
                map.insert(1, &b); // replace, then let the old value die
                drop(a);
                map.purge();
                assert_eq!(*map.get(&1).unwrap(), 2);
                assert_eq!(map.len(), 1);

                // Dead first, then a new value for the same key.
                let c = Obj::new(3);
                map.insert(2, &c);
                drop(c);
                let d = Obj::new(4);
                map.insert(2, &d);
                map.purge();
                assert_eq!(*map.get(&2).unwrap(), 4);

                // Removed and re-inserted, then the old value dies.
                let e = Obj::new(5);
                let f = Obj::new(6);
                map.insert(3, &e);
                map.remove(&3);
                map.insert(3, &f);
                drop(e);
                map.purge();
                assert_eq!(*map.get(&3).unwrap(), 6);
                assert_eq!(map.len(), 3);
            }

            #[test]
            fn value_map_get_or_insert_with_never_dead_or_missing() {
                let mut map = WeakValueMap::new();
                let a = map.get_or_insert_with(1u32, || Obj::new(10));
                let again = map.get_or_insert_with(1, || unreachable!("present"));
                assert!(Obj::ptr_eq(&a, &again));
                drop((a, again));
                // Dead now: the loader runs again.
                let b = map.get_or_insert_with(1, || Obj::new(20));
                assert_eq!(*b, 20);
                assert_eq!(map.len(), 1);
                let err = map.try_get_or_insert_with(2, || Err::<Obj<i32>, _>("failed"));
                assert_eq!(err.unwrap_err(), "failed");
                assert!(!map.contains_key(&2));
                let ok = map.try_get_or_insert_with(1, || Err::<Obj<i32>, &str>("unused"));
                assert!(Obj::ptr_eq(&ok.unwrap(), &b));
            }

            #[test]
            fn value_map_pop_item_clear_retain_valuerefs() {
                let objs: Vec<_> = (0..6u32).map(Obj::new).collect();
                let mut map: WeakValueMap<u32, u32> = objs.iter().map(|o| (**o, o)).collect();
                map.retain(|k, v| *k == **v && *k % 2 == 0);
                assert_eq!(map.len(), 3);
                let refs = map.valuerefs();
                assert_eq!(refs.len(), 3);
                assert!(refs.iter().all(|r| r.get().is_some_and(|v| *v % 2 == 0)));
                let (k, v) = map.pop_item().unwrap();
                assert_eq!(k, *v);
                assert_eq!(map.len(), 2);
                map.clear();
                assert!(map.is_empty());
                assert!(map.pop_item().is_none());
            }

            #[test]
            fn value_map_iteration_skips_entries_that_die_meanwhile() {
                let n = 10u32;
                let mut holders: Vec<Option<Obj<u32>>> =
                    (0..n).map(|i| Some(Obj::new(i))).collect();
                let map: WeakValueMap<u32, u32> = holders
                    .iter()
                    .map(|o| {
                        let o = o.as_ref().unwrap();
                        (**o, o)
                    })
                    .collect();
                let mut visited = HashSet::new();
                let mut killed = HashSet::new();
                for (k, v) in &map {
                    let k = k.to_owned();
                    assert!(!killed.contains(&k), "an entry that died before its turn");
                    assert_eq!(*v, k);
                    visited.insert(k);
                    // The body drops the yielded value and the last holder of this entry...
                    drop(v);
                    holders[k as usize] = None;
                    killed.insert(k);
                    // ...and kills another entry.
                    let other = (k + 3) % n;
                    holders[other as usize] = None;
                    killed.insert(other);
                }
                for (k, holder) in holders.iter().enumerate() {
                    if holder.is_some() {
                        assert!(visited.contains(&(k as u32)));
                    }
                }
                assert_eq!(map.len(), holders.iter().flatten().count());
            }

            #[test]
            fn value_map_clone_extend_debug() {
                let (a, b) = (Obj::new(String::from("a")), Obj::new(String::from("b")));
                let mut map = WeakValueMap::new();
                map.extend([(1u32, a.clone())]);
                map.extend([(2u32, &b)]);
                assert_eq!(map.len(), 2);
                let copy = map.clone();
                map.remove(&1);
                assert_eq!(copy.len(), 2);
                assert_eq!(map.len(), 1);
                assert_eq!(format!("{map:?}"), "{2: \"b\"}");
                let owned: WeakValueMap<u32, String> = [(5, a.clone())].into_iter().collect();
                assert!(owned.contains_key(&5));
                drop(a);
                assert!(copy.get(&1).is_none());
                assert_eq!(copy.len(), 1);
            }

            #[test]
            fn value_map_drop_unregisters_and_keeps_nothing_alive() {
                let drops = Drops::new();
                let values: Vec<_> = (0..4).map(Obj::new).collect();
                let mut map = WeakValueMap::new();
                for (i, v) in values.iter().enumerate() {
                    map.insert(drops.counted(i as u32), v);
                }
                let weak = Obj::downgrade(&values[0]);
                drop(map);
                assert_eq!(drops.count(), 4, "dropping the map drops its keys");
                assert!(weak.is_alive());
                drop(values); // the hooks are gone: nothing reaches the dropped map
                assert!(!weak.is_alive());
            }

            #[test]
            fn value_map_the_collection_does_not_keep_values_alive() {
                let mut map = WeakValueMap::new();
                let v = Obj::new(1);
                let weak = Obj::downgrade(&v);
                map.insert(1u32, &v);
                drop(v);
                assert!(!weak.is_alive());
            }

            #[test]
            fn hooks_do_not_pile_up_on_a_long_lived_object() {
                // FIXME: under Miri this loop grows superlinearly (3 rounds take 2 s, 40 take
                // minutes) while it is linear natively (10,000 and 40,000 rounds: 0.16 s and
                // 0.53 s); Miri's borrow tracking of the object's record list is the suspect.
                let n = scaled(10_000, 3);
                let drops = Drops::new();
                let long_lived = Obj::new(0u32);
                let shared = WeakRef::new(&long_lived);
                let mut values = WeakValueMap::new();
                let mut keys = WeakKeyMap::new();
                let mut set = WeakSet::new();
                for i in 0..n {
                    values.insert(drops.counted(i as u32), &long_lived);
                    assert!(values.remove(&drops.counted(i as u32)).is_some());
                    keys.insert(&long_lived, drops.counted(i as u32));
                    assert!(keys.remove(&long_lived).is_some());
                    assert!(set.insert(&long_lived));
                    assert!(set.remove(&long_lived));
                    // Replacement unregisters the old hook too.
                    values.insert(drops.counted(0), &long_lived);
                }
                assert_eq!(getweakrefcount(&long_lived), 1);
                drop(shared);
                assert_eq!(getweakrefcount(&long_lived), 0);
                // Every key made above was dropped exactly once, except the one still in
                // `values` (and the lookup keys, also dropped).
                assert_eq!(values.len(), 1);
                let made = 4 * n; // inserted key, lookup key, value, replacement key
                assert_eq!(drops.count(), made - 1);
                drop(values);
                assert_eq!(drops.count(), made);
                drop(long_lived);
            }

            // ---- WeakKeyMap ---------------------------------------------------------------

            #[test]
            fn key_map_insert_get_contains_remove_by_identity() {
                let (k1, k2) = (Obj::new(1), Obj::new(1)); // equal values, distinct objects
                let mut map = WeakKeyMap::new();
                assert_eq!(map.insert(&k1, String::from("a")), None);
                assert_eq!(map.insert(&k2, String::from("b")), None);
                assert_eq!(map.len(), 2);
                assert_eq!(map.insert(&k1, String::from("c")), Some(String::from("a")));
                assert_eq!(map.get(&k1).map(|v| v.to_owned()), Some(String::from("c")));
                assert_eq!(
                    map.get(&Obj::downgrade(&k2)).map(|v| v.to_owned()),
                    Some(String::from("b"))
                );
                assert_eq!(
                    map.get(&WeakRef::new(&k2)).map(|v| v.to_owned()),
                    Some(String::from("b"))
                );
                assert!(map.contains_key(&k1));
                assert!(!map.contains_key(&Obj::new(1)));
                assert_eq!(map.remove(&k1), Some(String::from("c")));
                assert_eq!(map.remove(&k1), None);
                assert_eq!(map.len(), 1);
                // A dead handle simply misses.
                let weak = Obj::downgrade(&k2);
                drop(k2);
                assert!(!map.contains_key(&weak));
                assert!(map.get(&weak).is_none());
                assert_eq!(map.remove(&weak), None);
                assert!(map.is_empty());
            }

            #[test]
            fn key_map_value_dropped_by_next_mutating_call() {
                let drops = Drops::new();
                let mut map = WeakKeyMap::new();
                let k = Obj::new(1);
                map.insert(&k, drops.counted(1));
                drop(k);
                assert_eq!(map.len(), 0);
                assert_eq!(drops.count(), 0);
                let other = Obj::new(2);
                let other_drops = Drops::new();
                map.get_or_insert_with(&other, || other_drops.counted(2));
                assert_eq!(drops.count(), 1);
                assert_eq!(map.len(), 1);
            }

            #[test]
            fn key_map_tree_collapses_in_one_purge() {
                // Each level's value owns the next level's keys (two children per node).
                type Node = Obj<u32>;
                let drops = Drops::new();
                let mut map = WeakKeyMap::new();
                let depth = scaled(8, 4) as u32;
                let root: Node = Obj::new(0);
                let mut level = vec![root.clone()];
                let mut total = 1;
                for d in 1..=depth {
                    let mut next = Vec::new();
                    for parent in &level {
                        let children: Vec<Node> = (0..2).map(|_| Obj::new(d)).collect();
                        map.insert(parent, (children.clone(), drops.counted(d)));
                        next.extend(children);
                    }
                    total += next.len();
                    level = next;
                }
                drop(level); // leaves are owned by their parents' values only; leaves have no entry
                let entries = total - (1 << depth);
                assert_eq!(map.len(), entries);
                drop(root);
                assert_eq!(map.len(), entries - 1);
                map.purge();
                assert_eq!(map.len(), 0);
                assert_eq!(drops.count(), entries, "every value dropped in one purge");
            }

            #[test]
            fn key_map_stale_death_never_removes_a_newer_entry() {
                let k = Obj::new(1);
                let mut map = WeakKeyMap::new();
                map.insert(&k, 1);
                map.remove(&k);
                map.insert(&k, 2);
                map.purge();
                assert_eq!(map.get(&k).map(|v| v.to_owned()), Some(2));
                // A new object in a reused slot is a new key.
                let old = Obj::new(5);
                map.insert(&old, 5);
                drop(old);
                let new = Obj::new(6);
                map.insert(&new, 6);
                map.purge();
                assert_eq!(map.get(&new).map(|v| v.to_owned()), Some(6));
                assert_eq!(map.len(), 2);
            }

            #[test]
            fn key_map_get_or_insert_with() {
                let k = Obj::new(1);
                let mut map = WeakKeyMap::new();
                assert_eq!(map.get_or_insert_with(&k, || 5).to_owned(), 5);
                assert_eq!(map.get_or_insert_with(&k, || unreachable!()).to_owned(), 5);
                assert_eq!(map.len(), 1);
            }

            #[test]
            fn key_map_iteration_pop_clear_retain_keyrefs() {
                let keys: Vec<_> = (0..6u32).map(Obj::new).collect();
                let mut map: WeakKeyMap<u32, u32> = keys.iter().map(|k| (k, **k * 10)).collect();
                let mut seen: Vec<u32> = map
                    .iter()
                    .map(|(k, v)| {
                        assert_eq!(*k * 10, v.to_owned());
                        *k
                    })
                    .collect();
                seen.sort();
                assert_eq!(seen, [0, 1, 2, 3, 4, 5]);
                assert_eq!(map.values().map(|v| v.to_owned()).sum::<u32>(), 150);
                assert_eq!(map.keys().count(), 6);
                map.retain(|_, v| *v % 20 == 0);
                assert_eq!(map.len(), 3);
                assert_eq!(map.keyrefs().len(), 3);
                let (k, v) = map.pop_item().unwrap();
                assert_eq!(*k * 10, v);
                assert_eq!(map.len(), 2);
                map.clear();
                assert!(map.is_empty());
                assert!(map.pop_item().is_none());
            }

            #[test]
            fn key_map_iteration_skips_keys_that_die_meanwhile() {
                let n = 8;
                let mut holders: Vec<Option<Obj<usize>>> =
                    (0..n).map(|i| Some(Obj::new(i))).collect();
                let map: WeakKeyMap<usize, usize> =
                    holders.iter().map(|k| (k.as_ref().unwrap(), 0)).collect();
                let mut killed = HashSet::new();
                let mut visited = 0;
                for (k, _) in &map {
                    let i = *k;
                    assert!(!killed.contains(&i));
                    visited += 1;
                    drop(k);
                    holders[i] = None;
                    holders[(i + 1) % n] = None;
                    killed.insert(i);
                    killed.insert((i + 1) % n);
                }
                assert!(visited >= n / 2);
                assert!(map.is_empty());
            }

            #[test]
            fn key_map_debug_prints_keys_by_identity() {
                let k = Obj::new(vec![1u8]);
                let mut map = WeakKeyMap::new();
                map.insert(&k, 5);
                let shown = format!("{map:?}");
                assert_eq!(shown, format!("{{Vec<u8>@{:p}: 5}}", k));
                let copy = map.clone();
                assert_eq!(format!("{copy:?}"), shown);
            }

            #[test]
            fn key_map_value_holding_its_key_keeps_it_alive() {
                let k = Obj::new(1);
                let weak = Obj::downgrade(&k);
                let mut map = WeakKeyMap::new();
                map.insert(&k, Some(k.clone()));
                drop(k);
                assert!(weak.is_alive());
                assert_eq!(map.len(), 1);
                map.clear(); // the only way out
                assert!(!weak.is_alive());
            }

            #[test]
            fn key_map_drop_unregisters_hooks() {
                let drops = Drops::new();
                let keys: Vec<_> = (0..3).map(Obj::new).collect();
                let map: WeakKeyMap<i32, Counted> =
                    keys.iter().map(|k| (k, drops.counted(0))).collect();
                drop(map);
                assert_eq!(drops.count(), 3);
                drop(keys);
            }

            #[test]
            fn a_panicking_drop_during_purge_leaves_the_map_consistent() {
                struct Bomb(Option<Counted>);
                impl Drop for Bomb {
                    fn drop(&mut self) {
                        if self.0.as_ref().is_some_and(|c| c.id == 0) {
                            panic!("boom");
                        }
                    }
                }
                let drops = Drops::new();
                let mut map = WeakKeyMap::new();
                let keys: Vec<_> = (0..3).map(Obj::new).collect();
                for (i, k) in keys.iter().enumerate() {
                    map.insert(k, Bomb(Some(drops.counted(i as u32))));
                }
                drop(keys);
                assert_eq!(map.len(), 0);
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| map.purge()));
                assert!(outcome.is_err());
                assert_eq!(map.len(), 0);
                map.purge();
                let k = Obj::new(9);
                map.insert(&k, Bomb(None));
                assert_eq!(map.len(), 1);
                drop(map);
                assert_eq!(drops.count(), 3, "every value dropped once");
            }

            // ---- WeakSet ------------------------------------------------------------------

            #[test]
            fn set_insert_remove_contains_pop_by_identity() {
                let (x, y) = (Obj::new(1), Obj::new(1));
                let mut set = WeakSet::new();
                assert!(set.insert(&x));
                assert!(!set.insert(&x));
                assert!(set.insert(&y));
                assert_eq!(set.len(), 2);
                assert!(set.contains(&x) && set.contains(&WeakRef::new(&y)));
                assert!(!set.contains(&Obj::new(1)));
                assert!(set.remove(&Obj::downgrade(&x)));
                assert!(!set.remove(&x));
                assert!(Obj::ptr_eq(&set.pop().unwrap(), &y));
                assert!(set.pop().is_none());
                set.insert(&x);
                drop(x);
                assert!(set.is_empty());
                set.purge();
                set.insert(&y);
                set.clear();
                assert!(set.is_empty());
            }

            #[test]
            fn set_algebra_and_relations() {
                let objs: Vec<_> = (0..4).map(Obj::new).collect();
                let a: WeakSet<i32> = objs[..3].iter().collect();
                let b: WeakSet<i32> = objs[1..].iter().cloned().collect();
                let members = |s: &WeakSet<i32>| {
                    let mut v: Vec<i32> = s.iter().map(|m| *m).collect();
                    v.sort();
                    v
                };
                assert_eq!(members(&a.union(&b)), [0, 1, 2, 3]);
                assert_eq!(members(&a.intersection(&b)), [1, 2]);
                assert_eq!(members(&a.difference(&b)), [0]);
                assert_eq!(members(&a.symmetric_difference(&b)), [0, 3]);
                assert!(a.intersection(&b).is_subset(&a));
                assert!(a.is_superset(&a.intersection(&b)));
                assert!(!a.is_subset(&b));
                assert!(a.difference(&b).is_disjoint(&b));
                assert!(a == a.clone());
                assert!(a != b);
                // Results hold their members weakly.
                let u = a.union(&b);
                drop(objs);
                assert!(u.is_empty() && a.is_empty());
                assert!(a == b);
            }

            #[test]
            fn set_extend_from_iter_debug_iter() {
                let x = Obj::new(7u8);
                let mut set = WeakSet::new();
                set.extend([&x]);
                set.extend([x.clone()]);
                assert_eq!(set.len(), 1);
                assert_eq!(format!("{set:?}"), format!("{{u8@{:p}}}", x));
                let mut n = 0;
                for member in &set {
                    assert!(Obj::ptr_eq(&member, &x));
                    n += 1;
                }
                assert_eq!(n, 1);
                let from_owned: WeakSet<u8> = vec![x.clone()].into_iter().collect();
                assert!(from_owned == set);
            }

            #[test]
            fn set_members_dying_during_iteration_are_skipped() {
                let mut holders: Vec<Option<Obj<usize>>> =
                    (0..6).map(|i| Some(Obj::new(i))).collect();
                let set: WeakSet<usize> = holders.iter().flatten().collect();
                let mut visited = 0;
                for member in &set {
                    visited += 1;
                    let i = *member;
                    drop(member);
                    for h in holders.iter_mut() {
                        if h.as_ref().is_some_and(|h| **h == i) {
                            *h = None;
                        }
                    }
                    // Kill everything else too: the loop must end without error.
                    holders.clear();
                }
                assert_eq!(visited, 1);
                assert!(set.is_empty());
            }
        }
    };
}

flavour_tests!(unsync);
flavour_tests!(sync);
