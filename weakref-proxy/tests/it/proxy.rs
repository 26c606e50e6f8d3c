//! The contract's proxy section, line by line: sharing, callbacks, `Deref`, `try_get`, `with`,
//! `is_alive`, `Display`, `Debug`, comparisons, `call`, counting, `AsWeak`.

macro_rules! flavour_tests {
    ($flavour:ident) => {
        mod $flavour {
            use std::cmp::Ordering;
            use std::sync::{Arc, Mutex};

            use weakref_core::$flavour::{getweakrefcount, getweakrefs, AsWeak, Obj, WeakRef};
            use weakref_core::ReferenceError;
            use weakref_proxy::$flavour::{CallableProxyType, Proxy, ProxyType};

            use crate::helpers::*;

            /// Splits `<weakproxy at 0x…; rest>` into the proxy address and `rest`.
            fn parts(debug: &str) -> (&str, &str) {
                let inner = debug
                    .strip_prefix("<weakproxy at ")
                    .and_then(|rest| rest.strip_suffix('>'))
                    .unwrap_or_else(|| panic!("bad Debug: {debug}"));
                let (address, rest) = inner
                    .split_once("; ")
                    .unwrap_or_else(|| panic!("bad Debug: {debug}"));
                assert!(is_hex_address(address), "bad proxy address in {debug}");
                (address, rest)
            }

            #[test]
            fn new_shares_one_callback_less_proxy_object_per_object() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let first = Proxy::new(&obj);
                let second = Proxy::new(&obj);
                assert!(Proxy::ptr_eq(&first, &second));
                assert!(Proxy::ptr_eq(&first, &first.clone()));
                assert_eq!(getweakrefcount(&obj), 1);
                // A shared proxy and a shared ref are different ref objects, both counted.
                let weak_ref = WeakRef::new(&obj);
                assert_eq!(getweakrefcount(&obj), 2);
                drop((first, second, weak_ref));
                assert_eq!(getweakrefcount(&obj), 0);
                let third = Proxy::new(&obj);
                assert_eq!(getweakrefcount(&obj), 1);
                let other = Obj::new(Tracked::new(&log, "b"));
                assert!(!Proxy::ptr_eq(&third, &Proxy::new(&other)));
            }

            #[test]
            fn with_callback_is_never_shared() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let shared = Proxy::new(&obj);
                let first = Proxy::with_callback(&obj, |_| {});
                let second = Proxy::with_callback(&obj, |_| {});
                assert!(!Proxy::ptr_eq(&shared, &first));
                assert!(!Proxy::ptr_eq(&first, &second));
                assert!(Proxy::ptr_eq(&first, &first.clone()));
                assert!(
                    Proxy::ptr_eq(&shared, &Proxy::new(&obj)),
                    "the shared one stays shared"
                );
                assert_eq!(getweakrefcount(&obj), 3);
                drop(first);
                assert_eq!(getweakrefcount(&obj), 2);
                drop((shared, second));
                assert_eq!(getweakrefcount(&obj), 0);
            }

            #[test]
            fn callback_receives_the_dead_proxy_once() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let seen: Arc<Mutex<Vec<Proxy<Tracked>>>> = Arc::default();
                let proxy = Proxy::with_callback(&obj, {
                    let log = log.clone();
                    let seen = Arc::clone(&seen);
                    move |p: &Proxy<Tracked>| {
                        assert!(!p.is_alive());
                        assert_eq!(p.try_get().err(), Some(ReferenceError));
                        assert_eq!(parts(&format!("{p:?}")).1, "dead");
                        log.push("callback");
                        lock(&seen).push(p.clone());
                    }
                });
                drop(obj);
                // Step 2 (the value's drop) before step 3 (the callbacks), each once.
                assert_eq!(log.events(), ["drop a", "callback"]);
                let seen = lock(&seen);
                assert_eq!(seen.len(), 1);
                assert!(
                    Proxy::ptr_eq(&seen[0], &proxy),
                    "the callback gets this very proxy"
                );
            }

            #[test]
            fn callbacks_of_every_kind_run_newest_first() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let logger = |event: &'static str| {
                    let log = log.clone();
                    move || log.push(event)
                };
                let first = WeakRef::with_callback(&obj, {
                    let push = logger("ref 1");
                    move |_| push()
                });
                let second = Proxy::with_callback(&obj, {
                    let push = logger("proxy 2");
                    move |_| push()
                });
                let third = WeakRef::with_callback(&obj, {
                    let push = logger("ref 3");
                    move |_| push()
                });
                let fourth = Proxy::with_callback(&obj, {
                    let push = logger("proxy 4");
                    move |_| push()
                });
                drop(obj);
                assert_eq!(
                    log.events(),
                    ["drop a", "proxy 4", "ref 3", "proxy 2", "ref 1"]
                );
                drop((first, second, third, fourth));
            }

            #[test]
            fn a_callback_runs_only_if_its_proxy_exists_at_death() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let dropped_early = Proxy::with_callback(&obj, {
                    let log = log.clone();
                    move |_| log.push("early")
                });
                let clone = dropped_early.clone();
                drop(dropped_early);
                drop(clone);
                let kept = Proxy::with_callback(&obj, {
                    let log = log.clone();
                    move |_| log.push("kept")
                });
                drop(obj);
                assert_eq!(log.events(), ["drop a", "kept"]);
                drop(kept);
            }

            #[test]
            fn a_clone_keeps_the_callback_pending() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let proxy = Proxy::with_callback(&obj, {
                    let log = log.clone();
                    move |_| log.push("callback")
                });
                let clone = proxy.clone();
                drop(proxy);
                drop(obj);
                assert_eq!(log.count("callback"), 1);
                drop(clone);
            }

            #[test]
            fn deref_is_the_object() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "ada"));
                let p: ProxyType<Tracked> = Proxy::new(&obj);
                assert_eq!(p.name, "ada"); // attribute access
                assert_eq!(p.shout(), "ADA"); // method call
                let borrowed: &Tracked = &p;
                assert!(std::ptr::eq(borrowed, Obj::as_ptr(&obj)));
            }

            #[test]
            fn deref_after_death_panics_with_pythons_message() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let never_pinned = Proxy::new(&obj);
                let pinned = never_pinned.clone();
                assert_eq!(pinned.name, "a");
                drop(obj);
                assert_eq!(panic_of(|| never_pinned.name.clone()), DEAD);
                // A handle pinned before the death panics too: only earlier borrows stay valid.
                assert_eq!(panic_of(|| pinned.shout()), DEAD);
                assert_eq!(ReferenceError.to_string(), DEAD);
            }

            #[test]
            fn try_get_gives_the_object_or_reference_error_and_never_pins() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::new(&obj);
                let got = p.try_get().expect("alive");
                assert!(Obj::ptr_eq(&got, &obj));
                assert_eq!(Obj::strong_count(&obj), 2);
                drop(got);
                drop(obj);
                // Not pinned: the value dropped at death, while `p` still exists.
                assert_eq!(log.events(), ["drop a"]);
                assert_eq!(p.try_get().err(), Some(ReferenceError));
            }

            #[test]
            fn with_holds_a_strong_ref_only_while_f_runs_and_never_pins() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::new(&obj);
                let during = p.with(|t| {
                    assert_eq!(Obj::strong_count(&obj), 2);
                    t.shout()
                });
                assert_eq!(during, Ok("A".to_owned()));
                assert_eq!(Obj::strong_count(&obj), 1);
                // The object `f` sees survives its last `Obj` being dropped meanwhile.
                let mut holder = Some(obj);
                let name = p.with(|t| {
                    drop(holder.take());
                    assert!(log.events().is_empty(), "kept alive while f runs");
                    t.name.clone()
                });
                assert_eq!(name, Ok("a".to_owned()));
                assert_eq!(
                    log.events(),
                    ["drop a"],
                    "dropped when f returned, not pinned"
                );
                let mut ran = false;
                assert_eq!(p.with(|_| ran = true), Err(ReferenceError));
                assert!(!ran, "f does not run after death");
            }

            #[test]
            fn is_alive_follows_the_object() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::new(&obj);
                let clone = obj.clone();
                assert!(p.is_alive());
                drop(obj);
                assert!(p.is_alive());
                drop(clone);
                assert!(!p.is_alive());
                assert!(!p.clone().is_alive());
            }

            #[test]
            fn display_forwards_to_the_object_and_panics_when_dead() {
                let obj = Obj::new(3.5_f64);
                let p = Proxy::new(&obj);
                assert_eq!(p.to_string(), "3.5");
                assert_eq!(format!("{p:>6}"), "   3.5", "formatter flags reach T");
                drop(obj);
                assert_eq!(panic_of(|| p.to_string()), DEAD);
            }

            #[test]
            fn display_pins() {
                let log = Log::new();
                struct Shown(Tracked);
                impl std::fmt::Display for Shown {
                    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(&self.0.name)
                    }
                }
                let obj = Obj::new(Shown(Tracked::new(&log, "a")));
                let p = Proxy::new(&obj);
                assert_eq!(p.to_string(), "a");
                drop(obj);
                assert!(log.events().is_empty(), "pinned by Display");
                drop(p);
                assert_eq!(log.events(), ["drop a"]);
            }

            #[test]
            fn debug_is_pythons_repr_and_never_touches_the_object() {
                let obj = Obj::new(vec![String::from("x")]);
                let p = Proxy::new(&obj);
                let alive = format!("{p:?}");
                let (address, rest) = parts(&alive);
                assert_eq!(
                    rest,
                    format!("to 'Vec<String>' at {:p}", Obj::as_ptr(&obj)),
                    "{alive}"
                );
                assert_eq!(
                    format!("{:?}", p.clone()),
                    alive,
                    "clones are the same proxy object"
                );
                let own = Proxy::with_callback(&obj, |_| {});
                assert_ne!(parts(&format!("{own:?}")).0, address);
                drop(obj);
                let dead = format!("{p:?}");
                assert_eq!(dead, format!("<weakproxy at {address}; dead>"));
                assert_eq!(parts(&format!("{own:?}")).1, "dead");
            }

            #[test]
            fn debug_does_not_pin() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::new(&obj);
                let _ = format!("{p:?}");
                drop(obj);
                assert_eq!(log.events(), ["drop a"]);
            }

            #[test]
            fn equality_and_order_forward_to_the_objects() {
                let one = Obj::new(1);
                let also_one = Obj::new(1);
                let two = Obj::new(2);
                let (p1, q1, p2) = (Proxy::new(&one), Proxy::new(&also_one), Proxy::new(&two));
                assert!(p1 == q1, "equal values, different objects");
                assert!(p1 != p2);
                assert!(p1 < p2);
                assert_eq!(p2.partial_cmp(&p1), Some(Ordering::Greater));
                let nan = Obj::new(f64::NAN);
                let pn = Proxy::new(&nan);
                assert!(pn != pn.clone(), "T's equality, not identity");
                assert_eq!(pn.partial_cmp(&pn), None);
                drop(two);
                assert_eq!(panic_of(|| p1 == p2), DEAD);
                assert_eq!(panic_of(|| p2 < p1), DEAD);
            }

            #[test]
            fn comparisons_pin_both_handles() {
                let log = Log::new();
                #[derive(Debug)]
                struct ByName(Tracked);
                impl PartialEq for ByName {
                    fn eq(&self, other: &Self) -> bool {
                        self.0.name == other.0.name
                    }
                }
                let a = Obj::new(ByName(Tracked::new(&log, "a")));
                let b = Obj::new(ByName(Tracked::new(&log, "b")));
                let (pa, pb) = (Proxy::new(&a), Proxy::new(&b));
                assert!(pa != pb);
                drop((a, b));
                assert!(log.events().is_empty(), "both pinned");
                drop(pb);
                assert_eq!(log.events(), ["drop b"]);
                drop(pa);
                assert_eq!(log.events(), ["drop b", "drop a"]);
            }

            #[test]
            fn call_calls_a_callable_referent() {
                let calls = Arc::new(Mutex::new(0));
                let func = Obj::new({
                    let calls = Arc::clone(&calls);
                    move |(a, b): (u32, u32)| {
                        *lock(&calls) += 1;
                        a * b
                    }
                });
                let p: CallableProxyType<_> = Proxy::new(&func);
                assert_eq!(p.call((6, 7)), Ok(42));
                assert_eq!(*lock(&calls), 1);
                let single = Obj::new(|x: &str| x.len());
                assert_eq!(Proxy::new(&single).call("four"), Ok(4));
                drop(func);
                assert_eq!(p.call((1, 1)), Err(ReferenceError));
                assert_eq!(*lock(&calls), 1);
            }

            #[test]
            fn call_does_not_pin() {
                let log = Log::new();
                let token = Tracked::new(&log, "f");
                let func = Obj::new(move |()| token.name.clone());
                let p = Proxy::new(&func);
                assert_eq!(p.call(()), Ok("f".to_owned()));
                drop(func);
                assert_eq!(log.events(), ["drop f"]);
            }

            #[test]
            fn counted_by_getweakrefcount_not_listed_by_getweakrefs() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let shared = Proxy::new(&obj);
                let own = Proxy::with_callback(&obj, |_| {});
                assert_eq!(getweakrefcount(&obj), 2);
                assert!(getweakrefs(&obj).is_empty());
                let weak_ref = WeakRef::new(&obj);
                assert_eq!(getweakrefcount(&obj), 3);
                let listed = getweakrefs(&obj);
                assert_eq!(listed.len(), 1);
                assert!(WeakRef::ptr_eq(&listed[0], &weak_ref));
                let clones = (shared.clone(), own.clone());
                assert_eq!(
                    getweakrefcount(&obj),
                    3,
                    "clones are the same proxy objects"
                );
                drop((shared, own));
                assert_eq!(getweakrefcount(&obj), 3);
                drop(clones);
                assert_eq!(getweakrefcount(&obj), 1);
                drop(listed);
            }

            #[test]
            fn as_weak_names_the_object() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let p = Proxy::new(&obj);
                let weak = p.as_weak();
                assert_eq!(weak, Obj::downgrade(&obj));
                assert_eq!(Proxy::with_callback(&obj, |_| {}).as_weak(), weak);
                drop(obj);
                assert_eq!(p.as_weak(), weak, "stable across death");
                assert!(weak.upgrade().is_none());
            }

            #[test]
            fn a_panicking_callback_is_reported_and_the_others_still_run() {
                let _serial = lock(&crate::proxy::HOOK);
                let reports = Arc::new(Mutex::new(Vec::new()));
                weakref_core::set_unraisable_hook(Box::new({
                    let reports = Arc::clone(&reports);
                    move |report| lock(&reports).push(report.to_string())
                }));
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let older = Proxy::with_callback(&obj, {
                    let log = log.clone();
                    move |_| log.push("older")
                });
                let panicking = Proxy::with_callback(&obj, |_| panic!("boom"));
                let address = parts(&format!("{panicking:?}")).0.to_owned();
                drop(obj);
                drop(weakref_core::take_unraisable_hook());
                assert_eq!(log.events(), ["drop a", "older"]);
                let reports = lock(&reports);
                assert_eq!(reports.len(), 1);
                let (head, message) = reports[0].split_once(":\n").expect("two parts");
                assert_eq!(message, "boom");
                assert!(
                    head.starts_with("Exception ignored while calling "),
                    "{head}"
                );
                assert!(head.contains("{{closure}}"), "names the callback: {head}");
                assert!(
                    head.ends_with(&format!(" for <weakproxy at {address}; dead>")),
                    "{head}"
                );
                drop((older, panicking));
            }
        }
    };
}

/// Serializes the tests that set the process-wide unraisable hook.
static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());

flavour_tests!(unsync);
flavour_tests!(sync);
