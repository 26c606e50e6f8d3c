//! `Obj<T>`: construction (incl. `new_cyclic`), strong counts, identity, `try_unwrap` and the std traits.

macro_rules! flavour_tests {
    ($flavour:ident) => {
        mod $flavour {
            use std::borrow::Borrow;
            use std::cmp::Ordering;
            use std::collections::HashSet;
            use std::panic::{catch_unwind, AssertUnwindSafe};

            use weakref_core::$flavour::*;

            use crate::helpers::*;

            #[test]
            fn new_derefs_to_the_value_and_counts_one_strong_reference() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                assert_eq!(obj.name, "a");
                assert_eq!(Obj::strong_count(&obj), 1);
                drop(obj);
                assert_eq!(log.events(), ["drop a"]);
            }

            #[test]
            fn clone_adds_a_strong_reference_and_the_value_drops_with_the_last_one() {
                let log = Log::new();
                let first = Obj::new(Tracked::new(&log, "a"));
                let second = first.clone();
                assert!(Obj::ptr_eq(&first, &second));
                assert_eq!(Obj::strong_count(&first), 2);
                assert_eq!(Obj::strong_count(&second), 2);
                drop(first);
                assert_eq!(Obj::strong_count(&second), 1);
                assert!(log.events().is_empty(), "dropped while a clone lives");
                drop(second);
                assert_eq!(log.events(), ["drop a"]);
            }

            #[test]
            fn new_cyclic_hands_out_the_objects_own_handle_which_upgrades_only_afterwards() {
                struct Node {
                    me: Weak<Node>,
                    upgraded_during_f: bool,
                    alive_during_f: bool,
                }
                let obj = Obj::new_cyclic(|me: &Weak<Node>| Node {
                    me: *me,
                    upgraded_during_f: me.upgrade().is_some(),
                    alive_during_f: me.is_alive(),
                });
                assert!(!obj.upgraded_during_f);
                assert!(!obj.alive_during_f);
                assert_eq!(obj.me, Obj::downgrade(&obj));
                let upgraded = obj
                    .me
                    .upgrade()
                    .expect("the cyclic handle upgrades after new_cyclic");
                assert!(Obj::ptr_eq(&upgraded, &obj));
                assert_eq!(Obj::strong_count(&obj), 2);
                drop(upgraded);
                let me = obj.me;
                drop(obj);
                assert!(me.upgrade().is_none());
            }

            #[test]
            fn new_cyclic_whose_f_panics_gives_the_slot_back_and_its_handle_never_upgrades() {
                let log = Log::new();
                let mut seen: Option<Weak<Tracked>> = None;
                let result = catch_unwind(AssertUnwindSafe(|| {
                    Obj::new_cyclic(|me: &Weak<Tracked>| -> Tracked {
                        seen = Some(*me);
                        panic!("new_cyclic boom");
                    })
                }));
                let payload = match result {
                    Ok(_) => panic!("new_cyclic returned although f panicked"),
                    Err(payload) => payload,
                };
                assert_eq!(panic_message(&*payload), "new_cyclic boom");
                let stale = seen.expect("f ran");
                assert!(stale.upgrade().is_none());
                assert!(!stale.is_alive());
                assert_eq!(stale.strong_count(), 0);
                // Later objects (which may reuse the slot) are never reached through the handle.
                let n_later = scaled(64, 8);
                let later: Vec<_> = (0..n_later)
                    .map(|i| Obj::new(Tracked::new(&log, &format!("later {i}"))))
                    .collect();
                assert!(stale.upgrade().is_none());
                assert!(!stale.is_alive());
                for obj in &later {
                    assert_ne!(Obj::downgrade(obj), stale);
                }
                drop(later);
                assert_eq!(log.events().len(), n_later);
            }

            #[test]
            fn deref_as_ref_borrow_from_and_default_reach_the_value() {
                let obj: Obj<String> = Obj::from(String::from("hello"));
                assert_eq!(obj.len(), 5);
                let as_ref: &String = obj.as_ref();
                assert_eq!(as_ref, "hello");
                let borrowed: &String = obj.borrow();
                assert!(std::ptr::eq(borrowed, as_ref));
                assert!(std::ptr::eq(&*obj, as_ref));

                let into: Obj<u32> = 7.into();
                assert_eq!(*into, 7);

                let default: Obj<Vec<u8>> = Obj::default();
                assert!(default.is_empty());
                assert_eq!(Obj::strong_count(&default), 1);

                // Borrow<T> with forwarded Hash/Eq: a set of objects is searchable by value.
                let set: HashSet<Obj<String>> = [obj.clone()].into_iter().collect();
                assert!(set.contains(&String::from("hello")));
                assert!(!set.contains(&String::from("other")));
            }

            #[test]
            fn pointer_formatting_and_as_ptr_give_the_values_address() {
                let obj = Obj::new(String::from("x"));
                let clone = obj.clone();
                let other = Obj::new(String::from("x"));
                assert_eq!(Obj::as_ptr(&obj), &*obj as *const String);
                assert_eq!(Obj::as_ptr(&obj), Obj::as_ptr(&clone));
                assert_ne!(Obj::as_ptr(&obj), Obj::as_ptr(&other));
                assert_eq!(format!("{obj:p}"), format!("{:p}", Obj::as_ptr(&obj)));
                assert_eq!(format!("{obj:p}"), format!("{clone:p}"));
                assert_ne!(format!("{obj:p}"), format!("{other:p}"));
            }

            #[test]
            fn downgrade_and_from_ref_give_the_same_handle() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let weak = Obj::downgrade(&obj);
                assert_eq!(weak, Weak::from(&obj));
                let converted: Weak<Tracked> = (&obj).into();
                assert_eq!(weak, converted);
                assert_eq!(
                    Obj::strong_count(&obj),
                    1,
                    "downgrade does not add a strong reference"
                );
                let upgraded = weak.upgrade().expect("alive");
                assert!(Obj::ptr_eq(&upgraded, &obj));
                assert_eq!(Obj::strong_count(&obj), 2);
                drop(upgraded);
                drop(obj);
                assert!(weak.upgrade().is_none());
                log.assert_dropped_once(&["a"]);
            }

            #[test]
            fn ptr_eq_is_identity_not_value_equality() {
                let first = Obj::new(5);
                let equal_value = Obj::new(5);
                assert!(Obj::ptr_eq(&first, &first.clone()));
                assert!(!Obj::ptr_eq(&first, &equal_value));
                assert_eq!(first, equal_value);
            }

            #[test]
            fn try_unwrap_of_the_only_reference_returns_the_value_and_the_object_dies() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let weak = Obj::downgrade(&obj);
                let shared = WeakRef::new(&obj);
                let callback_log = log.clone();
                let with_callback = WeakRef::with_callback(&obj, move |r: &WeakRef<Tracked>| {
                    callback_log.push(format!("callback alive={}", r.is_alive()));
                });
                let Ok(value) = Obj::try_unwrap(obj) else {
                    panic!("the sole strong reference must unwrap");
                };
                assert_eq!(value.name, "a");
                assert!(weak.upgrade().is_none());
                assert!(!weak.is_alive());
                assert_eq!(weak.strong_count(), 0);
                assert!(shared.get().is_none());
                assert!(!with_callback.is_alive());
                assert!(!with_callback.has_callback());
                assert_eq!(
                    log.events(),
                    ["callback alive=false"],
                    "callbacks ran, T not dropped"
                );
                drop(value);
                assert_eq!(log.events(), ["callback alive=false", "drop a"]);
                drop((shared, with_callback));
                assert_eq!(log.events().len(), 2, "the callback ran once");
            }

            #[test]
            fn try_unwrap_with_another_strong_reference_gives_the_handle_back_unchanged() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let other = obj.clone();
                let weak = Obj::downgrade(&obj);
                let callback_log = log.clone();
                let with_callback =
                    WeakRef::with_callback(&obj, move |_| callback_log.push("callback"));
                let back = match Obj::try_unwrap(obj) {
                    Ok(_) => panic!("unwrapped although another Obj exists"),
                    Err(back) => back,
                };
                assert!(Obj::ptr_eq(&back, &other));
                assert_eq!(Obj::strong_count(&other), 2);
                assert!(weak.is_alive());
                assert!(with_callback.is_alive());
                assert!(with_callback.has_callback());
                assert!(log.events().is_empty());
                drop(back);
                drop(other);
                assert_eq!(log.events(), ["drop a", "callback"]);
                drop(with_callback);
            }

            #[test]
            fn debug_display_eq_ord_and_hash_forward_to_the_value() {
                let a = Obj::new(String::from("a"));
                let a_again = Obj::new(String::from("a"));
                let b = Obj::new(String::from("b"));
                assert_eq!(format!("{a:?}"), "\"a\"");
                assert_eq!(format!("{a}"), "a");
                assert_eq!(
                    format!("{a:>3}"),
                    "  a",
                    "Display forwards the formatter options"
                );
                assert_eq!(a, a_again);
                assert_ne!(a, b);
                assert!(a < b);
                assert_eq!(a.cmp(&b), Ordering::Less);
                assert_eq!(b.partial_cmp(&a), Some(Ordering::Greater));
                assert_eq!(a.cmp(&a_again), Ordering::Equal);
                assert_eq!(hash_of(&a), hash_of(&String::from("a")));
                assert_eq!(hash_of(&a), hash_of(&a_again));
                let mut sorted = vec![b.clone(), a.clone()];
                sorted.sort();
                assert!(Obj::ptr_eq(&sorted[0], &a));
                assert!(Obj::ptr_eq(&sorted[1], &b));
            }
        }
    };
}

flavour_tests!(unsync);
flavour_tests!(sync);
