//! Model tests: random operation sequences against a `HashMap` / `HashSet` model that knows
//! which objects are alive, with deaths interleaved with every operation and with iteration.

macro_rules! model_tests {
    ($flavour:ident) => {
        #[allow(unused_mut)]
        mod $flavour {
            use std::collections::{HashMap, HashSet};

            use proptest::prelude::*;
            use weakref_collections::$flavour::{WeakKeyMap, WeakSet, WeakValueMap};
            use weakref_core::$flavour::Obj;

            const N_OBJS: usize = 6;
            const N_KEYS: u8 = 4;

            #[derive(Debug, Clone)]
            enum Op {
                /// Creates (or recreates) object slot `i`.
                New(usize),
                /// Drops object slot `i` (its death, if it was the last holder).
                Kill(usize),
                Insert(u8, usize),
                Remove(u8),
                Get(u8),
                GetOrInsert(u8, usize),
                PopItem,
                Retain(u8),
                Purge,
                Clear,
                /// Iterates, killing object slot `i` at the first step.
                IterKilling(usize),
            }

            fn op() -> impl Strategy<Value = Op> {
                let obj = 0..N_OBJS;
                let key = 0..N_KEYS;
                prop_oneof![
                    obj.clone().prop_map(Op::New),
                    obj.clone().prop_map(Op::Kill),
                    (key.clone(), obj.clone()).prop_map(|(k, i)| Op::Insert(k, i)),
                    key.clone().prop_map(Op::Remove),
                    key.clone().prop_map(Op::Get),
                    (key.clone(), obj.clone()).prop_map(|(k, i)| Op::GetOrInsert(k, i)),
                    Just(Op::PopItem),
                    key.clone().prop_map(Op::Retain),
                    Just(Op::Purge),
                    Just(Op::Clear),
                    obj.prop_map(Op::IterKilling),
                ]
            }

            /// Operations per case: fewer under Miri.
            fn max_ops() -> usize {
                if cfg!(miri) { 16 } else { 40 }
            }

            fn config() -> ProptestConfig {
                ProptestConfig {
                    cases: if cfg!(miri) { 8 } else { 256 },
                    failure_persistence: None,
                    ..ProptestConfig::default()
                }
            }

            /// The objects: slot `i` holds `Some(obj)` while the test keeps it alive.
            struct Objs {
                slots: Vec<Option<Obj<u32>>>,
                next_id: u32,
            }

            impl Objs {
                fn new() -> Self {
                    Objs { slots: (0..N_OBJS).map(|_| None).collect(), next_id: 0 }
                }
                fn make(&mut self, i: usize) -> &Obj<u32> {
                    self.next_id += 1;
                    self.slots[i] = Some(Obj::new(self.next_id));
                    self.slots[i].as_ref().unwrap()
                }
                fn get_or_make(&mut self, i: usize) -> Obj<u32> {
                    if self.slots[i].is_none() {
                        self.make(i);
                    }
                    self.slots[i].clone().unwrap()
                }
                fn alive_ids(&self) -> HashSet<u32> {
                    self.slots.iter().flatten().map(|o| **o).collect()
                }
            }

            proptest! {
                #![proptest_config(config())]

                #[test]
                fn weak_value_map_matches_model(ops in proptest::collection::vec(op(), 1..max_ops())) {
                    let mut objs = Objs::new();
                    let mut map: WeakValueMap<u8, u32> = WeakValueMap::new();
                    // key -> object id; entries whose object is dead are invisible.
                    let mut model: HashMap<u8, u32> = HashMap::new();
                    for op in ops {
                        match op {
                            Op::New(i) => { objs.make(i); }
                            Op::Kill(i) => { objs.slots[i] = None; }
                            Op::Insert(k, i) => {
                                let obj = objs.get_or_make(i);
                                let alive = objs.alive_ids();
                                let prev = map.insert(k, &obj).map(|o| *o);
                                let expected = model.insert(k, *obj).filter(|id| alive.contains(id));
                                prop_assert_eq!(prev, expected);
                            }
                            Op::Remove(k) => {
                                let alive = objs.alive_ids();
                                let got = map.remove(&k).map(|o| *o);
                                let expected = model.remove(&k).filter(|id| alive.contains(id));
                                prop_assert_eq!(got, expected);
                            }
                            Op::Get(k) => {
                                let alive = objs.alive_ids();
                                let expected = model.get(&k).copied().filter(|id| alive.contains(id));
                                prop_assert_eq!(map.get(&k).map(|o| *o), expected);
                                prop_assert_eq!(map.contains_key(&k), expected.is_some());
                            }
                            Op::GetOrInsert(k, i) => {
                                let alive = objs.alive_ids();
                                let existing = model.get(&k).copied().filter(|id| alive.contains(id));
                                let candidate = objs.get_or_make(i);
                                let got = map.get_or_insert_with(k, || candidate.clone());
                                match existing {
                                    Some(id) => prop_assert_eq!(*got, id),
                                    None => {
                                        prop_assert!(Obj::ptr_eq(&got, &candidate));
                                        model.insert(k, *candidate);
                                    }
                                }
                            }
                            Op::PopItem => {
                                let alive = objs.alive_ids();
                                match map.pop_item() {
                                    Some((k, obj)) => {
                                        prop_assert_eq!(model.remove(&k), Some(*obj));
                                    }
                                    None => prop_assert!(model.values().all(|id| !alive.contains(id))),
                                }
                            }
                            Op::Retain(k) => {
                                map.retain(|key, _| *key != k);
                                model.remove(&k);
                            }
                            Op::Purge => map.purge(),
                            Op::Clear => { map.clear(); model.clear(); }
                            Op::IterKilling(i) => {
                                let mut killed = None;
                                let mut seen = HashMap::new();
                                for (k, v) in map.iter() {
                                    if killed.is_none() {
                                        killed = objs.slots[i].take().map(|o| *o);
                                    }
                                    let k = k.to_owned();
                                    prop_assert!(Some(*v) != killed || seen.is_empty(),
                                        "an entry killed before its turn was yielded");
                                    seen.insert(k, *v);
                                }
                                let alive = objs.alive_ids();
                                for (k, id) in &model {
                                    if alive.contains(id) {
                                        prop_assert_eq!(seen.get(k), Some(id));
                                    }
                                }
                            }
                        }
                        let alive = objs.alive_ids();
                        let n_live = model.values().filter(|id| alive.contains(id)).count();
                        prop_assert_eq!(map.len(), n_live);
                    }
                }

                #[test]
                fn weak_key_map_matches_model(ops in proptest::collection::vec(op(), 1..max_ops())) {
                    let mut objs = Objs::new();
                    let mut map: WeakKeyMap<u32, u8> = WeakKeyMap::new();
                    // object id -> value; entries whose key is dead are invisible.
                    let mut model: HashMap<u32, u8> = HashMap::new();
                    for op in ops {
                        match op {
                            Op::New(i) => { objs.make(i); }
                            Op::Kill(i) => { objs.slots[i] = None; }
                            Op::Insert(v, i) => {
                                let obj = objs.get_or_make(i);
                                prop_assert_eq!(map.insert(&obj, v), model.insert(*obj, v));
                            }
                            Op::GetOrInsert(v, i) => {
                                let obj = objs.get_or_make(i);
                                let got = map.get_or_insert_with(&obj, || v).to_owned();
                                prop_assert_eq!(got, *model.entry(*obj).or_insert(v));
                            }
                            Op::Remove(i) | Op::Get(i) => {
                                let i = i as usize % N_OBJS;
                                if let Some(obj) = objs.slots[i].clone() {
                                    if matches!(op, Op::Remove(_)) {
                                        prop_assert_eq!(map.remove(&obj), model.remove(&*obj));
                                    } else {
                                        prop_assert_eq!(map.get(&obj).map(|v| v.to_owned()), model.get(&*obj).copied());
                                        prop_assert_eq!(map.contains_key(&obj), model.contains_key(&*obj));
                                    }
                                }
                            }
                            Op::PopItem => {
                                if let Some((k, v)) = map.pop_item() {
                                    prop_assert_eq!(model.remove(&*k), Some(v));
                                }
                            }
                            Op::Retain(r) => {
                                map.retain(|_, v| *v != r);
                                model.retain(|_, v| *v != r);
                            }
                            Op::Purge => map.purge(),
                            Op::Clear => { map.clear(); model.clear(); }
                            Op::IterKilling(i) => {
                                let mut first = true;
                                let mut seen = HashSet::new();
                                for (k, _) in map.iter() {
                                    if first {
                                        objs.slots[i] = None;
                                        first = false;
                                    }
                                    seen.insert(*k);
                                }
                                for id in objs.alive_ids() {
                                    if model.contains_key(&id) {
                                        prop_assert!(seen.contains(&id));
                                    }
                                }
                            }
                        }
                        let alive = objs.alive_ids();
                        model.retain(|id, _| alive.contains(id)); // object ids are never reused
                        prop_assert_eq!(map.len(), model.len());
                    }
                }

                #[test]
                fn weak_set_matches_model(ops in proptest::collection::vec(op(), 1..max_ops())) {
                    let mut objs = Objs::new();
                    let mut set: WeakSet<u32> = WeakSet::new();
                    let mut model: HashSet<u32> = HashSet::new();
                    for op in ops {
                        match op {
                            Op::New(i) => { objs.make(i); }
                            Op::Kill(i) => { objs.slots[i] = None; }
                            Op::Insert(_, i) | Op::GetOrInsert(_, i) => {
                                let obj = objs.get_or_make(i);
                                prop_assert_eq!(set.insert(&obj), model.insert(*obj));
                            }
                            Op::Remove(i) | Op::Get(i) | Op::Retain(i) => {
                                if let Some(obj) = objs.slots[i as usize % N_OBJS].clone() {
                                    if matches!(op, Op::Remove(_)) {
                                        prop_assert_eq!(set.remove(&obj), model.remove(&*obj));
                                    } else {
                                        prop_assert_eq!(set.contains(&obj), model.contains(&*obj));
                                    }
                                }
                            }
                            Op::PopItem => {
                                if let Some(obj) = set.pop() {
                                    prop_assert!(model.remove(&*obj));
                                }
                            }
                            Op::Purge => set.purge(),
                            Op::Clear => { set.clear(); model.clear(); }
                            Op::IterKilling(i) => {
                                let mut first = true;
                                let mut n = 0;
                                for _ in set.iter() {
                                    if first {
                                        objs.slots[i] = None;
                                        first = false;
                                    }
                                    n += 1;
                                }
                                prop_assert!(n <= model.len());
                            }
                        }
                        let alive = objs.alive_ids();
                        model.retain(|id| alive.contains(id));
                        prop_assert_eq!(set.len(), model.len());
                        let copy = set.clone();
                        prop_assert!(copy == set);
                    }
                }
            }
        }
    };
}

model_tests!(unsync);
model_tests!(sync);
