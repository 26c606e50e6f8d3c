//! The contract's finalize section, line by line, for both flavours (one macro, two modules).

macro_rules! finalize_tests {
    ($flavour:ident) => {
        use std::panic::{self, AssertUnwindSafe};

        use weakref_core::$flavour::{Obj, WeakRef};
        use weakref_finalize::pending;
        use weakref_finalize::$flavour::{finalize, Finalizer};

        use crate::helpers::{alive_form, dead_form, serial, with_reports, Log, Tracked};

        #[test]
        fn runs_once_when_the_object_dies() {
            let _serial = serial();
            let log = Log::new();
            let obj = Obj::new(Tracked::new("obj", &log));
            let f = finalize(&obj, log.pusher("finalized"));
            assert!(f.is_alive());
            assert!(log.events().is_empty());
            drop(obj);
            // The value is dropped first (step 2), then the callbacks run (step 3).
            assert_eq!(log.events(), ["drop obj", "finalized"]);
            assert!(!f.is_alive());
            assert_eq!(f.call(), None);
            assert_eq!(log.events().len(), 2);
        }

        #[test]
        fn dropping_the_handle_does_not_cancel() {
            let _serial = serial();
            let log = Log::new();
            let obj = Obj::new(1);
            drop(finalize(&obj, log.pusher("a")));
            let _ = finalize(&obj, log.pusher("b"));
            drop(obj);
            assert_eq!(log.events(), ["b", "a"]);
        }

        #[test]
        fn arguments_are_captured_by_the_closure() {
            let _serial = serial();
            let log = Log::new();
            let obj = Obj::new(1);
            let extra = String::from("extra argument");
            let sink = log.clone();
            finalize(&obj, move || {
                sink.push(format!("on_finalize(({extra:?},))"))
            });
            drop(obj);
            assert_eq!(log.events(), [r#"on_finalize(("extra argument",))"#]);
        }

        #[test]
        fn a_finalizer_can_be_named_in_a_struct_field() {
            struct Holder {
                finalizer: Finalizer<String, usize>,
                unit: Finalizer<String>,
            }
            let _serial = serial();
            let obj = Obj::new(String::from("abc"));
            let holder = Holder {
                finalizer: finalize(&obj, || 42),
                unit: finalize(&obj, || ()),
            };
            assert_eq!(holder.finalizer.call(), Some(42));
            assert_eq!(holder.unit.call(), Some(()));
        }

        #[test]
        fn clone_is_the_same_finalizer() {
            let _serial = serial();
            let log = Log::new();
            let obj = Obj::new(1);
            let f = finalize(&obj, log.pusher("ran"));
            let g = f.clone();
            assert_eq!(format!("{f:?}"), format!("{g:?}"));
            assert_eq!(g.call(), Some(()));
            assert!(!f.is_alive());
            assert_eq!(f.call(), None);
            drop(obj);
            assert_eq!(log.events(), ["ran"]);
        }

        #[test]
        fn call_runs_once_and_returns_the_result() {
            let _serial = serial();
            let log = Log::new();
            let obj = Obj::new(1);
            let sink = log.clone();
            let f = finalize(&obj, move || {
                sink.push("called");
                String::from("result")
            });
            assert_eq!(f.call().as_deref(), Some("result"));
            assert!(!f.is_alive());
            assert_eq!(f.call(), None);
            // The object is still alive; its death runs nothing.
            assert_eq!(*obj, 1);
            drop(obj);
            assert_eq!(log.events(), ["called"]);
        }

        #[test]
        fn call_propagates_a_panic_and_leaves_the_finalizer_dead() {
            let _serial = serial();
            let log = Log::new();
            let obj = Obj::new(1);
            let f = finalize(&obj, || -> u8 { panic!("boom") });
            let other = finalize(&obj, log.pusher("other"));
            let reports = with_reports(|| {
                let outcome = panic::catch_unwind(AssertUnwindSafe(|| f.call()));
                let payload = outcome.unwrap_err();
                assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
            });
            assert!(
                reports.is_empty(),
                "a called finalizer's panic is not unraisable"
            );
            assert!(!f.is_alive());
            assert_eq!(f.call(), None);
            drop(obj);
            assert_eq!(log.events(), ["other"]);
            assert!(!other.is_alive());
        }

        #[test]
        fn detach_hands_back_the_object_and_the_function() {
            let _serial = serial();
            let log = Log::new();
            let obj = Obj::new(Tracked::new("obj", &log));
            let f = finalize(&obj, log.pusher("finalized"));
            let (same, func) = f.detach().expect("alive finalizer and object");
            assert!(Obj::ptr_eq(&same, &obj));
            assert!(!f.is_alive());
            assert!(f.detach().is_none());
            assert_eq!(f.call(), None);
            drop((obj, same));
            // Detached: the death does not run it.
            assert_eq!(log.events(), ["drop obj"]);
            func();
            assert_eq!(log.events(), ["drop obj", "finalized"]);
        }

        #[test]
        fn detach_after_death_or_call_is_none() {
            let _serial = serial();
            let obj = Obj::new(1);
            let called = finalize(&obj, || ());
            let by_death = finalize(&obj, || ());
            called.call();
            assert!(called.detach().is_none());
            drop(obj);
            assert!(by_death.detach().is_none());
        }

        #[test]
        fn peek_gives_the_object_while_both_are_alive() {
            let _serial = serial();
            let obj = Obj::new(7);
            let f = finalize(&obj, || ());
            let peeked = f.peek().expect("alive");
            assert!(Obj::ptr_eq(&peeked, &obj));
            assert!(f.is_alive(), "peek changes nothing");
            drop(peeked);
            let g = finalize(&obj, || ());
            g.call();
            assert!(g.peek().is_none(), "a dead finalizer peeks nothing");
            drop(obj);
            assert!(f.peek().is_none());
            assert!(!f.is_alive());
        }

        #[test]
        fn atexit_flag() {
            let _serial = serial();
            let obj = Obj::new(1);
            let f = finalize(&obj, || ());
            assert!(f.atexit(), "true by default");
            f.set_atexit(false);
            assert!(!f.atexit());
            f.set_atexit(true);
            assert!(f.atexit());
            f.set_atexit(false);
            f.call();
            f.set_atexit(true);
            assert!(!f.atexit(), "no effect once dead");
        }

        #[test]
        fn debug_alive_and_dead() {
            let _serial = serial();
            let obj = Obj::new(Vec::<String>::new());
            let f = finalize(&obj, || ());
            let alive = format!("{f:?}");
            let (addr, obj_addr) =
                alive_form(&alive, "Vec<String>").unwrap_or_else(|| panic!("alive form: {alive}"));
            assert_eq!(obj_addr, format!("{obj:p}"));
            drop(obj);
            let dead = format!("{f:?}");
            assert_eq!(dead_form(&dead), Some(addr), "same address: {dead}");
            let called = finalize(&Obj::new(1u8), || ());
            assert!(
                dead_form(&format!("{called:?}")).is_some(),
                "its object died"
            );
        }

        #[test]
        fn one_newest_first_order_with_weakref_callbacks() {
            let _serial = serial();
            let log = Log::new();
            let obj = Obj::new(1);
            let f1 = finalize(&obj, log.pusher("f1"));
            let r2 = WeakRef::with_callback(&obj, {
                let log = log.clone();
                move |_| log.push("r2")
            });
            let f3 = finalize(&obj, log.pusher("f3"));
            drop(obj);
            assert_eq!(log.events(), ["f3", "r2", "f1"]);
            drop((f1, r2, f3));
        }

        #[test]
        fn a_panic_at_death_is_reported_and_the_rest_still_run() {
            let _serial = serial();
            let log = Log::new();
            let obj = Obj::new(1);
            let f1 = finalize(&obj, log.pusher("f1"));
            let f2 = finalize(&obj, || panic!("f2 failed"));
            let f3 = finalize(&obj, log.pusher("f3"));
            let dead_f2_text = {
                let alive = format!("{f2:?}");
                let (addr, _) = alive_form(&alive, "i32").expect("alive form");
                format!("<finalize object at {addr}; dead>")
            };
            let reports = with_reports(|| drop(obj));
            assert_eq!(log.events(), ["f3", "f1"]);
            assert_eq!(reports.len(), 1, "{reports:?}");
            assert_eq!(reports[0].object, dead_f2_text);
            assert_eq!(reports[0].message, "f2 failed");
            assert!(
                reports[0].callback.contains("{{closure}}"),
                "{}",
                reports[0].callback
            );
            assert!(!f2.is_alive());
            drop((f1, f3));
        }

        #[test]
        fn pending_counts_alive_finalizers() {
            let _serial = serial();
            let base = pending();
            let obj = Obj::new(1);
            let a = finalize(&obj, || ());
            let b = finalize(&obj, || ());
            let c = finalize(&obj, || ());
            let d = finalize(&obj, || ());
            assert_eq!(pending(), base + 4);
            a.call();
            assert_eq!(pending(), base + 3);
            drop(b.detach());
            assert_eq!(pending(), base + 2);
            drop(c); // the handle, not the finalizer
            assert_eq!(pending(), base + 2);
            d.set_atexit(false);
            assert_eq!(pending(), base + 2);
            drop(obj);
            assert_eq!(pending(), base);
        }

        #[test]
        fn the_pitfall_a_function_that_holds_its_object() {
            let _serial = serial();
            let base = pending();
            let log = Log::new();
            let obj = Obj::new(Tracked::new("obj", &log));
            let held = obj.clone();
            let sink = log.clone();
            let f = finalize(&obj, move || sink.push(format!("closing {}", held.name)));
            f.set_atexit(false);
            drop(obj);
            // The object never dies: the finalizer's function keeps it alive.
            assert!(f.is_alive());
            assert!(f.peek().is_some());
            assert_eq!(pending(), base + 1);
            assert!(log.events().is_empty());
            // Ending the finalizer lets go of the object.
            drop(f.detach());
            assert_eq!(log.events(), ["drop obj"]);
            assert_eq!(pending(), base);
        }

        #[test]
        fn finalizers_created_inside_a_finalizer() {
            let _serial = serial();
            let log = Log::new();
            let first = Obj::new(1);
            let second = Obj::new(2);
            let weak_second = Obj::downgrade(&second);
            let sink = log.clone();
            finalize(&first, move || {
                sink.push("first");
                let second = weak_second.upgrade().expect("second is alive");
                finalize(&second, sink.pusher("inner"));
            });
            drop(first);
            assert_eq!(log.events(), ["first"]);
            drop(second);
            assert_eq!(log.events(), ["first", "inner"]);
        }

        #[test]
        fn a_finalizer_that_drops_the_last_obj_of_another() {
            let _serial = serial();
            let log = Log::new();
            let outer = Obj::new(1);
            let inner = Obj::new(2);
            finalize(&inner, log.pusher("inner"));
            let sink = log.clone();
            finalize(&outer, move || {
                sink.push("outer");
                drop(inner);
            });
            drop(outer);
            assert_eq!(log.events(), ["outer", "inner"]);
        }

        #[test]
        fn call_from_inside_its_own_function_is_none() {
            let _serial = serial();
            let obj = Obj::new(1);
            let slot: std::sync::Arc<std::sync::Mutex<Option<Finalizer<i32, bool>>>> =
                Default::default();
            let inner_slot = std::sync::Arc::clone(&slot);
            let f = finalize(&obj, move || {
                let me = inner_slot.lock().unwrap().take().unwrap();
                me.call().is_none() && !me.is_alive()
            });
            *slot.lock().unwrap() = Some(f.clone());
            assert_eq!(f.call(), Some(true));
        }

        #[test]
        fn many_finalizers_on_many_objects() {
            let _serial = serial();
            let base = pending();
            let log = Log::new();
            let n = crate::helpers::scaled(200, 20);
            let objs: Vec<_> = (0..n).map(Obj::new).collect();
            for (i, obj) in objs.iter().enumerate() {
                let f = finalize(obj, log.pusher(&i.to_string()));
                match i % 3 {
                    0 => drop(f),
                    1 => assert_eq!(f.call(), Some(())),
                    _ => drop(f.detach()),
                }
            }
            assert_eq!(pending(), base + n.div_ceil(3));
            drop(objs);
            assert_eq!(pending(), base);
            let events = log.events();
            let expected: Vec<String> = (0..n)
                .filter(|i| i % 3 != 2)
                .map(|i| i.to_string())
                .collect();
            let mut sorted = events.clone();
            sorted.sort_by_key(|e| e.parse::<usize>().unwrap());
            assert_eq!(sorted, expected);
        }
    };
}

mod unsync {
    finalize_tests!(unsync);
}

mod sync {
    finalize_tests!(sync);
}
