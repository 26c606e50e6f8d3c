//! Panicking callbacks: caught, reported through the process-global unraisable hook, the rest still run.

use std::sync::{Arc, Mutex, MutexGuard};

use weakref_core::{set_unraisable_hook, take_unraisable_hook, Unraisable};

use crate::helpers::lock;

/// The hook is process-global and tests run in parallel: every hook-using test holds this.
static HOOK_LOCK: Mutex<()> = Mutex::new(());

/// What the hook saw: the fields of one `Unraisable` and its `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Report {
    object: String,
    callback: &'static str,
    message: String,
    display: String,
}

impl Report {
    fn expected(object: String, callback: &'static str, message: &str) -> Self {
        let display =
            format!("Exception ignored while calling {callback} for {object}:\n{message}");
        Self {
            object,
            callback,
            message: message.to_owned(),
            display,
        }
    }
}

type Reports = Arc<Mutex<Vec<Report>>>;

fn capturing_hook(reports: &Reports) -> Box<dyn Fn(&Unraisable) + Send + Sync> {
    let reports = reports.clone();
    Box::new(move |unraisable: &Unraisable| {
        lock(&reports).push(Report {
            object: unraisable.object.clone(),
            callback: unraisable.callback,
            message: unraisable.message.clone(),
            display: unraisable.to_string(),
        });
    })
}

/// Installs a capturing hook for one test; restores the default hook on drop, then releases `HOOK_LOCK`.
struct CapturingHook {
    reports: Reports,
    _serial: MutexGuard<'static, ()>,
}

impl CapturingHook {
    fn install() -> Self {
        let serial = lock(&HOOK_LOCK);
        let reports = Reports::default();
        set_unraisable_hook(capturing_hook(&reports));
        Self {
            reports,
            _serial: serial,
        }
    }

    fn reports(&self) -> Vec<Report> {
        lock(&self.reports).clone()
    }
}

impl Drop for CapturingHook {
    fn drop(&mut self) {
        drop(take_unraisable_hook());
    }
}

/// Panics with a `String` payload (a formatted message).
fn fail(message: &str) {
    panic!("{message}");
}

/// Panics with a `&'static str` payload.
fn fail_static() {
    panic!("static failure");
}

/// Panics with a payload that is no string.
fn fail_with_number() {
    std::panic::panic_any(42_u32);
}

macro_rules! flavour_tests {
    ($flavour:ident) => {
        mod $flavour {
            use std::any::type_name_of_val;

            use weakref_core::$flavour::*;
            use weakref_core::{set_unraisable_hook, take_unraisable_hook};

            use super::{
                capturing_hook, fail, fail_static, fail_with_number, CapturingHook, Report, Reports,
            };
            use crate::helpers::*;

            fn logging_callback(
                log: &Log,
                event: &'static str,
            ) -> impl FnOnce(&WeakRef<Tracked>) + Send + 'static {
                let log = log.clone();
                move |_| log.push(event)
            }

            #[test]
            fn a_panicking_callback_is_reported_and_the_remaining_callbacks_still_run() {
                let hook = CapturingHook::install();
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let oldest = WeakRef::with_callback(&obj, logging_callback(&log, "oldest"));
                let failing_log = log.clone();
                let failing = move |_: &WeakRef<Tracked>| {
                    failing_log.push("failing");
                    fail("callback failed");
                };
                let failing_name = type_name_of_val(&failing);
                let failing_ref = WeakRef::with_callback(&obj, failing);
                let newest = WeakRef::with_callback(&obj, logging_callback(&log, "newest"));
                drop(obj);
                assert_eq!(log.events(), ["drop a", "newest", "failing", "oldest"]);
                let object = format!("{failing_ref:?}");
                assert!(
                    object.starts_with("<weakref at 0x") && object.ends_with("; dead>"),
                    "{object}"
                );
                assert_eq!(
                    hook.reports(),
                    [Report::expected(object, failing_name, "callback failed")]
                );

                // Nothing is left broken: the next death on this thread runs its callbacks normally.
                let later = Obj::new(Tracked::new(&log, "later"));
                let later_ref =
                    WeakRef::with_callback(&later, logging_callback(&log, "later callback"));
                drop(later);
                assert_eq!(log.events()[4..], ["drop later", "later callback"]);
                assert_eq!(hook.reports().len(), 1);
                drop((oldest, newest, later_ref));
            }

            #[test]
            fn each_panicking_callback_is_reported_newest_first_with_its_payload() {
                let hook = CapturingHook::install();
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let static_failure = |_: &WeakRef<Tracked>| fail_static();
                let static_name = type_name_of_val(&static_failure);
                let static_ref = WeakRef::with_callback(&obj, static_failure);
                let number_failure = |_: &WeakRef<Tracked>| fail_with_number();
                let number_name = type_name_of_val(&number_failure);
                let number_ref = WeakRef::with_callback(&obj, number_failure);
                drop(obj);
                assert_eq!(
                    hook.reports(),
                    [
                        Report::expected(format!("{number_ref:?}"), number_name, "Box<dyn Any>"),
                        Report::expected(format!("{static_ref:?}"), static_name, "static failure"),
                    ]
                );
            }

            #[test]
            fn a_panicking_method_callback_is_reported_with_the_methods_ref() {
                let hook = CapturingHook::install();
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let failing =
                    |_: &WeakMethod<Tracked, fn(&Tracked, ())>| fail("method callback failed");
                let failing_name = type_name_of_val(&failing);
                let method =
                    WeakMethod::with_callback(&obj, (|_, ()| {}) as fn(&Tracked, ()), failing);
                let (middle_log, newest_log) = (log.clone(), log.clone());
                let middle = WeakRef::with_callback(&obj, move |_| middle_log.push("middle"));
                let newest = WeakRef::with_callback(&obj, move |_| newest_log.push("newest"));
                drop(obj);
                assert_eq!(log.events(), ["drop a", "newest", "middle"]);
                assert_eq!(
                    hook.reports(),
                    [Report::expected(
                        format!("{method:?}"),
                        failing_name,
                        "method callback failed"
                    )]
                );
                drop((middle, newest));
            }

            #[test]
            fn take_unraisable_hook_returns_the_set_hook_and_restores_the_default() {
                let hook = CapturingHook::install();
                // Take ours out and put the returned box back: if it is ours, reports still arrive.
                let taken = take_unraisable_hook();
                set_unraisable_hook(taken);
                let log = Log::new();
                let obj = Obj::new(Tracked::new(&log, "a"));
                let failing_ref = WeakRef::with_callback(&obj, |_| fail("first"));
                drop(obj);
                assert_eq!(hook.reports().len(), 1);
                assert_eq!(hook.reports()[0].message, "first");

                // After a take the default hook is back: ours sees nothing more.
                drop(take_unraisable_hook());
                let obj = Obj::new(Tracked::new(&log, "b"));
                let second_ref = WeakRef::with_callback(&obj, |_| fail("second, to stderr"));
                drop(obj);
                assert_eq!(hook.reports().len(), 1);

                // A second take with no hook set returns the default and leaves it in place.
                let default = take_unraisable_hook();
                let other_reports = Reports::default();
                set_unraisable_hook(capturing_hook(&other_reports));
                drop(default);
                let obj = Obj::new(Tracked::new(&log, "c"));
                let third_ref = WeakRef::with_callback(&obj, |_| fail("third"));
                drop(obj);
                assert_eq!(lock(&other_reports).len(), 1);
                assert_eq!(hook.reports().len(), 1);
                drop((failing_ref, second_ref, third_ref));
            }
        }
    };
}

flavour_tests!(unsync);
flavour_tests!(sync);
