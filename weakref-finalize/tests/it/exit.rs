//! Exit behaviour, watched in a child process (`src/bin/exit_check.rs`) whose finalizers and
//! unraisable hook print to stdout. Skipped under Miri, which cannot spawn processes.

use std::process::Command;

/// Runs the child with `args`; returns its stdout lines, or `None` under Miri.
fn child(args: &[&str]) -> Option<Vec<String>> {
    if cfg!(miri) {
        eprintln!("SKIPPED under Miri: exit tests need a child process ({args:?})");
        return None;
    }
    let output = Command::new(env!("CARGO_BIN_EXE_weakref-finalize-exit-check"))
        .args(args)
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8(output.stdout).expect("utf-8 stdout");
    assert!(
        output.status.success(),
        "child {args:?} failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Some(stdout.lines().map(str::to_string).collect())
}

/// Checks CPython's `test_atexit` output: `before` lines, then `f4`, `f3 error`, the report of
/// f3's panic, `g1`, `f1`; f2 never runs.
fn check_test_atexit(lines: &[String], before: &[&str], flavour: &str) {
    let (head, rest) = lines.split_at(before.len().min(lines.len()));
    assert_eq!(head, before, "{lines:#?}");
    assert_eq!(rest.len(), 6, "{lines:#?}");
    assert_eq!(rest[0], "f4");
    assert_eq!(rest[1], "f3 error");
    let report = rest[2]
        .strip_prefix("Exception ignored while calling ")
        .unwrap_or_else(|| panic!("a report: {lines:#?}"));
    let (callback, object) = report.split_once(" for ").expect("callback for object");
    assert!(
        callback.contains(&format!("test_atexit_{flavour}")) && callback.contains("{{closure}}"),
        "{callback}"
    );
    let addr = object
        .strip_prefix("<finalize object at 0x")
        .and_then(|rest| rest.strip_suffix("; dead>:"))
        .unwrap_or_else(|| panic!("the dead form: {object}"));
    assert!(addr.chars().all(|c| c.is_ascii_hexdigit()), "{object}");
    assert_eq!(rest[3], "f3 panicked");
    assert_eq!(rest[4], "g1");
    assert_eq!(rest[5], "f1");
    assert!(!lines.iter().any(|line| line == "f2"));
}

#[test]
fn unsync_test_atexit_on_return_from_main() {
    let Some(lines) = child(&["test_atexit", "unsync", "return"]) else {
        return;
    };
    check_test_atexit(&lines, &["pending 4", "main returns"], "unsync");
}

#[test]
fn unsync_test_atexit_on_process_exit() {
    let Some(lines) = child(&["test_atexit", "unsync", "exit"]) else {
        return;
    };
    check_test_atexit(&lines, &["pending 4", "process::exit"], "unsync");
}

#[test]
fn sync_test_atexit_on_return_from_main() {
    let Some(lines) = child(&["test_atexit", "sync", "return"]) else {
        return;
    };
    check_test_atexit(&lines, &["pending 4", "main returns"], "sync");
}

#[test]
fn sync_test_atexit_on_process_exit() {
    let Some(lines) = child(&["test_atexit", "sync", "exit"]) else {
        return;
    };
    check_test_atexit(&lines, &["pending 4", "process::exit"], "sync");
}

#[test]
fn finalizers_that_already_ran_do_not_run_again_at_exit() {
    let Some(lines) = child(&["dead_objects"]) else {
        return;
    };
    assert_eq!(
        lines,
        [
            "sync called",
            "unsync by death",
            "sync by death",
            "pending 0",
            "main returns"
        ]
    );
}

#[test]
fn the_main_threads_unsync_finalizers_run_before_the_sync_ones() {
    let Some(lines) = child(&["unsync_before_sync"]) else {
        return;
    };
    assert_eq!(lines, ["main returns", "unsync", "sync"]);
}

#[test]
fn unsync_finalizers_run_at_the_end_of_their_thread() {
    let Some(lines) = child(&["unsync_thread"]) else {
        return;
    };
    assert_eq!(
        lines,
        [
            "thread body ends",
            "thread t1",
            "joined, pending 1",
            "main returns"
        ]
    );
}

#[test]
fn run_atexit_runs_both_scopes_now_and_ends_them() {
    let Some(lines) = child(&["run_atexit"]) else {
        return;
    };
    assert_eq!(
        lines,
        [
            "u1",
            "s1",
            "after run_atexit, pending 2",
            "s2 call: None",
            "pending 1",
            "late alive true, pending 3",
            "pending 1",
            "main returns"
        ]
    );
}

#[test]
fn sync_finalizers_from_several_threads_run_once_at_exit() {
    let Some(lines) = child(&["sync_threads"]) else {
        return;
    };
    assert_eq!(lines[..2], ["pending 12", "main returns"]);
    let ran = &lines[2..];
    assert_eq!(ran.len(), 12, "{lines:#?}");
    for t in 0..4 {
        let of_thread: Vec<&str> = ran
            .iter()
            .map(String::as_str)
            .filter(|line| line.starts_with(&format!("t{t} ")))
            .collect();
        // Newest created first.
        assert_eq!(
            of_thread,
            [format!("t{t} f2"), format!("t{t} f1"), format!("t{t} f0")]
        );
    }
}
