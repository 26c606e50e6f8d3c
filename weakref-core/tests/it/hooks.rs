//! The extension point's pins: `StoragePin` and `LazyPin` keep the value's storage past the
//! death and read dead at the death instant, also after the slot went to a new object; the last
//! pin drops the value.

macro_rules! flavour_tests {
    ($flavour:ident) => {
        mod $flavour {
            use weakref_core::__testing::slot_holds_version;
            use weakref_core::hooks::{LazyPin, StoragePin};
            use weakref_core::$flavour::*;

            use crate::helpers::*;

            #[test]
            fn lazy_pin_is_unpinned_until_pinned_and_reads_dead_at_the_death_instant() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let weak = Obj::downgrade(&obj);
                let pin = LazyPin::new(&weak);
                assert!(pin.get().is_none(), "unpinned: no value on the fast path");
                assert!(pin.pinned_value().is_none());
                assert!(pin.is_alive());
                assert_eq!(pin.pin(&obj).name, "a");
                assert_eq!(pin.get().map(|t| t.name.as_str()), Some("a"));
                // A second pin through the same handle is the same pin.
                assert!(std::ptr::eq(pin.pin(&obj), pin.get().unwrap()));
                drop(obj);
                assert!(pin.get().is_none(), "dead at once on the fast path");
                assert!(!pin.is_alive());
                assert!(weak.upgrade().is_none());
                assert_eq!(
                    log.events(),
                    Vec::<String>::new(),
                    "the pin holds the value"
                );
                assert_eq!(pin.pinned_value().unwrap().name, "a");
                drop(pin);
                log.assert_dropped_once(&["a"]);
            }

            #[test]
            fn a_pinned_dead_object_frees_its_slot_at_death_and_its_pins_stay_dead() {
                let obj = Obj::new(1u32);
                let weak = Obj::downgrade(&obj);
                let lazy = LazyPin::new(&weak);
                lazy.pin(&obj);
                let storage = StoragePin::new(&obj);
                drop(obj);
                assert!(!slot_holds_version(&weak), "the slot is freed at death");
                // New objects on this thread take the freed slot first: its next occupant
                // never makes the pins read alive.
                let others: Vec<_> = (0..scaled(256, 16) as u32).map(Obj::new).collect();
                assert!(others.iter().all(|o| Obj::downgrade(o) != weak));
                assert!(lazy.get().is_none() && !lazy.is_alive() && !storage.is_alive());
                assert_eq!(*lazy.pinned_value().unwrap(), 1);
                drop(lazy);
                assert_eq!(*storage.get(), 1, "one pin is left");
                drop(storage);
                assert!(weak.upgrade().is_none());
            }

            #[test]
            fn an_unpinned_death_frees_the_slot_at_once() {
                let obj = Obj::new(1u32);
                let weak = Obj::downgrade(&obj);
                let lazy = LazyPin::new(&weak);
                drop(obj);
                assert!(!slot_holds_version(&weak));
                assert!(lazy.get().is_none() && !lazy.is_alive());
            }

            #[test]
            fn pins_of_objects_in_reused_slots_never_read_an_old_occupant() {
                // Churn one slot: each object dies unpinned, its slot is reused by the next,
                // and a pin of each generation only ever sees its own object.
                let mut pins = Vec::new();
                for i in 0..scaled(64, 8) {
                    let obj = Obj::new(i);
                    let pin = LazyPin::new(&Obj::downgrade(&obj));
                    assert_eq!(*pin.pin(&obj), i);
                    pins.push((i, pin, obj));
                    if i % 2 == 0 {
                        pins.pop(); // dies at once: pin and object go together
                    }
                }
                for (i, pin, obj) in &pins {
                    assert_eq!(pin.get(), Some(i));
                    assert_eq!(**obj, *i);
                }
                for (i, pin, obj) in pins {
                    drop(obj);
                    assert!(pin.get().is_none());
                    assert_eq!(*pin.pinned_value().unwrap(), i);
                }
            }

            #[test]
            fn counts_and_try_unwrap_see_only_real_references_after_a_pin() {
                let obj = Obj::new(String::from("v"));
                let weak = Obj::downgrade(&obj);
                let pin = LazyPin::new(&weak);
                pin.pin(&obj);
                let second = obj.clone();
                assert_eq!(Obj::strong_count(&obj), 2);
                assert_eq!(weak.strong_count(), 2);
                drop(second);
                assert_eq!(Obj::strong_count(&obj), 1);
                let obj = Obj::try_unwrap(obj).expect_err("refused while pinned");
                drop(pin);
                assert_eq!(Obj::strong_count(&obj), 1);
                assert_eq!(Obj::try_unwrap(obj).ok().as_deref(), Some("v"));
                assert!(weak.upgrade().is_none());
            }

            #[test]
            fn a_pinned_object_dies_with_its_last_real_reference() {
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "p"));
                let weak = Obj::downgrade(&obj);
                let pin = LazyPin::new(&weak);
                pin.pin(&obj);
                let upgraded = weak.upgrade().unwrap();
                drop(obj);
                assert!(
                    pin.get().is_some() && weak.is_alive(),
                    "one real reference left"
                );
                drop(upgraded);
                assert!(pin.get().is_none() && !weak.is_alive());
                assert!(weak.upgrade().is_none());
                assert_eq!(log.events(), Vec::<String>::new());
                drop(pin);
                log.assert_dropped_once(&["p"]);
            }

            #[test]
            #[should_panic(expected = "not the object this pin was made for")]
            fn pinning_another_object_panics() {
                let a = Obj::new(1);
                let b = Obj::new(2);
                let pin = LazyPin::new(&Obj::downgrade(&a));
                pin.pin(&b);
            }
        }
    };
}

flavour_tests!(unsync);
flavour_tests!(sync);

#[test]
fn a_sync_pin_taken_on_another_thread_is_seen_here() {
    use weakref_core::hooks::LazyPin;
    use weakref_core::sync::Obj;
    let obj = Obj::new(7u64);
    let pin = LazyPin::new(&Obj::downgrade(&obj));
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(*pin.pin(&obj), 7));
    });
    assert_eq!(pin.get(), Some(&7));
    drop(obj);
    assert_eq!(pin.get(), None);
}
