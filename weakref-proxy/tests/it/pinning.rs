//! Soundness: a `&T` from `Deref` never outlives `T`. Pins are per handle, the object still
//! dies on time, `T` drops with the last pinning handle, `try_unwrap` refuses while pinned.

macro_rules! flavour_tests {
    ($flavour:ident) => {
        mod $flavour {
            use std::panic::{catch_unwind, AssertUnwindSafe};

            use weakref_core::$flavour::{defer_deaths, getweakrefcount, Obj, WeakRef};
            use weakref_core::ReferenceError;
            use weakref_proxy::$flavour::Proxy;

            use crate::helpers::*;

            #[test]
            fn a_borrow_outlives_the_last_obj() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let weak = Obj::downgrade(&obj);
                let weak_ref = WeakRef::with_callback(&obj, {
                    let log = log.clone();
                    move |_| log.push("callback")
                });
                let p = Proxy::new(&obj);
                let borrowed: &Tracked = &p;
                let name: &str = &borrowed.name;
                drop(obj);
                // The object died on time...
                assert!(!weak.is_alive());
                assert!(weak_ref.get().is_none());
                assert_eq!(p.try_get().err(), Some(ReferenceError));
                assert!(!p.is_alive());
                assert_eq!(
                    log.events(),
                    ["callback"],
                    "callbacks ran, T not dropped yet"
                );
                // ...but the borrow is still valid (Miri checks this read).
                assert_eq!(name, "a");
                assert_eq!(borrowed.shout(), "A");
                drop(p);
                assert_eq!(log.events(), ["callback", "drop a"]);
                drop(weak_ref);
            }

            #[test]
            fn pins_are_per_handle() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let pinned = Proxy::new(&obj);
                assert_eq!(pinned.name, "a");
                let clone = pinned.clone();
                let fresh = Proxy::new(&obj);
                assert!(Proxy::ptr_eq(&clone, &pinned) && Proxy::ptr_eq(&fresh, &pinned));
                drop(pinned);
                drop(obj);
                // Neither the clone nor the fresh handle ever dereferenced: nothing delays T.
                assert_eq!(log.events(), ["drop a"]);
                assert!(!clone.is_alive() && !fresh.is_alive());
            }

            #[test]
            fn t_drops_with_the_last_pinning_handle() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let first = Proxy::new(&obj);
                let second = first.clone();
                let third = Proxy::with_callback(&obj, |_| {});
                let (b1, b2, b3): (&Tracked, &Tracked, &Tracked) = (&first, &second, &third);
                assert_eq!(b1.name, "a");
                drop(obj);
                assert!(log.events().is_empty());
                drop(first);
                assert_eq!(b2.name, "a");
                assert!(log.events().is_empty());
                drop(second);
                assert_eq!(b3.name, "a");
                assert!(log.events().is_empty());
                drop(third);
                assert_eq!(log.events(), ["drop a"]);
            }

            #[test]
            fn repeated_derefs_through_one_handle_pin_once() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::new(&obj);
                for _ in 0..scaled(100, 5) {
                    assert_eq!(p.name, "a");
                }
                drop(obj);
                drop(p);
                assert_eq!(log.events(), ["drop a"], "one pin, released once");
            }

            #[test]
            fn pinned_handle_while_alive_does_not_delay_anything_else() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::new(&obj);
                assert_eq!(p.name, "a");
                drop(p);
                // Unpinned before the death: the death drops T itself.
                assert!(log.events().is_empty());
                drop(obj);
                assert_eq!(log.events(), ["drop a"]);
            }

            #[test]
            fn try_unwrap_refuses_while_pinned() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::new(&obj);
                let borrowed: &Tracked = &p;
                let obj = Obj::try_unwrap(obj).expect_err("pinned");
                assert!(obj.name == "a" && p.is_alive(), "nothing changed");
                assert_eq!(borrowed.name, "a");
                assert_eq!(getweakrefcount(&obj), 1);
                drop(p);
                let value = Obj::try_unwrap(obj).expect("unpinned now");
                assert_eq!(value.name, "a");
                assert!(log.events().is_empty());
            }

            #[test]
            fn try_unwrap_ignores_unpinned_proxies() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::new(&obj);
                assert_eq!(p.with(|t| t.shout()), Ok("A".to_owned()));
                let value = Obj::try_unwrap(obj).expect("with never pins");
                assert!(!p.is_alive());
                drop(value);
            }

            #[test]
            fn a_pin_taken_inside_with_outlives_its_strong_reference() {
                // Inside `f`, `with`'s strong reference is the last one; the `Deref` pins, and
                // the death at `with`'s return leaves `T` to the pinning handle.
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::new(&obj);
                let mut holder = Some(obj);
                let name = p.with(|_| {
                    drop(holder.take());
                    p.name.clone() // pins while `with`'s reference is the last one
                });
                assert_eq!(name, Ok("a".to_owned()));
                assert!(!p.is_alive());
                assert!(log.events().is_empty(), "pinned");
                drop(p);
                assert_eq!(log.events(), ["drop a"]);
            }

            #[test]
            fn deferred_death_with_a_pinned_proxy() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::with_callback(&obj, {
                    let log = log.clone();
                    move |_| log.push("callback")
                });
                let borrowed: &Tracked = &p;
                defer_deaths(|| {
                    drop(obj);
                    assert!(!p.is_alive());
                    assert!(log.events().is_empty(), "steps 2-4 wait");
                });
                assert_eq!(log.events(), ["callback"]);
                assert_eq!(borrowed.name, "a");
                drop(p);
                assert_eq!(log.events(), ["callback", "drop a"]);
            }

            #[test]
            fn a_pinning_handle_dropped_in_a_callback_drops_t() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let pinned = Proxy::new(&obj);
                assert_eq!(pinned.name, "a");
                let _cb = WeakRef::with_callback(&obj, {
                    let log = log.clone();
                    move |_| {
                        log.push("callback");
                        drop(pinned);
                    }
                });
                drop(obj);
                assert_eq!(log.events(), ["callback", "drop a"]);
            }

            #[test]
            fn a_panic_in_drop_comes_out_of_the_last_pinning_handle() {
                struct Bomb(Log);
                impl Drop for Bomb {
                    fn drop(&mut self) {
                        self.0.push("drop bomb");
                        panic!("bomb");
                    }
                }
                let log = Log::new();
                let obj = Obj::new(Bomb(log.clone()));
                let p = Proxy::new(&obj);
                let _: &Bomb = &p;
                drop(obj); // pinned: the Drop does not run here
                assert!(log.events().is_empty());
                let payload = catch_unwind(AssertUnwindSafe(|| drop(p))).expect_err("propagates");
                assert_eq!(panic_message(&*payload), "bomb");
                assert_eq!(log.events(), ["drop bomb"]);
            }

            #[test]
            fn many_objects_many_pins() {
                let log = Log::new();
                let n = scaled(200, 12);
                let objs: Vec<_> = (0..n)
                    .map(|i| Obj::new(Tracked::new(&log, &i.to_string())))
                    .collect();
                let proxies: Vec<_> = objs.iter().map(Proxy::new).collect();
                let borrows: Vec<&str> =
                    proxies.iter().step_by(2).map(|p| p.name.as_str()).collect();
                drop(objs);
                assert_eq!(log.events().len(), n / 2, "the unpinned half dropped");
                for (i, name) in borrows.iter().enumerate() {
                    assert_eq!(*name, (2 * i).to_string());
                }
                drop(proxies);
                assert_eq!(log.events().len(), n);
            }
        }
    };
}

flavour_tests!(unsync);
flavour_tests!(sync);
