//! `len()` is exact at every moment, also inside a `Drop` or a callback run by the death.

mod unsync {
    use std::cell::{Cell, RefCell};
    use std::rc::{Rc, Weak as RcWeak};

    use weakref_collections::unsync::{WeakKeyMap, WeakValueMap};
    use weakref_core::unsync::{Obj, WeakRef};

    type Map = RefCell<WeakValueMap<u32, Probe>>;

    /// Reads the map's `len` from its own `Drop`.
    struct Probe {
        map: RcWeak<Map>,
        seen: Rc<Cell<Option<usize>>>,
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            if let Some(map) = self.map.upgrade() {
                self.seen.set(Some(map.borrow().len()));
            }
        }
    }

    #[test]
    fn len_inside_the_drop_and_the_callback_of_the_dying_value() {
        let map: Rc<Map> = Rc::new(RefCell::new(WeakValueMap::new()));
        let seen = Rc::new(Cell::new(None));
        let other = Obj::new(Probe {
            map: RcWeak::new(),
            seen: Rc::new(Cell::new(None)),
        });
        let dying = Obj::new(Probe {
            map: Rc::downgrade(&map),
            seen: Rc::clone(&seen),
        });
        map.borrow_mut().insert(1, &dying);
        map.borrow_mut().insert(2, &other);
        let in_callback = Rc::new(Cell::new(None));
        let _r = WeakRef::with_callback(&dying, {
            let (map, in_callback) = (Rc::clone(&map), Rc::clone(&in_callback));
            move |_| in_callback.set(Some(map.borrow().len()))
        });
        drop(dying);
        assert_eq!(seen.get(), Some(1), "len inside the value's Drop");
        assert_eq!(
            in_callback.get(),
            Some(1),
            "len inside the death's callback"
        );
        assert_eq!(map.borrow().len(), 1);
    }

    #[test]
    fn key_map_len_inside_a_callback() {
        let map = Rc::new(RefCell::new(WeakKeyMap::new()));
        let key = Obj::new(1);
        map.borrow_mut().insert(&key, ());
        let in_callback = Rc::new(Cell::new(None));
        let _r = WeakRef::with_callback(&key, {
            let (map, in_callback) = (Rc::clone(&map), Rc::clone(&in_callback));
            move |_| in_callback.set(Some(map.borrow().len()))
        });
        drop(key);
        assert_eq!(in_callback.get(), Some(0));
    }
}

mod sync {
    use std::sync::{Arc, Mutex, Weak as ArcWeak};

    use weakref_collections::sync::WeakValueMap;
    use weakref_core::sync::{Obj, WeakRef};

    type Map = WeakValueMap<u32, Probe>;

    /// Reads the map's `len` from its own `Drop`.
    struct Probe {
        map: ArcWeak<Map>,
        seen: Arc<Mutex<Option<usize>>>,
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            if let Some(map) = self.map.upgrade() {
                *self.seen.lock().unwrap() = Some(map.len());
            }
        }
    }

    #[test]
    fn len_inside_the_drop_and_the_callback_of_the_dying_value() {
        let map: Arc<Map> = Arc::new(WeakValueMap::new());
        let seen = Arc::new(Mutex::new(None));
        let dying = Obj::new(Probe {
            map: Arc::downgrade(&map),
            seen: Arc::clone(&seen),
        });
        let other = Obj::new(Probe {
            map: ArcWeak::new(),
            seen: Arc::new(Mutex::new(None)),
        });
        map.insert(1, &dying);
        map.insert(2, &other);
        let in_callback = Arc::new(Mutex::new(None));
        let _r = WeakRef::with_callback(&dying, {
            let (map, in_callback) = (Arc::clone(&map), Arc::clone(&in_callback));
            move |_| *in_callback.lock().unwrap() = Some(map.len())
        });
        drop(dying);
        assert_eq!(*seen.lock().unwrap(), Some(1));
        assert_eq!(*in_callback.lock().unwrap(), Some(1));
        assert_eq!(map.len(), 1);
    }
}
