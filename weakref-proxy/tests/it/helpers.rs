//! Shared test helpers: an event log, drop-tracking values, panic-payload utilities.

use std::any::Any;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, Once};

/// Python's message for a dead proxy.
pub const DEAD: &str = "weakly-referenced object no longer exists";

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

    /// How many times `event` was logged.
    pub fn count(&self, event: &str) -> usize {
        lock(&self.0)
            .iter()
            .filter(|logged| *logged == event)
            .count()
    }
}

/// A value that logs `drop <name>` when it is dropped, with a field and a method to reach
/// through a proxy.
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

    pub fn shout(&self) -> String {
        self.name.to_uppercase()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.name));
    }
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

/// Silences std's panic message for dead-proxy panics, which these tests cause on purpose;
/// every other panic is still printed by the previous hook.
pub fn quiet_dead_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if panic_message(info.payload()) != DEAD {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, which must panic, and returns its panic message.
pub fn panic_of<R>(f: impl FnOnce() -> R) -> String {
    quiet_dead_panics();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => panic_message(&*payload),
    }
}

/// True for `0x` followed by at least one hex digit and nothing else.
pub fn is_hex_address(text: &str) -> bool {
    text.strip_prefix("0x")
        .is_some_and(|digits| !digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit()))
}
