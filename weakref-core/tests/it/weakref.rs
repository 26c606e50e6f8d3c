//! `WeakRef<T>` (Python's `weakref.ref`): sharing, callbacks, Python equality and hashing, `Debug`.

macro_rules! flavour_tests {
    ($flavour:ident) => {
        mod $flavour {
            use std::collections::{HashMap, HashSet};
            use std::hash::{DefaultHasher, Hash};
            use std::panic::{catch_unwind, AssertUnwindSafe};
            use std::sync::{Arc, Mutex};

            use weakref_core::$flavour::*;

            use crate::helpers::*;

            type Holder = Arc<Mutex<Option<WeakRef<Tracked>>>>;

            /// The ref address in `<weakref at 0x…; …>`.
            fn ref_address(debug: &str) -> &str {
                let rest = debug
                    .strip_prefix("<weakref at ")
                    .unwrap_or_else(|| panic!("bad Debug: {debug}"));
                let (address, _) = rest
                    .split_once(';')
                    .unwrap_or_else(|| panic!("bad Debug: {debug}"));
                assert!(is_hex_address(address), "bad ref address in {debug}");
                address
            }

            fn logging_callback(
                log: &Log,
                event: &'static str,
            ) -> impl FnOnce(&WeakRef<Tracked>) + Send + 'static {
                let log = log.clone();
                move |_| log.push(event)
            }

            #[test]
            fn new_shares_one_callback_less_ref_object_per_object() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let first = WeakRef::new(&obj);
                let second = WeakRef::new(&obj);
                assert!(WeakRef::ptr_eq(&first, &second));
                assert_eq!(getweakrefcount(&obj), 1);
                assert!(!first.has_callback());
                drop((first, second));
                assert_eq!(getweakrefcount(&obj), 0);
                let third = WeakRef::new(&obj);
                assert_eq!(getweakrefcount(&obj), 1);
                let other_obj = Obj::new(Tracked::new(&log, "b"));
                assert!(!WeakRef::ptr_eq(&third, &WeakRef::new(&other_obj)));
            }

            #[test]
            fn with_callback_is_never_shared() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let shared = WeakRef::new(&obj);
                let first = WeakRef::with_callback(&obj, |_| {});
                let second = WeakRef::with_callback(&obj, |_| {});
                assert!(!WeakRef::ptr_eq(&shared, &first));
                assert!(!WeakRef::ptr_eq(&first, &second));
                assert!(
                    WeakRef::ptr_eq(&shared, &WeakRef::new(&obj)),
                    "the shared one stays shared"
                );
                assert_eq!(getweakrefcount(&obj), 3);
                drop(first);
                assert_eq!(getweakrefcount(&obj), 2);
                drop((shared, second));
                assert_eq!(getweakrefcount(&obj), 0);
            }

            #[test]
            fn get_upgrade_is_alive_and_downgrade_follow_the_object() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let weak_ref = WeakRef::new(&obj);
                assert!(weak_ref.is_alive());
                let got = weak_ref.get().expect("alive");
                assert!(Obj::ptr_eq(&got, &obj));
                let upgraded = weak_ref.upgrade().expect("alive");
                assert!(Obj::ptr_eq(&upgraded, &obj));
                assert_eq!(Obj::strong_count(&obj), 3);
                assert_eq!(weak_ref.downgrade(), Obj::downgrade(&obj));
                drop((got, upgraded));
                assert_eq!(
                    Obj::strong_count(&obj),
                    1,
                    "a WeakRef holds no strong reference"
                );
                drop(obj);
                assert!(!weak_ref.is_alive());
                assert!(weak_ref.get().is_none());
                assert!(weak_ref.upgrade().is_none());
                assert!(weak_ref.downgrade().upgrade().is_none());
                log.assert_dropped_once(&["a"]);
            }

            #[test]
            fn reference_type_is_an_alias_of_weak_ref() {
                let obj = Obj::new(3_u32);
                let weak_ref: ReferenceType<u32> = WeakRef::new(&obj);
                assert_eq!(weak_ref.get().map(|o| *o), Some(3));
            }

            #[test]
            fn has_callback_is_true_until_the_referent_dies() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let shared = WeakRef::new(&obj);
                let with_callback =
                    WeakRef::with_callback(&obj, logging_callback(&log, "callback"));
                assert!(!shared.has_callback());
                assert!(with_callback.has_callback());
                assert!(with_callback.clone().has_callback());
                drop(obj);
                assert!(!with_callback.has_callback());
                assert!(!shared.has_callback());
                assert_eq!(log.events(), ["drop a", "callback"]);
            }

            #[test]
            fn clone_is_the_same_ref_object_and_its_callback_runs_once() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let original = WeakRef::with_callback(&obj, logging_callback(&log, "callback"));
                let clone = original.clone();
                assert!(WeakRef::ptr_eq(&original, &clone));
                assert_eq!(getweakrefcount(&obj), 1, "clones are one ref object");
                drop(obj);
                assert_eq!(log.events(), ["drop a", "callback"]);
                assert!(WeakRef::ptr_eq(&original, &clone));
            }

            #[test]
            fn the_callback_runs_after_t_is_dropped_and_gets_its_own_dead_ref() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let me: Holder = Arc::default();
                let callback_log = log.clone();
                let callback_me = me.clone();
                let with_callback = WeakRef::with_callback(&obj, move |r: &WeakRef<Tracked>| {
                    let is_me = lock(&callback_me)
                        .as_ref()
                        .is_some_and(|me| WeakRef::ptr_eq(me, r));
                    callback_log.push(format!(
                        "callback is_me={is_me} alive={} get={} has_callback={}",
                        r.is_alive(),
                        r.get().is_some(),
                        r.has_callback()
                    ));
                });
                *lock(&me) = Some(with_callback.clone());
                drop(obj);
                assert_eq!(
                    log.events(),
                    [
                        "drop a",
                        "callback is_me=true alive=false get=false has_callback=false"
                    ]
                );
                drop(lock(&me).take());
                drop(with_callback);
                assert_eq!(log.events().len(), 2);
            }

            #[test]
            fn a_callback_runs_only_if_its_ref_object_exists_at_death() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let dropped =
                    WeakRef::with_callback(&obj, logging_callback(&log, "dropped ref's callback"));
                let kept =
                    WeakRef::with_callback(&obj, logging_callback(&log, "kept ref's callback"));
                let kept_clone = kept.clone();
                drop(kept);
                drop(dropped);
                assert_eq!(getweakrefcount(&obj), 1);
                drop(obj);
                assert_eq!(log.events(), ["drop a", "kept ref's callback"]);
                drop(kept_clone);
                assert_eq!(log.events().len(), 2);
            }

            #[test]
            fn callbacks_run_newest_registered_first() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let refs: Vec<_> = ["first", "second", "third", "fourth"]
                    .into_iter()
                    .map(|event| WeakRef::with_callback(&obj, logging_callback(&log, event)))
                    .collect();
                drop(obj);
                assert_eq!(
                    log.events(),
                    ["drop a", "fourth", "third", "second", "first"]
                );
                drop(refs);
            }

            #[test]
            fn every_ref_to_the_dying_object_reads_dead_inside_a_callback() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let weak = Obj::downgrade(&obj);
                let shared = WeakRef::new(&obj);
                let other = WeakRef::with_callback(&obj, |_| {});
                let callback_log = log.clone();
                let (callback_shared, callback_other) = (shared.clone(), other.clone());
                let with_callback = WeakRef::with_callback(&obj, move |r: &WeakRef<Tracked>| {
                    callback_log.push(format!(
                        "weak={} {} shared={} other={} self={}",
                        weak.is_alive(),
                        weak.strong_count(),
                        callback_shared.get().is_some(),
                        callback_other.is_alive(),
                        r.get().is_some()
                    ));
                });
                drop(obj);
                assert_eq!(
                    log.events(),
                    ["drop a", "weak=false 0 shared=false other=false self=false"]
                );
                drop((shared, other, with_callback));
            }

            #[test]
            fn refs_may_be_dropped_inside_callbacks_including_their_own() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let holds_newer: Holder = Arc::default();
                let holds_older: Holder = Arc::default();
                let older = WeakRef::with_callback(&obj, logging_callback(&log, "older"));
                let (callback_log, callback_newer, callback_older) =
                    (log.clone(), holds_newer.clone(), holds_older.clone());
                let newer = WeakRef::with_callback(&obj, move |r: &WeakRef<Tracked>| {
                    let me = lock(&callback_newer).take();
                    let is_me = me.as_ref().is_some_and(|me| WeakRef::ptr_eq(me, r));
                    drop(me);
                    callback_log.push(format!("newer dropped itself, is_me={is_me}"));
                    let older = lock(&callback_older).take();
                    drop(older);
                    callback_log.push(format!(
                        "newer dropped older, own ref alive={}",
                        r.is_alive()
                    ));
                });
                // The holders now own the only handles of both ref objects.
                *lock(&holds_newer) = Some(newer);
                *lock(&holds_older) = Some(older);
                drop(obj);
                assert_eq!(
                    log.events(),
                    [
                        "drop a",
                        "newer dropped itself, is_me=true",
                        "newer dropped older, own ref alive=false",
                        "older"
                    ]
                );
                assert!(lock(&holds_newer).is_none() && lock(&holds_older).is_none());
            }

            #[test]
            fn equality_is_by_value_while_both_live_then_by_ref_identity() {
                let five = Obj::new(5);
                let another_five = Obj::new(5);
                let six = Obj::new(6);
                let ref_five = WeakRef::new(&five);
                let ref_another_five = WeakRef::new(&another_five);
                let ref_six = WeakRef::new(&six);
                let ref_five_callback = WeakRef::with_callback(&five, |_| {});
                assert_eq!(ref_five, ref_another_five);
                assert_ne!(ref_five, ref_six);
                assert_eq!(
                    ref_five, ref_five_callback,
                    "two ref objects, one live referent"
                );

                drop(another_five);
                assert_ne!(ref_five, ref_another_five, "one dead: identity");
                assert_eq!(ref_another_five, ref_another_five.clone());

                drop(five);
                assert_ne!(
                    ref_five, ref_five_callback,
                    "both dead, different ref objects"
                );
                assert_eq!(ref_five, ref_five.clone());
                assert_eq!(ref_five_callback, ref_five_callback.clone());
                assert_ne!(ref_five, ref_six);

                fn assert_eq_impl<E: Eq>() {}
                assert_eq_impl::<WeakRef<i32>>();
            }

            #[test]
            fn try_hash_is_the_values_hash_computed_while_alive_and_kept_after_death() {
                let obj = Obj::new(String::from("key"));
                let weak_ref = WeakRef::new(&obj);
                let never_hashed = WeakRef::with_callback(&obj, |_| {});
                let expected = hash_of(&String::from("key"));
                assert_eq!(weak_ref.try_hash(), Some(expected));
                assert_eq!(
                    hash_of(&weak_ref),
                    hash_of_u64(expected),
                    "Hash writes the u64 with write_u64"
                );
                // The cached hash is interior state, but it never changes once computed.
                #[allow(clippy::mutable_key_type)]
                let set: HashSet<WeakRef<String>> = [weak_ref.clone()].into_iter().collect();
                #[allow(clippy::mutable_key_type)]
                let map: HashMap<WeakRef<String>, u8> =
                    [(weak_ref.clone(), 1)].into_iter().collect();

                drop(obj);
                assert_eq!(weak_ref.try_hash(), Some(expected));
                assert_eq!(hash_of(&weak_ref), hash_of_u64(expected));
                assert_eq!(never_hashed.try_hash(), None);
                assert!(
                    set.contains(&weak_ref),
                    "dead ref still found: kept hash, identity equality"
                );
                assert_eq!(map.get(&weak_ref), Some(&1));
            }

            #[test]
            fn the_hash_cache_belongs_to_the_shared_ref_object() {
                let obj = Obj::new(String::from("key"));
                let hashed = WeakRef::new(&obj);
                assert!(hashed.try_hash().is_some());
                let same_ref_object = WeakRef::new(&obj);
                drop(hashed);
                drop(obj);
                assert_eq!(
                    same_ref_object.try_hash(),
                    Some(hash_of(&String::from("key")))
                );
            }

            #[test]
            fn hashing_a_ref_first_after_death_panics_with_pythons_message() {
                let obj = Obj::new(String::from("key"));
                let weak_ref = WeakRef::new(&obj);
                drop(obj);
                assert_eq!(weak_ref.try_hash(), None);
                for _ in 0..2 {
                    let payload = catch_unwind(AssertUnwindSafe(|| {
                        let mut hasher = DefaultHasher::new();
                        weak_ref.hash(&mut hasher);
                    }))
                    .expect_err("hashing a never-hashed dead ref must panic");
                    let message = panic_message(&*payload);
                    assert!(
                        message.contains("weak object has gone away"),
                        "message: {message}"
                    );
                }
            }

            #[test]
            fn debug_shows_the_ref_the_short_type_name_and_the_object_then_dead() {
                let obj = Obj::new(vec![String::from("x")]);
                let weak_ref = WeakRef::new(&obj);
                let alive = format!("{weak_ref:?}");
                let address = ref_address(&alive).to_owned();
                assert_eq!(
                    alive,
                    format!("<weakref at {address}; to 'Vec<String>' at {obj:p}>")
                );
                assert_eq!(
                    format!("{:?}", weak_ref.clone()),
                    alive,
                    "clones are one ref object"
                );
                let other = WeakRef::with_callback(&obj, |_| {});
                let other_debug = format!("{other:?}");
                assert_ne!(ref_address(&other_debug), address);
                assert!(other_debug.ends_with(&format!("; to 'Vec<String>' at {obj:p}>")));
                drop(obj);
                assert_eq!(
                    format!("{weak_ref:?}"),
                    format!("<weakref at {address}; dead>")
                );
            }

            #[test]
            fn debug_strips_every_module_path_from_the_type_name() {
                fn type_part<T: Send + Sync + 'static>(value: T) -> String {
                    let obj = Obj::new(value);
                    let debug = format!("{:?}", WeakRef::new(&obj));
                    let (_, rest) = debug
                        .split_once("; to '")
                        .unwrap_or_else(|| panic!("bad Debug: {debug}"));
                    let expected_tail = format!("' at {obj:p}>");
                    rest.strip_suffix(&expected_tail)
                        .unwrap_or_else(|| panic!("bad Debug: {debug}"))
                        .to_owned()
                }
                let log = Log::new();
                assert_eq!(type_part(Tracked::new(&log, "a")), "Tracked");
                assert_eq!(
                    type_part(HashMap::<String, Vec<u8>>::new()),
                    "HashMap<String, Vec<u8>>"
                );
                assert_eq!(type_part((1_i32, String::new())), "(i32, String)");
                assert_eq!(type_part(Some(Box::new([0_u8; 4]))), "Option<Box<[u8; 4]>>");
                assert_eq!(type_part(7_u64), "u64");
            }
        }
    };
}

flavour_tests!(unsync);
flavour_tests!(sync);
