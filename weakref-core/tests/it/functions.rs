//! The free functions `getweakrefcount` and `getweakrefs`.

macro_rules! flavour_tests {
    ($flavour:ident) => {
        mod $flavour {
            use weakref_core::$flavour::*;

            use crate::helpers::*;

            #[test]
            fn getweakrefcount_counts_live_ref_objects_only() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                assert_eq!(getweakrefcount(&obj), 0);
                let _weak = Obj::downgrade(&obj);
                assert_eq!(getweakrefcount(&obj), 0, "a raw Weak is not a ref object");
                let shared = WeakRef::new(&obj);
                let shared_again = WeakRef::new(&obj);
                assert_eq!(getweakrefcount(&obj), 1);
                let with_callback = WeakRef::with_callback(&obj, |_| {});
                let with_callback_clone = with_callback.clone();
                assert_eq!(getweakrefcount(&obj), 2);
                let method = WeakMethod::<Tracked, fn(&Tracked, ())>::new(&obj, |_, ()| {});
                assert_eq!(getweakrefcount(&obj), 3);
                let other = Obj::new(Tracked::new(&log, "b"));
                let _other_ref = WeakRef::new(&other);
                assert_eq!(
                    getweakrefcount(&obj),
                    3,
                    "refs to other objects are not counted"
                );
                drop(with_callback);
                assert_eq!(getweakrefcount(&obj), 3, "a clone keeps the ref object");
                drop(with_callback_clone);
                assert_eq!(getweakrefcount(&obj), 2);
                drop((shared, shared_again));
                assert_eq!(getweakrefcount(&obj), 1);
                drop(method);
                assert_eq!(getweakrefcount(&obj), 0);
            }

            #[test]
            fn getweakrefs_lists_the_shared_ref_first_then_the_rest_newest_first() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                assert!(getweakrefs(&obj).is_empty());
                let oldest = WeakRef::with_callback(&obj, |_| {});
                let method = WeakMethod::<Tracked, fn(&Tracked, ())>::new(&obj, |_, ()| {});
                let shared = WeakRef::new(&obj);
                let newest = WeakRef::with_callback(&obj, |_| {});
                let listed = getweakrefs(&obj);
                assert_eq!(listed.len(), 4);
                assert!(WeakRef::ptr_eq(&listed[0], &shared));
                assert!(WeakRef::ptr_eq(&listed[1], &newest));
                assert_eq!(format!("{:?}", listed[2]), format!("{method:?}"));
                assert!(WeakRef::ptr_eq(&listed[3], &oldest));
                assert!(listed
                    .iter()
                    .all(|r| r.get().is_some_and(|o| Obj::ptr_eq(&o, &obj))));
                assert_eq!(getweakrefcount(&obj), 4, "listing makes no new ref objects");
                drop(listed);
                drop(newest);
                let listed = getweakrefs(&obj);
                assert_eq!(listed.len(), 3);
                assert!(WeakRef::ptr_eq(&listed[0], &shared));
                assert!(WeakRef::ptr_eq(&listed[2], &oldest));
            }

            #[test]
            fn getweakrefs_without_a_shared_ref_is_newest_first() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let refs: Vec<_> = (0..4)
                    .map(|_| WeakRef::with_callback(&obj, |_| {}))
                    .collect();
                let listed = getweakrefs(&obj);
                assert_eq!(listed.len(), refs.len());
                for (listed_ref, registered) in listed.iter().zip(refs.iter().rev()) {
                    assert!(WeakRef::ptr_eq(listed_ref, registered));
                }
            }

            #[test]
            fn a_listed_clone_keeps_its_ref_object_and_so_its_callback() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let callback_log = log.clone();
                let original = WeakRef::with_callback(&obj, move |_| callback_log.push("callback"));
                let listed = getweakrefs(&obj);
                drop(original);
                assert_eq!(getweakrefcount(&obj), 1);
                drop(obj);
                assert_eq!(log.events(), ["drop a", "callback"]);
                drop(listed);
            }
        }
    };
}

flavour_tests!(unsync);
flavour_tests!(sync);
