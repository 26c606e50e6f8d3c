//! The death sequence: its order, queued nested deaths, long chains, `defer_deaths`, panicking `Drop`s.

use crate::helpers::*;

macro_rules! flavour_tests {
    ($flavour:ident) => {
        mod $flavour {
            use std::panic::{catch_unwind, AssertUnwindSafe};
            use std::sync::{Arc, Mutex};

            use weakref_core::$flavour::*;

            use crate::helpers::*;

            fn logging_callback(
                log: &Log,
                event: &'static str,
            ) -> impl FnOnce(&WeakRef<Tracked>) + Send + 'static {
                let log = log.clone();
                move |_| log.push(event)
            }

            /// Knows its own handle and logs what it sees of itself while being dropped.
            struct SelfAware {
                me: Weak<SelfAware>,
                log: Log,
            }

            impl Drop for SelfAware {
                fn drop(&mut self) {
                    self.log
                        .push(format!("drop: self alive={}", self.me.is_alive()));
                }
            }

            #[test]
            fn refs_read_dead_then_t_drops_then_callbacks_run_newest_first() {
                let log = Log::new();
                let obj = Obj::new_cyclic(|me: &Weak<SelfAware>| SelfAware {
                    me: *me,
                    log: log.clone(),
                });
                let weak = Obj::downgrade(&obj);
                let refs: Vec<_> = ["older", "newer"]
                    .into_iter()
                    .map(|name| {
                        let callback_log = log.clone();
                        WeakRef::with_callback(&obj, move |r: &WeakRef<SelfAware>| {
                            callback_log.push(format!(
                                "{name}: alive={} weak={}",
                                r.is_alive(),
                                weak.is_alive()
                            ))
                        })
                    })
                    .collect();
                drop(obj);
                assert_eq!(
                    log.events(),
                    [
                        "drop: self alive=false",
                        "newer: alive=false weak=false",
                        "older: alive=false weak=false"
                    ]
                );
                assert!(weak.upgrade().is_none());
                drop(refs);
                assert_eq!(log.events().len(), 3, "each callback ran once");
            }

            /// Drops its child (the child's last `Obj`) inside its own `Drop`.
            struct Parent {
                child: Option<Obj<Tracked>>,
                log: Log,
            }

            impl Drop for Parent {
                fn drop(&mut self) {
                    self.log.push("parent drop begins");
                    let child = self.child.take().expect("child present");
                    let child_weak = Obj::downgrade(&child);
                    drop(child);
                    self.log.push(format!(
                        "child alive after its last drop={}",
                        child_weak.is_alive()
                    ));
                    self.log.push("parent drop ends");
                }
            }

            #[test]
            fn a_death_caused_by_a_drop_is_queued_after_the_current_one() {
                let log = Log::new();
                let child = Obj::new(Tracked::new(&log, "child"));
                let child_ref =
                    WeakRef::with_callback(&child, logging_callback(&log, "child callback"));
                let parent = Obj::new(Parent {
                    child: Some(child),
                    log: log.clone(),
                });
                let callback_log = log.clone();
                let parent_ref =
                    WeakRef::with_callback(&parent, move |_| callback_log.push("parent callback"));
                drop(parent);
                assert_eq!(
                    log.events(),
                    [
                        "parent drop begins",
                        "child alive after its last drop=false",
                        "parent drop ends",
                        "parent callback",
                        "drop child",
                        "child callback"
                    ]
                );
                drop((child_ref, parent_ref));
            }

            #[test]
            fn deaths_caused_by_a_callback_are_queued_and_callbacks_may_create_objects() {
                let log = Log::new();
                let first = Obj::new(Tracked::new(&log, "first"));
                let held: Arc<Mutex<Option<Obj<Tracked>>>> =
                    Arc::new(Mutex::new(Some(Obj::new(Tracked::new(&log, "held")))));
                let held_ref = WeakRef::with_callback(
                    lock(&held).as_ref().expect("held"),
                    logging_callback(&log, "held callback"),
                );
                let older =
                    WeakRef::with_callback(&first, logging_callback(&log, "first older callback"));
                let (callback_log, callback_held) = (log.clone(), held.clone());
                let newer = WeakRef::with_callback(&first, move |_| {
                    callback_log.push("first newer callback begins");
                    let held = lock(&callback_held).take().expect("held");
                    let held_weak = Obj::downgrade(&held);
                    drop(held);
                    callback_log.push(format!("held alive={}", held_weak.is_alive()));
                    let fresh = Obj::new(Tracked::new(&callback_log, "fresh"));
                    let fresh_ref = WeakRef::with_callback(
                        &fresh,
                        logging_callback(&callback_log, "fresh callback"),
                    );
                    drop(fresh);
                    callback_log.push(format!("fresh alive={}", fresh_ref.is_alive()));
                    drop(fresh_ref);
                    callback_log.push("first newer callback ends");
                });
                drop(first);
                let events = log.events();
                assert_eq!(
                    events[..6],
                    [
                        "drop first",
                        "first newer callback begins",
                        "held alive=false",
                        "fresh alive=false",
                        "first newer callback ends",
                        "first older callback"
                    ]
                );
                // The two queued deaths follow, each in its own order (drop, then callback).
                let mut queued = events[6..].to_vec();
                assert_eq!(queued.len(), 4, "log: {events:?}");
                let held_at = queued
                    .iter()
                    .position(|e| e == "drop held")
                    .expect("held dropped");
                assert_eq!(queued[held_at + 1], "held callback");
                let fresh_at = queued
                    .iter()
                    .position(|e| e == "drop fresh")
                    .expect("fresh dropped");
                assert_eq!(queued[fresh_at + 1], "fresh callback");
                queued.sort();
                assert_eq!(
                    queued,
                    ["drop fresh", "drop held", "fresh callback", "held callback"]
                );
                drop((held_ref, older, newer));
            }

            /// One link of a chain: owns the next object.
            struct Link {
                _next: Option<Obj<Link>>,
                _counted: Counted,
            }

            #[test]
            fn a_long_chain_dies_without_deep_recursion() {
                let n_links = scaled(100_000, 1_000);
                let drops = DropCounter::new();
                let mut head: Option<Obj<Link>> = None;
                let mut tail_weak = None;
                for id in 0..n_links {
                    let link = Obj::new(Link {
                        _next: head.take(),
                        _counted: drops.token(id),
                    });
                    tail_weak.get_or_insert(Obj::downgrade(&link));
                    head = Some(link);
                }
                let head = head.expect("non-empty chain");
                let tail_weak = tail_weak.expect("non-empty chain");
                let callbacks = Log::new();
                let (head_log, tail_log) = (callbacks.clone(), callbacks.clone());
                let head_ref = WeakRef::with_callback(&head, move |_| head_log.push("head"));
                let tail_ref =
                    WeakRef::with_callback(&tail_weak.upgrade().expect("alive"), move |_| {
                        tail_log.push("tail")
                    });
                assert_eq!(drops.get(), 0);
                drop(head);
                assert_eq!(drops.get(), n_links, "every link dropped exactly once");
                assert!(!tail_weak.is_alive());
                assert!(!head_ref.is_alive() && !tail_ref.is_alive());
                assert_eq!(callbacks.events(), ["head", "tail"]);
            }

            #[test]
            fn defer_deaths_kills_at_once_but_drops_and_calls_back_after_f() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let weak = Obj::downgrade(&obj);
                let weak_ref = WeakRef::with_callback(&obj, logging_callback(&log, "callback"));
                let out = defer_deaths(|| {
                    drop(obj);
                    log.push(format!(
                        "inside: weak={} ref={}",
                        weak.is_alive(),
                        weak_ref.get().is_some()
                    ));
                    "returned"
                });
                assert_eq!(out, "returned");
                assert_eq!(
                    log.events(),
                    ["inside: weak=false ref=false", "drop a", "callback"]
                );
            }

            #[test]
            fn nested_defer_deaths_wait_for_the_outermost() {
                let log = Log::new();
                let first = Obj::new(Tracked::new(&log, "first"));
                let second = Obj::new(Tracked::new(&log, "second"));
                let first_weak = Obj::downgrade(&first);
                defer_deaths(|| {
                    defer_deaths(|| drop(first));
                    log.push(format!(
                        "inner returned: first alive={}",
                        first_weak.is_alive()
                    ));
                    drop(second);
                    log.push("outer ends");
                });
                let events = log.events();
                assert_eq!(
                    events[..2],
                    ["inner returned: first alive=false", "outer ends"]
                );
                let mut deferred = events[2..].to_vec();
                deferred.sort();
                assert_eq!(deferred, ["drop first", "drop second"]);
            }

            #[test]
            fn deferred_deaths_complete_before_a_panic_of_f_goes_on() {
                struct UnwindWitness(Log);
                impl Drop for UnwindWitness {
                    fn drop(&mut self) {
                        self.0.push("unwound past defer_deaths");
                    }
                }
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let weak_ref = WeakRef::with_callback(&obj, logging_callback(&log, "callback"));
                let payload = catch_unwind(AssertUnwindSafe(|| {
                    let _witness = UnwindWitness(log.clone());
                    defer_deaths(|| {
                        drop(obj);
                        panic!("f failed");
                    })
                }))
                .expect_err("the panic of f goes on");
                assert_eq!(panic_message(&*payload), "f failed");
                assert_eq!(
                    log.events(),
                    ["drop a", "callback", "unwound past defer_deaths"]
                );
                assert!(!weak_ref.is_alive());
            }

            /// Needs its registry's lock while dropped: the case `defer_deaths` exists for.
            struct Plugin {
                registry: Arc<Mutex<Vec<Obj<Plugin>>>>,
                log: Log,
            }

            impl Drop for Plugin {
                fn drop(&mut self) {
                    let lock_free = self.registry.try_lock().is_ok();
                    self.log
                        .push(format!("plugin dropped, registry lock free={lock_free}"));
                }
            }

            #[test]
            fn defer_deaths_lets_drops_run_after_a_held_lock_is_released() {
                let log = Log::new();
                let registry: Arc<Mutex<Vec<Obj<Plugin>>>> = Arc::default();
                for _ in 0..3 {
                    let plugin = Obj::new(Plugin {
                        registry: registry.clone(),
                        log: log.clone(),
                    });
                    lock(&registry).push(plugin);
                }
                defer_deaths(|| lock(&registry).clear());
                assert_eq!(log.events(), ["plugin dropped, registry lock free=true"; 3]);
            }

            /// Panics in its `Drop`, after logging `drop <name>`.
            struct Bomb {
                name: &'static str,
                log: Log,
            }

            impl Drop for Bomb {
                fn drop(&mut self) {
                    self.log.push(format!("drop {}", self.name));
                    panic!("{} exploded", self.name);
                }
            }

            fn bomb_callback(
                log: &Log,
                event: &'static str,
            ) -> impl FnOnce(&WeakRef<Bomb>) + Send + 'static {
                let log = log.clone();
                move |_| log.push(event)
            }

            #[test]
            fn a_panicking_drop_propagates_after_the_death_completed() {
                let log = Log::new();
                let obj = Obj::new(Bomb {
                    name: "bomb",
                    log: log.clone(),
                });
                let weak = Obj::downgrade(&obj);
                let older = WeakRef::with_callback(&obj, bomb_callback(&log, "older callback"));
                let newer = WeakRef::with_callback(&obj, bomb_callback(&log, "newer callback"));
                let payload = catch_unwind(AssertUnwindSafe(move || drop(obj)))
                    .expect_err("the Drop panic propagates");
                assert_eq!(panic_message(&*payload), "bomb exploded");
                assert_eq!(
                    log.events(),
                    ["drop bomb", "newer callback", "older callback"]
                );
                assert!(weak.upgrade().is_none());
                assert!(!older.is_alive() && !newer.is_alive());
                // Nothing is left broken: the next death on this thread runs normally.
                let later = Obj::new(Tracked::new(&log, "later"));
                let later_ref =
                    WeakRef::with_callback(&later, logging_callback(&log, "later callback"));
                drop(later);
                assert_eq!(log.events()[3..], ["drop later", "later callback"]);
                drop(later_ref);
            }

            #[test]
            fn a_panicking_drop_inside_defer_deaths_comes_out_of_defer_deaths() {
                let log = Log::new();
                let obj = Obj::new(Bomb {
                    name: "bomb",
                    log: log.clone(),
                });
                let weak_ref = WeakRef::with_callback(&obj, bomb_callback(&log, "callback"));
                let payload = catch_unwind(AssertUnwindSafe(|| {
                    defer_deaths(|| {
                        drop(obj);
                        log.push("f returns");
                    })
                }))
                .expect_err("the Drop panic comes out of defer_deaths");
                assert_eq!(panic_message(&*payload), "bomb exploded");
                assert_eq!(log.events(), ["f returns", "drop bomb", "callback"]);
                assert!(!weak_ref.is_alive());
            }

            /// Drops its bomb children (queued deaths), then optionally panics itself.
            struct Volatile {
                children: Vec<Obj<Bomb>>,
                panics: bool,
                log: Log,
            }

            impl Drop for Volatile {
                fn drop(&mut self) {
                    self.log.push("drop volatile");
                    self.children.clear();
                    if self.panics {
                        panic!("volatile exploded");
                    }
                }
            }

            #[test]
            fn with_queued_panicking_deaths_only_the_first_panic_propagates() {
                let log = Log::new();
                let child = Obj::new(Bomb {
                    name: "child",
                    log: log.clone(),
                });
                let child_ref =
                    WeakRef::with_callback(&child, bomb_callback(&log, "child callback"));
                let parent = Obj::new(Volatile {
                    children: vec![child],
                    panics: true,
                    log: log.clone(),
                });
                let callback_log = log.clone();
                let parent_ref =
                    WeakRef::with_callback(&parent, move |_| callback_log.push("parent callback"));
                let payload = catch_unwind(AssertUnwindSafe(move || drop(parent)))
                    .expect_err("a Drop panic propagates");
                assert_eq!(
                    panic_message(&*payload),
                    "volatile exploded",
                    "the first panic wins"
                );
                assert_eq!(
                    log.events(),
                    [
                        "drop volatile",
                        "parent callback",
                        "drop child",
                        "child callback"
                    ]
                );
                assert!(!parent_ref.is_alive() && !child_ref.is_alive());
            }

            #[test]
            fn two_queued_panicking_deaths_both_complete_and_one_panic_propagates() {
                let log = Log::new();
                let children: Vec<_> = ["b", "c"]
                    .map(|name| {
                        Obj::new(Bomb {
                            name,
                            log: log.clone(),
                        })
                    })
                    .into();
                let child_refs: Vec<_> = children
                    .iter()
                    .zip(["b callback", "c callback"])
                    .map(|(child, event)| WeakRef::with_callback(child, bomb_callback(&log, event)))
                    .collect();
                let parent = Obj::new(Volatile {
                    children,
                    panics: false,
                    log: log.clone(),
                });
                let payload = catch_unwind(AssertUnwindSafe(move || drop(parent)))
                    .expect_err("a Drop panic propagates");
                let message = panic_message(&*payload);
                assert!(
                    message == "b exploded" || message == "c exploded",
                    "message: {message}"
                );
                log.assert_dropped_once(&["volatile", "b", "c"]);
                let events = log.events();
                assert!(
                    events.contains(&"b callback".to_owned())
                        && events.contains(&"c callback".to_owned())
                );
                assert_eq!(events.len(), 5, "log: {events:?}");
                assert!(child_refs.iter().all(|r| !r.is_alive()));
            }
        }
    };
}

flavour_tests!(unsync);
flavour_tests!(sync);

#[test]
fn either_flavours_defer_deaths_defers_deaths_of_both_flavours() {
    let log = Log::new();
    let sync_obj = weakref_core::sync::Obj::new(Tracked::new(&log, "sync"));
    let unsync_obj = weakref_core::unsync::Obj::new(Tracked::new(&log, "unsync"));
    weakref_core::unsync::defer_deaths(|| {
        drop(sync_obj);
        log.push("inside unsync::defer_deaths");
    });
    weakref_core::sync::defer_deaths(|| {
        drop(unsync_obj);
        log.push("inside sync::defer_deaths");
    });
    assert_eq!(
        log.events(),
        [
            "inside unsync::defer_deaths",
            "drop sync",
            "inside sync::defer_deaths",
            "drop unsync"
        ]
    );
}

#[test]
fn a_death_of_one_flavour_inside_a_drop_of_the_other_is_queued() {
    struct CrossParent {
        child: Option<weakref_core::sync::Obj<Tracked>>,
        log: Log,
    }
    impl Drop for CrossParent {
        fn drop(&mut self) {
            drop(self.child.take());
            self.log.push("cross parent dropped its child");
        }
    }
    let log = Log::new();
    let child = weakref_core::sync::Obj::new(Tracked::new(&log, "sync child"));
    let parent = weakref_core::unsync::Obj::new(CrossParent {
        child: Some(child),
        log: log.clone(),
    });
    drop(parent);
    assert_eq!(
        log.events(),
        ["cross parent dropped its child", "drop sync child"]
    );
}
