//! Cases ported from CPython's Lib/test/test_weakref.py (`MappingTestCase`) and
//! Lib/test/test_weakset.py, adapted to identity (distinct objects are distinct keys and
//! members, whatever their values) and to Rust's prompt deaths (no garbage collector: an object
//! dies when its last `Obj` goes, so `gc.collect()` has no counterpart).

macro_rules! python_tests {
    ($flavour:ident) => {
        #[allow(unused_mut)]
        mod $flavour {
            use weakref_collections::$flavour::{WeakKeyMap, WeakSet, WeakValueMap};
            use weakref_core::$flavour::{getweakrefcount, Obj};

            use crate::helpers::scaled;

            /// CPython's test `Object`: a value with an `arg`.
            #[derive(Debug)]
            struct Object {
                arg: u32,
            }

            const COUNT: u32 = 10;

            fn objects() -> Vec<Obj<Object>> {
                (0..COUNT).map(|arg| Obj::new(Object { arg })).collect()
            }

            fn make_weak_valued_dict() -> (WeakValueMap<u32, Object>, Vec<Obj<Object>>) {
                let objects = objects();
                let dict = objects.iter().map(|o| (o.arg, o)).collect();
                (dict, objects)
            }

            fn make_weak_keyed_dict() -> (WeakKeyMap<Object, u32>, Vec<Obj<Object>>) {
                let objects = objects();
                let dict = objects.iter().map(|o| (o, o.arg)).collect();
                (dict, objects)
            }

            // test_weak_values
            #[test]
            fn weak_values() {
                let (dict, mut objects) = make_weak_valued_dict();
                for o in &objects {
                    // Collection entries are not counted (CPython's KeyedRefs are).
                    assert_eq!(getweakrefcount(o), 0);
                    assert!(Obj::ptr_eq(o, &dict.get(&o.arg).unwrap()));
                }
                let items: Vec<_> = dict.iter().map(|(k, v)| (k.to_owned(), v)).collect();
                for (k, v) in &items {
                    assert_eq!(*k, v.arg);
                }
                drop(items);
                while let Some(o) = objects.pop() {
                    let arg = o.arg;
                    let before = dict.len();
                    drop(o);
                    assert_eq!(dict.len(), before - 1);
                    assert!(dict.get(&arg).is_none(), "KeyError after death");
                }
                assert!(dict.is_empty());
            }

            // test_weak_keys
            #[test]
            fn weak_keys() {
                let (dict, mut objects) = make_weak_keyed_dict();
                for o in &objects {
                    assert_eq!(getweakrefcount(o), 0);
                    assert_eq!(dict.get(o).map(|v| v.to_owned()), Some(o.arg));
                    assert!(dict.contains_key(o));
                }
                // An equal-looking but distinct object is not a key.
                assert!(!dict.contains_key(&Obj::new(Object { arg: 0 })));
                while let Some(o) = objects.pop() {
                    let before = dict.len();
                    drop(o);
                    assert_eq!(dict.len(), before - 1);
                }
                assert!(dict.is_empty());
            }

            // test_weak_valued_iters / check_iters
            #[test]
            fn weak_valued_iters() {
                let (dict, objects) = make_weak_valued_dict();
                let mut keys: Vec<u32> = dict.keys().map(|k| k.to_owned()).collect();
                keys.sort();
                assert_eq!(keys, (0..COUNT).collect::<Vec<_>>());
                let mut values: Vec<u32> = dict.values().map(|v| v.arg).collect();
                values.sort();
                assert_eq!(values, keys);
                let mut refs: Vec<u32> = dict
                    .valuerefs()
                    .iter()
                    .map(|r| r.get().unwrap().arg)
                    .collect();
                refs.sort();
                assert_eq!(refs, keys);
                assert_eq!((&dict).into_iter().count(), objects.len());
            }

            // test_weak_keyed_iters / check_iters
            #[test]
            fn weak_keyed_iters() {
                let (dict, objects) = make_weak_keyed_dict();
                for (k, v) in &dict {
                    assert_eq!(k.arg, v.to_owned());
                }
                assert_eq!(dict.keys().count(), objects.len());
                assert_eq!(dict.keyrefs().len(), objects.len());
                let mut values: Vec<u32> = dict.values().map(|v| v.to_owned()).collect();
                values.sort();
                assert_eq!(values, (0..COUNT).collect::<Vec<_>>());
            }

            // test_make_weak_valued_dict_from_dict, ..._from_weak_valued_dict, test_weak_valued_dict_copy
            #[test]
            fn weak_valued_dict_from_dict_and_copy() {
                let o = Obj::new(Object { arg: 3 });
                let dict: WeakValueMap<u32, Object> = [(1, o.clone())].into_iter().collect();
                assert!(Obj::ptr_eq(&dict.get(&1).unwrap(), &o));
                let dict2 = dict.clone();
                assert!(Obj::ptr_eq(&dict2.get(&1).unwrap(), &o));
                // The copy holds its values weakly, too.
                drop(o);
                assert!(dict.is_empty() && dict2.is_empty());
            }

            // test_weak_keyed_dict_copy
            #[test]
            fn weak_keyed_dict_copy() {
                let (o, t) = (Obj::new(Object { arg: 1 }), Obj::new(Object { arg: 2 }));
                let mut dict = WeakKeyMap::new();
                dict.insert(&o, 1);
                dict.insert(&t, 2);
                let dict2 = dict.clone();
                assert_eq!(dict2.len(), 2);
                dict.remove(&o);
                assert_eq!((dict.len(), dict2.len()), (1, 2));
                drop(t);
                assert_eq!((dict.len(), dict2.len()), (0, 1));
            }

            // test_weak_valued_dict_popitem, test_weak_keyed_dict_popitem
            #[test]
            fn popitem() {
                let (o1, o2) = (Obj::new(Object { arg: 1 }), Obj::new(Object { arg: 2 }));
                let mut values = WeakValueMap::new();
                values.insert("key1", &o1);
                values.insert("key2", &o2);
                let (k, v) = values.pop_item().unwrap();
                assert_eq!(values.len(), 1);
                assert_eq!(v.arg, if k == "key1" { 1 } else { 2 });
                let (k, v) = values.pop_item().unwrap();
                assert_eq!(v.arg, if k == "key1" { 1 } else { 2 });
                assert!(values.is_empty());
                assert!(values.pop_item().is_none(), "KeyError");

                let mut keys = WeakKeyMap::new();
                keys.insert(&o1, 10);
                keys.insert(&o2, 20);
                let (k, v) = keys.pop_item().unwrap();
                assert_eq!(k.arg * 10, v);
                let (k, v) = keys.pop_item().unwrap();
                assert_eq!(k.arg * 10, v);
                assert!(keys.pop_item().is_none());
            }

            // test_weak_valued_dict_setdefault / check_setdefault
            #[test]
            fn weak_valued_dict_setdefault() {
                let (value1, value2) = (Obj::new(Object { arg: 1 }), Obj::new(Object { arg: 2 }));
                let mut dict = WeakValueMap::new();
                let o = dict.get_or_insert_with("key", || value1.clone());
                assert!(Obj::ptr_eq(&o, &value1));
                assert!(dict.contains_key("key"));
                assert!(Obj::ptr_eq(&dict.get("key").unwrap(), &value1));
                let o = dict.get_or_insert_with("key", || value2.clone());
                assert!(Obj::ptr_eq(&o, &value1));
            }

            // test_weak_keyed_dict_setdefault
            #[test]
            fn weak_keyed_dict_setdefault() {
                let key = Obj::new(Object { arg: 0 });
                let mut dict = WeakKeyMap::new();
                assert_eq!(dict.get_or_insert_with(&key, || 1).to_owned(), 1);
                assert!(dict.contains_key(&key));
                assert_eq!(dict.get_or_insert_with(&key, || 2).to_owned(), 1);
            }

            // test_weak_valued_dict_update, test_weak_keyed_dict_update
            #[test]
            fn update() {
                let objects = objects();
                let mut values = WeakValueMap::new();
                values.extend(objects.iter().map(|o| (o.arg, o)));
                assert_eq!(values.len(), objects.len());
                for o in &objects {
                    assert!(Obj::ptr_eq(&values.get(&o.arg).unwrap(), o));
                }
                let mut keys = WeakKeyMap::new();
                keys.extend(objects.iter().map(|o| (o, o.arg)));
                assert_eq!(keys.len(), objects.len());
                // Updating again replaces values in place.
                keys.extend(objects.iter().map(|o| (o, o.arg + 100)));
                assert_eq!(keys.len(), objects.len());
                assert_eq!(keys.get(&objects[0]).map(|v| v.to_owned()), Some(100));
            }

            // test_weak_keyed_delitem, test_weak_keyed_bad_delitem
            #[test]
            fn weak_keyed_delitem() {
                let (o1, o2) = (Obj::new(Object { arg: 1 }), Obj::new(Object { arg: 2 }));
                let mut d = WeakKeyMap::new();
                d.insert(&o1, "something".to_string());
                d.insert(&o2, "something".to_string());
                assert_eq!(d.len(), 2);
                assert!(d.remove(&o1).is_some());
                assert_eq!(d.len(), 1);
                let keys: Vec<_> = d.keys().collect();
                assert!(keys.len() == 1 && Obj::ptr_eq(&keys[0], &o2));
                // Deleting or reading a key that is not present: KeyError.
                let o = Obj::new(Object { arg: 3 });
                assert!(d.remove(&o).is_none());
                assert!(d.get(&o).is_none());
            }

            // test_weak_valued_delitem
            #[test]
            fn weak_valued_delitem() {
                let (o1, o2) = (Obj::new(Object { arg: 1 }), Obj::new(Object { arg: 2 }));
                let mut d = WeakValueMap::new();
                d.insert("something", &o1);
                d.insert("something else", &o2);
                assert_eq!(d.len(), 2);
                assert!(d.remove("something").is_some());
                assert_eq!(d.len(), 1);
                let items: Vec<_> = d.iter().map(|(k, v)| (k.to_owned(), v)).collect();
                assert_eq!(items.len(), 1);
                assert_eq!(items[0].0, "something else");
                assert!(Obj::ptr_eq(&items[0].1, &o2));
            }

            // test_threaded_weak_valued_consistency (single-threaded here; threads in sync_threads)
            #[test]
            fn weak_valued_consistency() {
                let mut d = WeakValueMap::new();
                let mut o = Obj::new(Object { arg: 0 });
                d.insert(10u32, &o);
                for i in 0..scaled(10_000, 12) as u32 {
                    o = Obj::new(Object { arg: i });
                    d.insert(10, &o); // the previous value dies here
                    assert_eq!(d.len(), 1);
                }
                drop(o);
                assert_eq!(d.len(), 0);
            }

            // test_threaded_weak_valued_setdefault (single-threaded form)
            #[test]
            fn weak_valued_setdefault_loop() {
                let mut d = WeakValueMap::new();
                for i in 0..scaled(10_000, 12) as u32 {
                    let x = d.get_or_insert_with(10u32, || Obj::new(Object { arg: i }));
                    assert_eq!(x.arg, i, "the previous value died, so this is a new one");
                    drop(x);
                }
                assert!(d.is_empty());
            }

            // test_remove_closure (bpo-38006): the hooks do not keep the dict alive, and a
            // death after the dict is gone touches nothing.
            #[test]
            fn hooks_do_not_keep_the_dict_alive() {
                let o = Obj::new(Object { arg: 1 });
                let mut d = WeakValueMap::new();
                d.insert(1u32, &o);
                drop(d);
                drop(o);
            }

            // ---- test_weakset -------------------------------------------------------------

            fn letters(s: &str) -> Vec<Obj<Object>> {
                s.bytes()
                    .map(|b| Obj::new(Object { arg: u32::from(b) }))
                    .collect()
            }

            // test_len, test_contains
            #[test]
            fn set_len_and_contains() {
                let mut items = letters("abcde");
                let s: WeakSet<Object> = items.iter().collect();
                assert_eq!(s.len(), items.len());
                for item in &items {
                    assert!(s.contains(item));
                }
                let gone = Obj::downgrade(&items.pop().unwrap());
                assert_eq!(s.len(), items.len());
                assert!(!s.contains(&gone));
                assert!(!s.contains(&Obj::new(Object { arg: 0 })));
            }

            // test_union, test_intersection, test_difference, test_symmetric_difference: the
            // results hold their members weakly.
            #[test]
            fn set_operations_hold_weakly() {
                let items = letters("abc");
                let mut items2 = letters("xyz");
                let s: WeakSet<Object> = items.iter().collect();
                let s2: WeakSet<Object> = items2.iter().collect();
                let u = s.union(&s2);
                assert_eq!(u.len(), items.len() + items2.len());
                items2.pop();
                assert_eq!(u.len(), items.len() + items2.len());
                assert_eq!(
                    s.symmetric_difference(&s2).len(),
                    items.len() + items2.len()
                );
                assert!(s.intersection(&s2).is_empty());
                assert!(s.is_disjoint(&s2));
                assert_eq!(s.difference(&s2).len(), items.len());
                let i = u.intersection(&s);
                assert_eq!(i.len(), items.len());
                drop(items);
                assert!(i.is_empty() && s.is_empty());
            }

            // test_sub_and_super
            #[test]
            fn set_sub_and_super() {
                let items = letters("abcdef");
                let p: WeakSet<Object> = items[..3].iter().collect();
                let q: WeakSet<Object> = items[..5].iter().collect();
                let r: WeakSet<Object> = items[2..].iter().collect();
                assert!(p.is_subset(&q) && q.is_superset(&p));
                assert!(!p.is_subset(&r) && !r.is_superset(&p));
                assert!(p.is_subset(&p) && p.is_superset(&p));
                assert!(WeakSet::new().is_subset(&p));
            }

            // test_clear, test_copy, test_add, test_remove, test_discard, test_pop
            #[test]
            fn set_mutation() {
                let items = letters("abc");
                let mut s: WeakSet<Object> = items.iter().collect();
                let mut dup = s.clone();
                assert!(dup == s);
                assert!(dup.remove(&items[0]));
                assert!(s.contains(&items[0]), "the copy is independent");
                let x = Obj::new(Object { arg: 0 });
                assert!(s.insert(&x));
                assert!(!s.insert(&x));
                assert_eq!(s.len(), 4);
                assert!(s.remove(&x));
                assert!(!s.remove(&x), "KeyError / discard of a missing member");
                let mut n = 0;
                while let Some(member) = s.pop() {
                    assert!(items.iter().any(|i| Obj::ptr_eq(i, &member)));
                    n += 1;
                }
                assert_eq!(n, 3);
                assert!(s.pop().is_none());
                dup.clear();
                assert!(dup.is_empty());
            }

            // test_eq, test_ne
            #[test]
            fn set_eq() {
                let items = letters("abc");
                let s: WeakSet<Object> = items.iter().collect();
                assert!(s == s);
                assert!(s == items.iter().collect::<WeakSet<Object>>());
                assert!(
                    s != letters("abc").iter().collect::<WeakSet<Object>>(),
                    "identity"
                );
                assert!(s != WeakSet::new());
            }

            // test_weak_destroy_while_iterating (issue #7105)
            #[test]
            fn set_weak_destroy_while_iterating() {
                let mut items = letters("abc");
                let s: WeakSet<Object> = items.iter().collect();
                let mut it = s.iter();
                let first = it.next();
                assert!(first.is_some());
                items.pop();
                let rest = it.count();
                assert!(rest <= 2);
                drop(first);
                assert_eq!(s.len(), items.len());
            }

            // test_repr
            #[test]
            fn set_repr() {
                let x = Obj::new(Object { arg: 0 });
                let s: WeakSet<Object> = [&x].into_iter().collect();
                assert_eq!(format!("{s:?}"), format!("{{Object@{:p}}}", x));
            }
        }
    };
}

python_tests!(unsync);
python_tests!(sync);
