//! Loom models of the `sync` collections (run with `RUSTFLAGS="--cfg weakref_loom"`): inserts,
//! removals and `get_or_insert_with` racing the death of the weak side on another thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;
use weakref_collections::sync::{WeakKeyMap, WeakValueMap};
use weakref_core::sync::Obj;

/// A key that counts its drops; equal and hashed by its number.
struct Key(u8, Arc<AtomicUsize>);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn remove_races_the_death_of_the_value() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = WeakValueMap::new();
        let value = Obj::new(1);
        map.insert(Key(1, Arc::clone(&drops)), &value);
        let killer = thread::spawn(move || drop(value));
        let removed = map.remove(&Key(1, Arc::clone(&drops)));
        drop(removed);
        killer.join().unwrap();
        assert_eq!(map.len(), 0);
        map.purge();
        // The map's key and the lookup key: each dropped once, the entry gone.
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn replacement_races_the_death_of_the_old_value() {
    loom::model(|| {
        let map = WeakValueMap::new();
        let old = Obj::new(1);
        let new = Obj::new(2);
        map.insert(7u8, &old);
        let killer = thread::spawn(move || drop(old));
        map.insert(7, &new);
        killer.join().unwrap();
        assert_eq!(map.len(), 1);
        map.purge();
        assert!(Obj::ptr_eq(&map.get(&7).unwrap(), &new));
        assert_eq!(map.len(), 1);
    });
}

#[test]
fn get_or_insert_with_races_the_death_of_the_value() {
    loom::model(|| {
        let map = WeakValueMap::new();
        let old = Obj::new(1);
        map.insert(7u8, &old);
        let killer = thread::spawn(move || drop(old));
        let got = map.get_or_insert_with(7, || Obj::new(2));
        killer.join().unwrap();
        assert!(Obj::ptr_eq(&map.get(&7).unwrap(), &got));
        assert_eq!(map.len(), 1);
    });
}

#[test]
fn racing_loaders_share_one_result() {
    loom::model(|| {
        let map = Arc::new(WeakValueMap::new());
        let other = Arc::clone(&map);
        let racer = thread::spawn(move || other.get_or_insert_with(7u8, || Obj::new(1)));
        let mine = map.get_or_insert_with(7, || Obj::new(2));
        let theirs = racer.join().unwrap();
        assert!(Obj::ptr_eq(&mine, &theirs));
        assert_eq!(map.len(), 1);
    });
}

#[test]
fn key_map_remove_races_the_death_of_the_key() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = WeakKeyMap::new();
        let key = Obj::new(1);
        let weak = Obj::downgrade(&key);
        map.insert(&key, Key(0, Arc::clone(&drops)));
        let killer = thread::spawn(move || drop(key));
        let removed = map.remove(&weak);
        drop(removed);
        killer.join().unwrap();
        assert_eq!(map.len(), 0);
        map.purge();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}
