//! Shared test helpers: an event log, a lock that runs the tests one at a time, an unraisable
//! hook that records, and drop-tracking values.

use std::sync::{Arc, Mutex, MutexGuard};

use weakref_core::{set_unraisable_hook, take_unraisable_hook, Unraisable};

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

/// Runs the tests of this binary one at a time: `pending()` and the unraisable hook are
/// process-wide, so a test that reads them must not overlap another test's finalizers.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    lock(&SERIAL)
}

/// A shared event log. It is `Send + Sync`, so the same helpers serve `sync` finalizers too.
#[derive(Clone, Default, Debug)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&self, event: impl Into<String>) {
        lock(&self.0).push(event.into());
    }

    /// A finalizer function that logs `event`.
    pub fn pusher(&self, event: &str) -> impl FnOnce() + Send + 'static {
        let log = self.clone();
        let event = event.to_string();
        move || log.push(event)
    }

    pub fn events(&self) -> Vec<String> {
        lock(&self.0).clone()
    }
}

/// A value that logs `drop <name>` when it is dropped.
#[derive(Debug)]
pub struct Tracked {
    pub name: String,
    log: Log,
}

impl Tracked {
    pub fn new(name: &str, log: &Log) -> Self {
        Tracked {
            name: name.to_string(),
            log: log.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.name));
    }
}

/// Runs `f` with an unraisable hook that records the reports, and returns them. Call it under
/// [`serial`]. std's panic hook is silenced meanwhile.
pub fn with_reports(f: impl FnOnce()) -> Vec<Unraisable> {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let previous_hook = take_unraisable_hook();
    set_unraisable_hook(Box::new(move |report| lock(&sink).push(report.clone())));
    let previous_panic_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    f();
    std::panic::set_hook(previous_panic_hook);
    drop(take_unraisable_hook());
    set_unraisable_hook(previous_hook);
    let reports = lock(&reports).clone();
    reports
}

/// Whether `text` is `<finalize object at 0x…; dead>`; returns the address part.
pub fn dead_form(text: &str) -> Option<&str> {
    let addr = text
        .strip_prefix("<finalize object at ")?
        .strip_suffix("; dead>")?;
    is_hex_addr(addr).then_some(addr)
}

/// Whether `text` is `<finalize object at 0x…; for 'type_name' at 0x…>`; returns both addresses.
pub fn alive_form<'a>(text: &'a str, type_name: &str) -> Option<(&'a str, &'a str)> {
    let rest = text
        .strip_prefix("<finalize object at ")?
        .strip_suffix('>')?;
    let (addr, rest) = rest.split_once("; for '")?;
    let obj_addr = rest.strip_prefix(type_name)?.strip_prefix("' at ")?;
    (is_hex_addr(addr) && is_hex_addr(obj_addr)).then_some((addr, obj_addr))
}

fn is_hex_addr(text: &str) -> bool {
    text.strip_prefix("0x")
        .is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
}
