//! Shared test helpers: an event log, drop-tracking values, hashing and panic-payload utilities.

use std::any::Any;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Picks the native loop count, or the small one under Miri.
pub const fn scaled(native: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

/// Locks a mutex, ignoring poisoning (a failed test must not cascade into others).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A shared event log. It is `Send + Sync`, so the same helpers serve `sync` callbacks too.
#[derive(Clone, Default, Debug)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&self, event: impl Into<String>) {
        lock(&self.0).push(event.into());
    }

    pub fn events(&self) -> Vec<String> {
        lock(&self.0).clone()
    }

    /// Asserts that `drop <name>` was logged exactly once for each name.
    pub fn assert_dropped_once(&self, names: &[&str]) {
        let events = self.events();
        for name in names {
            let wanted = format!("drop {name}");
            let n_drops = events.iter().filter(|event| **event == wanted).count();
            assert_eq!(
                n_drops, 1,
                "{name} dropped {n_drops} times; log: {events:?}"
            );
        }
    }
}

/// A value that logs `drop <name>` when it is dropped.
#[derive(Debug)]
pub struct Tracked {
    pub name: String,
    log: Log,
}

impl Tracked {
    pub fn new(log: &Log, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            log: log.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.name));
    }
}

/// Counts the drops of the `Counted` values it hands out.
#[derive(Clone, Default, Debug)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn token(&self, id: usize) -> Counted {
        Counted {
            id,
            counter: self.clone(),
        }
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A value that bumps its `DropCounter` when dropped.
#[derive(Debug)]
pub struct Counted {
    pub id: usize,
    counter: DropCounter,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.counter.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// `value`'s hash under `DefaultHasher::new()`, as the contract defines `WeakRef::try_hash`.
pub fn hash_of<H: Hash + ?Sized>(value: &H) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// What `Hash for WeakRef` must feed a fresh `DefaultHasher`: the cached `u64` via `write_u64`.
pub fn hash_of_u64(value: u64) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write_u64(value);
    hasher.finish()
}

/// The text of a panic payload (`&str` or `String`), or `<non-string payload>`.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<non-string payload>".to_owned()
    }
}

/// True for `0x` followed by at least one hex digit and nothing else.
pub fn is_hex_address(text: &str) -> bool {
    text.strip_prefix("0x")
        .is_some_and(|digits| !digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit()))
}
