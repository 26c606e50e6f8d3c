//! Python's `sys.unraisablehook`: where panics of callbacks and finalizers are reported.

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

/// The report of a panic that could not propagate: a callback or finalizer run by a death or at
/// exit panicked (Python's `sys.UnraisableHookArgs`).
///
/// ```
/// use weakref_core::Unraisable;
/// let report = Unraisable {
///     object: "<weakref at 0x10; dead>".to_string(),
///     callback: "app::main::{{closure}}",
///     message: "boom".to_string(),
/// };
/// assert_eq!(
///     report.to_string(),
///     "Exception ignored while calling app::main::{{closure}} for <weakref at 0x10; dead>:\nboom"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unraisable {
    /// The `Debug` text of the callback's ref, proxy or finalizer (in its dead form).
    pub object: String,
    /// `std::any::type_name` of the callback or finalizer function.
    pub callback: &'static str,
    /// The panic payload if it is a `&str` or a `String`, else `Box<dyn Any>`.
    pub message: String,
}

impl fmt::Display for Unraisable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Exception ignored while calling {} for {}:\n{}",
            self.callback, self.object, self.message
        )
    }
}

type Hook = Box<dyn Fn(&Unraisable) + Send + Sync>;

/// The hook set by the user; `None` means the default hook.
static HOOK: Mutex<Option<Arc<Hook>>> = Mutex::new(None);

fn default_hook(report: &Unraisable) {
    eprintln!("{report}");
}

fn slot() -> std::sync::MutexGuard<'static, Option<Arc<Hook>>> {
    match HOOK.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Sets the hook that receives every [`Unraisable`] report, for both flavours and all threads
/// (as `std::panic::set_hook`). The default hook writes the report's `Display` and a newline to
/// stderr. std's panic hook still prints its own `thread '…' panicked` line first.
///
/// ```
/// use weakref_core::{set_unraisable_hook, take_unraisable_hook};
/// set_unraisable_hook(Box::new(|report| println!("ignored: {}", report.message)));
/// let _mine = take_unraisable_hook(); // back to the default
/// ```
pub fn set_unraisable_hook(hook: Box<dyn Fn(&Unraisable) + Send + Sync>) {
    let previous = slot().replace(Arc::new(hook));
    drop(previous);
}

/// Removes the current hook, restores the default, and returns the removed hook (the default
/// one when none was set).
///
/// ```
/// use weakref_core::take_unraisable_hook;
/// let hook = take_unraisable_hook();
/// hook(&weakref_core::Unraisable {
///     object: String::new(),
///     callback: "f",
///     message: "shown on stderr".into(),
/// });
/// ```
pub fn take_unraisable_hook() -> Box<dyn Fn(&Unraisable) + Send + Sync> {
    let taken = slot().take();
    match taken {
        None => Box::new(default_hook),
        Some(shared) => match Arc::try_unwrap(shared) {
            Ok(hook) => hook,
            // A report is being delivered to it right now: hand out a forwarding box.
            Err(shared) => Box::new(move |report| shared(report)),
        },
    }
}

/// Delivers `report` to the current hook, with no lock held while the hook runs.
pub(crate) fn report(report: &Unraisable) {
    let hook = slot().clone();
    let delivered = panic::catch_unwind(AssertUnwindSafe(|| match hook {
        Some(hook) => hook(report),
        None => default_hook(report),
    }));
    if let Err(payload) = delivered {
        eprintln!("{report}\n(the unraisable hook panicked too)");
        crate::death::drop_payload(payload);
    }
}

/// The message of a panic payload: the text of a `&str` or `String`, else `Box<dyn Any>`.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}
