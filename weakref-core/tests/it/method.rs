//! `WeakMethod<T, F>` (Python's `weakref.WeakMethod`): bound methods, calls, callbacks, counting and listing.

macro_rules! flavour_tests {
    ($flavour:ident) => {
        mod $flavour {
            use weakref_core::$flavour::*;

            use crate::helpers::*;

            #[derive(Debug)]
            struct Panel {
                base: u32,
                log: Log,
            }

            #[derive(Debug)]
            struct Event {
                code: u32,
            }

            impl Panel {
                fn add(&self, amount: u32) -> u32 {
                    self.base + amount
                }

                fn on_event(&self, event: &Event) -> String {
                    format!("panel {} got event {}", self.base, event.code)
                }
            }

            impl Drop for Panel {
                fn drop(&mut self) {
                    self.log.push("drop panel");
                }
            }

            type AddFn = fn(&Panel, u32) -> u32;

            fn panel(log: &Log, base: u32) -> Obj<Panel> {
                Obj::new(Panel {
                    base,
                    log: log.clone(),
                })
            }

            #[test]
            fn get_gives_the_receiver_and_the_method_while_the_receiver_lives() {
                let log = Log::new();
                let receiver = panel(&log, 10);
                let method = WeakMethod::<Panel, AddFn>::new(&receiver, Panel::add);
                assert!(method.is_alive());
                let (bound_receiver, function) = method.get().expect("receiver alive");
                assert!(Obj::ptr_eq(&bound_receiver, &receiver));
                assert_eq!(function(&bound_receiver, 5), 15);
                drop(receiver);
                assert!(
                    method.is_alive(),
                    "the Obj returned by get keeps the receiver alive"
                );
                assert!(log.events().is_empty());
                drop(bound_receiver);
                assert!(!method.is_alive());
                assert!(method.get().is_none());
                assert_eq!(log.events(), ["drop panel"]);
            }

            #[test]
            fn call_binds_and_calls_in_one_step_until_the_receiver_dies() {
                let log = Log::new();
                let receiver = panel(&log, 10);
                let method = WeakMethod::<Panel, AddFn>::new(&receiver, Panel::add);
                assert_eq!(method.call(1), Some(11));
                assert_eq!(
                    Obj::strong_count(&receiver),
                    1,
                    "call keeps no strong reference"
                );
                drop(receiver);
                assert_eq!(method.call(1), None);
            }

            #[test]
            fn methods_with_reference_arguments_and_adapting_closures_work() {
                let log = Log::new();
                let receiver = panel(&log, 3);
                let handler = WeakMethod::<Panel, fn(&Panel, &Event) -> String>::new(
                    &receiver,
                    Panel::on_event,
                );
                let event = Event { code: 42 };
                assert_eq!(
                    handler.call(&event).as_deref(),
                    Some("panel 3 got event 42")
                );
                let resize =
                    WeakMethod::new(&receiver, |panel: &Panel, (width, height): (u32, u32)| {
                        panel.base + width * height
                    });
                assert_eq!(resize.call((4, 5)), Some(23));
                let (bound_receiver, function) = resize.get().expect("alive");
                assert_eq!(function(&bound_receiver, (1, 1)), 4);
                drop((bound_receiver, receiver));
                assert_eq!(handler.call(&event), None);
                assert_eq!(resize.call((1, 1)), None);
            }

            #[test]
            fn with_callback_runs_the_callback_once_with_the_dead_method() {
                let log = Log::new();
                let receiver = panel(&log, 1);
                let callback_log = log.clone();
                let method = WeakMethod::with_callback(
                    &receiver,
                    Panel::add as AddFn,
                    move |method: &WeakMethod<Panel, AddFn>| {
                        callback_log.push(format!(
                            "method callback alive={} get={} call={:?}",
                            method.is_alive(),
                            method.get().is_some(),
                            method.call(1)
                        ));
                    },
                );
                let clone = method.clone();
                assert_eq!(getweakrefcount(&receiver), 1, "a clone is the same ref");
                drop(method);
                drop(receiver);
                assert_eq!(
                    log.events(),
                    [
                        "drop panel",
                        "method callback alive=false get=false call=None"
                    ]
                );
                drop(clone);
                assert_eq!(log.events().len(), 2);
            }

            #[test]
            fn method_callbacks_share_the_newest_first_order_with_ref_callbacks() {
                let log = Log::new();
                let receiver = panel(&log, 1);
                let (first_log, second_log, third_log) = (log.clone(), log.clone(), log.clone());
                let first = WeakRef::with_callback(&receiver, move |_| first_log.push("ref 1"));
                let second = WeakMethod::with_callback(&receiver, Panel::add as AddFn, move |_| {
                    second_log.push("method 2")
                });
                let third = WeakRef::with_callback(&receiver, move |_| third_log.push("ref 3"));
                drop(receiver);
                assert_eq!(log.events(), ["drop panel", "ref 3", "method 2", "ref 1"]);
                drop((first, second, third));
            }

            #[test]
            fn each_method_holds_its_own_counted_and_listed_ref() {
                let log = Log::new();
                let receiver = panel(&log, 1);
                let shared = WeakRef::new(&receiver);
                let first = WeakMethod::<Panel, AddFn>::new(&receiver, Panel::add);
                let second = WeakMethod::<Panel, AddFn>::new(&receiver, Panel::add);
                assert_eq!(
                    getweakrefcount(&receiver),
                    3,
                    "methods' refs are not shared"
                );
                let listed = getweakrefs(&receiver);
                assert_eq!(listed.len(), 3);
                assert!(WeakRef::ptr_eq(&listed[0], &shared));
                assert_eq!(format!("{:?}", listed[1]), format!("{second:?}"));
                assert_eq!(format!("{:?}", listed[2]), format!("{first:?}"));
                assert_ne!(format!("{first:?}"), format!("{second:?}"));
                drop(listed);
                let clone = first.clone();
                assert_eq!(getweakrefcount(&receiver), 3);
                drop((first, clone));
                assert_eq!(getweakrefcount(&receiver), 2);
                drop(second);
                assert_eq!(getweakrefcount(&receiver), 1);
                drop(shared);
            }

            #[test]
            fn debug_is_that_of_its_ref() {
                let log = Log::new();
                let receiver = panel(&log, 1);
                let method = WeakMethod::<Panel, AddFn>::new(&receiver, Panel::add);
                let alive = format!("{method:?}");
                assert_eq!(format!("{:?}", method.clone()), alive);
                let listed = getweakrefs(&receiver);
                assert_eq!(format!("{:?}", listed[0]), alive);
                let address = alive
                    .strip_prefix("<weakref at ")
                    .and_then(|rest| rest.split_once(';'))
                    .map(|(address, _)| address.to_owned())
                    .unwrap_or_else(|| panic!("bad Debug: {alive}"));
                assert!(is_hex_address(&address), "bad Debug: {alive}");
                assert_eq!(
                    alive,
                    format!("<weakref at {address}; to 'Panel' at {receiver:p}>")
                );
                drop(listed);
                drop(receiver);
                assert_eq!(
                    format!("{method:?}"),
                    format!("<weakref at {address}; dead>")
                );
            }
        }
    };
}

flavour_tests!(unsync);
flavour_tests!(sync);
