//! `Weak<T>`: size, `Copy`, empty handles, identity across death, slot reuse and version exhaustion.

use std::sync::Mutex;

/// Serializes the version-exhaustion tests of both flavours, which compare the global `retired_slots()`.
static VERSION_SPACE: Mutex<()> = Mutex::new(());

macro_rules! flavour_tests {
    ($flavour:ident) => {
        mod $flavour {
            use std::cmp::Ordering;
            use std::collections::{BTreeSet, HashSet};
            use std::fmt;
            use std::mem::size_of;

            use weakref_core::__testing;
            use weakref_core::$flavour::*;

            use crate::helpers::*;

            #[test]
            fn is_eight_bytes_and_so_is_an_option_of_it() {
                assert_eq!(size_of::<Weak<Tracked>>(), 8);
                assert_eq!(size_of::<Option<Weak<Tracked>>>(), 8);
                assert_eq!(size_of::<Weak<[u8; 4096]>>(), 8);
                assert_eq!(size_of::<Option<Weak<()>>>(), 8);
            }

            /// Past the static slots (2^20, read without the directory; 128 under Miri)
            /// handles work the same.
            #[test]
            fn objects_past_the_static_slots_behave_the_same() {
                let statics: u32 = if cfg!(miri) { 128 } else { 1 << 20 };
                let objs: Vec<Obj<u32>> = (0..statics + 300).map(Obj::new).collect();
                let weaks: Vec<Weak<u32>> = objs.iter().map(Obj::downgrade).collect();
                assert!(__testing::slot_table_len() > statics as usize);
                let step = if cfg!(miri) { 7 } else { 997 };
                for (i, weak) in weaks.iter().enumerate().step_by(step) {
                    assert_eq!(weak.upgrade().as_deref(), Some(&(i as u32)));
                }
                drop(objs);
                assert!(weaks
                    .iter()
                    .step_by(step)
                    .all(|weak| weak.upgrade().is_none()));
            }

            #[test]
            fn is_copy() {
                fn assert_copy<C: Copy>(value: C) -> (C, C) {
                    (value, value)
                }
                let obj = Obj::new(1_u8);
                let (first, second) = assert_copy(Obj::downgrade(&obj));
                assert_eq!(first, second);
                assert!(first.is_alive() && second.is_alive());
            }

            #[test]
            fn new_and_default_never_upgrade_and_equal_only_each_other() {
                let empty: Weak<Tracked> = Weak::new();
                let default: Weak<Tracked> = Weak::default();
                assert!(empty.upgrade().is_none());
                assert!(default.upgrade().is_none());
                assert!(!empty.is_alive());
                assert_eq!(empty.strong_count(), 0);
                assert_eq!(empty, default);
                assert_eq!(hash_of(&empty), hash_of(&default));
                assert_eq!(empty.cmp(&default), Ordering::Equal);

                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let weak = Obj::downgrade(&obj);
                assert_ne!(empty, weak);
                assert_ne!(default, weak);
                drop(obj);
                assert_ne!(
                    empty, weak,
                    "a dead object's handle is still not the empty handle"
                );
                let later = Obj::new(Tracked::new(&log, "b"));
                assert_ne!(empty, Obj::downgrade(&later));
                assert!(empty.upgrade().is_none());
            }

            #[test]
            fn upgrade_is_alive_and_strong_count_follow_the_object() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let weak = Obj::downgrade(&obj);
                assert!(weak.is_alive());
                assert_eq!(weak.strong_count(), 1);
                let clone = obj.clone();
                assert_eq!(weak.strong_count(), 2);
                let upgraded = weak.upgrade().expect("alive");
                assert_eq!(weak.strong_count(), 3);
                assert_eq!(upgraded.name, "a");
                drop((upgraded, clone));
                assert_eq!(weak.strong_count(), 1);
                drop(obj);
                assert!(!weak.is_alive());
                assert!(weak.upgrade().is_none());
                assert_eq!(weak.strong_count(), 0);
                log.assert_dropped_once(&["a"]);
            }

            #[test]
            fn eq_hash_and_ord_are_by_identity_and_stable_across_death() {
                let first = Obj::new(String::from("same"));
                let second = Obj::new(String::from("same"));
                let weak_first = Obj::downgrade(&first);
                let weak_second = Obj::downgrade(&second);
                assert_ne!(weak_first, weak_second, "equal values, different objects");
                assert_eq!(weak_first, Obj::downgrade(&first.clone()));
                let hashes = (hash_of(&weak_first), hash_of(&weak_second));
                let order = weak_first.cmp(&weak_second);
                assert_ne!(order, Ordering::Equal);
                let hash_set: HashSet<Weak<String>> =
                    [weak_first, weak_second].into_iter().collect();
                let tree_set: BTreeSet<Weak<String>> =
                    [weak_first, weak_second].into_iter().collect();

                drop(first);
                assert_eq!((hash_of(&weak_first), hash_of(&weak_second)), hashes);
                assert_eq!(weak_first.cmp(&weak_second), order);
                let copy = weak_first;
                assert_eq!(copy, weak_first);
                assert_ne!(weak_first, weak_second);
                assert!(hash_set.contains(&weak_first) && hash_set.contains(&weak_second));
                assert!(tree_set.contains(&weak_first) && tree_set.contains(&weak_second));

                drop(second);
                assert_eq!((hash_of(&weak_first), hash_of(&weak_second)), hashes);
                assert_eq!(weak_first.cmp(&weak_second), order);
                let newcomer = Obj::new(String::from("same"));
                assert!(!hash_set.contains(&Obj::downgrade(&newcomer)));
                assert!(!tree_set.contains(&Obj::downgrade(&newcomer)));
            }

            #[test]
            fn debug_never_touches_the_value() {
                struct Untouchable;
                impl fmt::Debug for Untouchable {
                    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                        panic!("Weak's Debug touched T");
                    }
                }
                let obj = Obj::new(Untouchable);
                let weak = Obj::downgrade(&obj);
                assert!(!format!("{weak:?}").is_empty());
                drop(obj);
                assert!(!format!("{weak:?}").is_empty());
                assert!(!format!("{:?}", Weak::<Untouchable>::new()).is_empty());
            }

            #[test]
            fn as_weak_names_the_object_from_every_handle() {
                fn name_of<H: AsWeak<String>>(handle: &H) -> Weak<String> {
                    handle.as_weak()
                }
                let obj = Obj::new(String::from("x"));
                let weak = Obj::downgrade(&obj);
                let shared = WeakRef::new(&obj);
                let with_callback = WeakRef::with_callback(&obj, |_| {});
                assert_eq!(name_of(&obj), weak);
                assert_eq!(name_of(&weak), weak);
                assert_eq!(name_of(&shared), weak);
                assert_eq!(name_of(&with_callback), weak);
                drop(obj);
                assert_eq!(name_of(&shared), weak, "a dead ref still names its object");
            }

            #[test]
            fn live_weak_is_the_handle_while_alive_and_none_after() {
                fn live_of<H: AsWeak<String>>(handle: &H) -> Option<Weak<String>> {
                    handle.live_weak()
                }
                let obj = Obj::new(String::from("x"));
                let weak = Obj::downgrade(&obj);
                let shared = WeakRef::new(&obj);
                assert_eq!(live_of(&obj), Some(weak));
                assert_eq!(live_of(&weak), Some(weak));
                assert_eq!(live_of(&shared), Some(weak));
                drop(obj);
                assert_eq!(live_of(&weak), None);
                assert_eq!(live_of(&shared), None);
                assert_eq!(live_of(&Weak::<String>::new()), None);
            }

            #[test]
            fn a_stale_handle_never_upgrades_to_a_later_occupant_of_its_slot() {
                let n_rounds = scaled(10_000, 100);
                let first = Obj::new(0_usize);
                let mut stale = vec![Obj::downgrade(&first)];
                drop(first);
                for round in 1..n_rounds {
                    let obj = Obj::new(round);
                    let weak = Obj::downgrade(&obj);
                    let previous = *stale.last().expect("non-empty");
                    assert!(
                        previous.upgrade().is_none(),
                        "round {round}: the previous handle upgraded"
                    );
                    assert_ne!(previous, weak);
                    assert!(
                        stale[0].upgrade().is_none(),
                        "round {round}: the first handle upgraded"
                    );
                    assert_ne!(stale[0], weak);
                    assert_eq!(weak.upgrade().map(|upgraded| *upgraded), Some(round));
                    stale.push(weak);
                }
                assert!(stale
                    .iter()
                    .all(|weak| weak.upgrade().is_none() && !weak.is_alive()));
                let distinct: HashSet<Weak<usize>> = stale.iter().copied().collect();
                assert_eq!(
                    distinct.len(),
                    stale.len(),
                    "two objects shared an identity"
                );
            }

            #[test]
            fn an_exhausted_version_space_retires_the_slot_and_stale_handles_stay_dead() {
                let _serial = lock(&super::VERSION_SPACE);
                let retired_before = __testing::retired_slots();
                __testing::force_next_version(u32::MAX - 3);
                let max_rounds = scaled(1_000, 64);
                let mut stale: Vec<Weak<usize>> = Vec::new();
                let mut round = 0;
                while __testing::retired_slots() == retired_before && round < max_rounds {
                    let obj = Obj::new(round);
                    let weak = Obj::downgrade(&obj);
                    for old in &stale {
                        assert!(
                            old.upgrade().is_none(),
                            "a stale handle upgraded to a later object"
                        );
                        assert_ne!(*old, weak);
                    }
                    assert_eq!(weak.upgrade().map(|upgraded| *upgraded), Some(round));
                    stale.push(weak);
                    drop(obj);
                    round += 1;
                }
                assert!(
                    __testing::retired_slots() > retired_before,
                    "no slot retired after {round} create/drop rounds from version u32::MAX - 3"
                );
                // Reuse goes on with other slots; none of them is reachable through a stale handle.
                let later: Vec<Obj<usize>> = (0..scaled(256, 16)).map(Obj::new).collect();
                for obj in &later {
                    let weak = Obj::downgrade(obj);
                    for old in &stale {
                        assert_ne!(*old, weak);
                    }
                }
                for old in &stale {
                    assert!(old.upgrade().is_none());
                    assert_eq!(old.strong_count(), 0);
                }
                let distinct: HashSet<Weak<usize>> = stale.iter().copied().collect();
                assert_eq!(distinct.len(), stale.len());
            }
        }
    };
}

flavour_tests!(unsync);
flavour_tests!(sync);
