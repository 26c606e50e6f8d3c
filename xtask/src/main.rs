//! The workspace's task runner (`cargo xtask ci | soak | bench`) and its tidy checks, run as `#[test]`s.
//!
//! It has no dependencies: every task is a sequence of `cargo` commands run from the workspace root
//! through [`std::process::Command`]; the first failure stops the task with a non-zero exit code.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// The library crates. Miri runs over each of them; a tidy test checks that the list is complete.
const LIBRARY_CRATES: [&str; 4] = [
    "weakref-core",
    "weakref-proxy",
    "weakref-finalize",
    "weakref-collections",
];

/// A task's outcome: `Err` carries the message printed before exiting non-zero.
type Result<T = ()> = std::result::Result<T, String>;

/// One step of `ci`: its name and what it runs.
type Step = (&'static str, fn() -> Result);

const USAGE: &str = "usage: cargo xtask <command> [args]

commands:
  ci            fmt check, clippy, tests, doc tests, docs, Miri, loom, bench build (each timed)
  soak [args]   run the soak example in release mode, passing args to it
  bench [args]  run the criterion benches (args go to `cargo bench`, e.g. a filter),
                then print the ratio of every `ours*` function to its peers in the same group";

/// The steps of `ci`, in order.
const CI_STEPS: [Step; 8] = [
    ("fmt check", || run(&mut cargo("fmt --all -- --check"))),
    ("clippy", || {
        run(&mut cargo(
            "clippy --workspace --all-targets -- -D warnings",
        ))
    }),
    ("tests", || {
        run(&mut cargo("test --workspace --all-targets"))
    }),
    ("doc tests", || run(&mut cargo("test --workspace --doc"))),
    ("docs", || {
        run(cargo("doc --workspace --no-deps").env("RUSTDOCFLAGS", "-D warnings"))
    }),
    ("miri", miri),
    ("loom", loom),
    ("bench build", || {
        run(&mut cargo("bench -p weakref-benches --no-run"))
    }),
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (command, rest) = args
        .split_first()
        .map_or(("", &[][..]), |(c, r)| (c.as_str(), r));
    let result = match command {
        "ci" => ci(),
        "soak" => soak(rest),
        "bench" => bench(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing command `{command}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every step of [`CI_STEPS`] in a timed section, stopping at the first failure.
fn ci() -> Result {
    let ci_started = Instant::now();
    let mut outcome = Ok(());
    for (name, body) in CI_STEPS {
        println!("== {name}");
        let step_started = Instant::now();
        let result = body();
        let secs = step_started.elapsed().as_secs_f64();
        match result {
            Ok(()) => println!("-- {name}: {secs:.1}s"),
            Err(message) => {
                println!("-- {name}: FAILED after {secs:.1}s");
                outcome = Err(format!("ci step `{name}` failed: {message}"));
                break;
            }
        }
    }
    println!("== total: {:.1}s", ci_started.elapsed().as_secs_f64());
    outcome
}

/// The crate whose Miri run is the longest: it runs in its own lane, beside the others.
const MIRI_OWN_LANE: &str = "weakref-collections";

/// Runs `cargo +nightly miri test --lib --tests` for each of [`LIBRARY_CRATES`], in two lanes
/// at once (the machine has two cores and Miri uses one): [`MIRI_OWN_LANE`] in the background,
/// with its own target directory and its output kept in a log printed when it ends, and the
/// other crates one after the other in the foreground.
///
/// A missing Miri fails the step: CI must not skip it silently (`.ci/run` installs it).
fn miri() -> Result {
    let probe = nightly_cargo("miri --version").output();
    if !probe.is_ok_and(|output| output.status.success()) {
        return Err(
            "\n\n!!! MIRI IS NOT INSTALLED: `cargo +nightly miri --version` failed.\n\
             !!! Install it with `rustup toolchain install nightly --profile minimal \
             --component miri,rust-src` (`.ci/run` does this).\n\
             !!! CI does not skip Miri.\n"
                .to_string(),
        );
    }
    let miri_test = |krate: &str, target_dir: &str| {
        nightly_cargo(&format!(
            "miri test -p {krate} --lib --tests --target-dir {target_dir}"
        ))
    };
    let log_path = target_dir().join("miri-own-lane.log");
    fs::create_dir_all(target_dir()).map_err(|err| format!("cannot create target/: {err}"))?;
    let log = fs::File::create(&log_path)
        .map_err(|err| format!("cannot create {}: {err}", log_path.display()))?;
    let err_log = log
        .try_clone()
        .map_err(|err| format!("cannot share {}: {err}", log_path.display()))?;
    let mut background = miri_test(MIRI_OWN_LANE, "target/miri-own-lane");
    println!(
        "$ {background:?} (in the background, output in {})",
        log_path.display()
    );
    let mut child = background
        .stdout(log)
        .stderr(err_log)
        .spawn()
        .map_err(|err| format!("cannot run {background:?}: {err}"))?;
    let foreground = LIBRARY_CRATES
        .iter()
        .filter(|krate| **krate != MIRI_OWN_LANE)
        .try_for_each(|krate| run(&mut miri_test(krate, "target/miri")));
    if foreground.is_err() {
        // Do not leave the background lane running past a failed step.
        let _ = child.kill();
    }
    let status = child.wait();
    println!("== miri of {MIRI_OWN_LANE} (background lane), its output:");
    print!("{}", fs::read_to_string(&log_path).unwrap_or_default());
    foreground?;
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{background:?} exited with {status}")),
        Err(err) => Err(format!("cannot wait for {background:?}: {err}")),
    }
}

/// Runs the loom models (the `it` test binary of each library crate under `cfg(weakref_loom)`).
fn loom() -> Result {
    let packages: Vec<String> = LIBRARY_CRATES.iter().map(|k| format!("-p {k}")).collect();
    let args = format!(
        "test {} --release --test it --target-dir target/loom",
        packages.join(" ")
    );
    run(cargo(&args)
        .env("RUSTFLAGS", "--cfg weakref_loom")
        .env("LOOM_MAX_PREEMPTIONS", "2"))
}

/// Runs the soak example in release mode; `args` (after an optional leading `--`) go to the example.
fn soak(args: &[String]) -> Result {
    let args = args.strip_prefix(&["--".to_string()]).unwrap_or(args);
    run(cargo("run --release -p weakref-examples --example soak --").args(args))
}

/// Runs the benches (`args` go to `cargo bench`), then prints every `ours*` function against its peers.
///
/// Output of benches without criterion (the `memory` bench) is passed through as it comes.
fn bench(args: &[String]) -> Result {
    run(cargo("bench -p weakref-benches").args(args))?;
    let criterion_dir = target_dir().join("criterion");
    let mut estimates = Vec::new();
    collect_estimates(&criterion_dir, &criterion_dir, &mut estimates);
    print_ratios(&mut estimates, &criterion_dir);
    Ok(())
}

/// The workspace root: the parent of this package's directory, as `cargo run` and `cargo test`
/// report it in `CARGO_MANIFEST_DIR` (else the directory this binary was built from).
fn root() -> PathBuf {
    let manifest_dir =
        env::var_os("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into());
    let manifest_dir = PathBuf::from(manifest_dir);
    manifest_dir
        .parent()
        .expect("xtask/ sits inside the workspace root")
        .to_path_buf()
}

/// The cargo target directory: `CARGO_TARGET_DIR` (relative to the root) or `target/`.
fn target_dir() -> PathBuf {
    root().join(env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()))
}

/// A `cargo` command with the whitespace-separated `args`, run from the workspace root.
fn cargo(args: &str) -> Command {
    let mut command = Command::new("cargo");
    command.args(args.split_whitespace()).current_dir(root());
    command
}

/// `cargo +nightly` with `args`, without the variables that the outer (stable) `cargo run` exported.
fn nightly_cargo(args: &str) -> Command {
    let mut command = cargo(&format!("+nightly {args}"));
    command.env_remove("CARGO").env_remove("RUSTUP_TOOLCHAIN");
    command
}

/// Runs `command` with inherited stdio; fails when it cannot start or exits non-zero.
fn run(command: &mut Command) -> Result {
    println!("$ {command:?}");
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{command:?} exited with {status}")),
        Err(err) => Err(format!("cannot run {command:?}: {err}")),
    }
}

/// One criterion result: the mean time of `function` in `group`.
#[derive(Debug)]
struct Estimate {
    group: String,
    function: String,
    mean_ns: f64,
}

/// Collects every `<bench>/new/estimates.json` below `dir`, naming each bench relative to `criterion_dir`.
fn collect_estimates(criterion_dir: &Path, dir: &Path, out: &mut Vec<Estimate>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|name| name == "new") {
            out.extend(read_estimate(criterion_dir, &path));
        } else {
            collect_estimates(criterion_dir, &path, out);
        }
    }
}

/// Reads one criterion `new/` directory: the mean from `estimates.json`, the names from
/// `benchmark.json` (criterion sanitizes directory names) or else from the directory path.
///
/// A parameter (`BenchmarkId::new("ours", 8)`) joins the group, so `ours/8` is compared with `std/8`.
fn read_estimate(criterion_dir: &Path, new_dir: &Path) -> Option<Estimate> {
    let estimates = fs::read_to_string(new_dir.join("estimates.json")).ok()?;
    let mean = &estimates[estimates.find("\"mean\"")?..];
    let mean_ns = json_number(mean, "point_estimate")?;
    let names = fs::read_to_string(new_dir.join("benchmark.json"))
        .ok()
        .and_then(|text| {
            let group = json_string(&text, "group_id")?;
            Some((
                group,
                json_string(&text, "function_id"),
                json_string(&text, "value_str"),
            ))
        });
    let (group, function) = match names {
        Some((group, Some(function), Some(value))) => (format!("{group}/{value}"), function),
        Some((group, Some(function), None)) => (group, function),
        Some((group, None, value)) => (group, value.unwrap_or_default()),
        None => {
            let bench_dir = new_dir.parent()?.strip_prefix(criterion_dir).ok()?;
            let mut parts = bench_dir.iter().map(|part| part.to_string_lossy());
            let group = parts.next()?.into_owned();
            (group, parts.collect::<Vec<_>>().join("/"))
        }
    };
    Some(Estimate {
        group,
        function,
        mean_ns,
    })
}

/// Prints a table of every `ours*` function against every other function of its group.
fn print_ratios(estimates: &mut [Estimate], criterion_dir: &Path) {
    estimates.sort_by(|a, b| (&a.group, &a.function).cmp(&(&b.group, &b.function)));
    let is_ours = |estimate: &Estimate| estimate.function.starts_with("ours");
    let mut rows = Vec::new();
    for ours in estimates.iter().filter(|estimate| is_ours(estimate)) {
        let peers = estimates
            .iter()
            .filter(|peer| peer.group == ours.group && !is_ours(peer));
        rows.extend(peers.map(|peer| (ours, peer)));
    }
    if rows.is_empty() {
        println!(
            "no group under {} has both an `ours*` function and a peer",
            criterion_dir.display()
        );
        return;
    }
    let width = |cell: fn(&Estimate) -> &str| {
        rows.iter()
            .map(|(ours, peer)| cell(ours).len().max(cell(peer).len()))
            .max()
            .unwrap_or(0)
    };
    let (group_w, fn_w) = (width(|e| &e.group).max(5), width(|e| &e.function).max(4));
    println!(
        "\n{:<group_w$}  {:<fn_w$}  {:<fn_w$}  {:>12}  {:>12}  {:>9}",
        "group", "ours", "peer", "ours ns", "peer ns", "ours/peer"
    );
    for (ours, peer) in rows {
        println!(
            "{:<group_w$}  {:<fn_w$}  {:<fn_w$}  {:>12.1}  {:>12.1}  {:>9.2}",
            ours.group,
            ours.function,
            peer.function,
            ours.mean_ns,
            peer.mean_ns,
            ours.mean_ns / peer.mean_ns
        );
    }
}

/// The text after `"key":` in `json`, with leading whitespace trimmed.
///
/// A tiny scan, not a parser: it takes the first occurrence of the key, at any depth.
fn json_value<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let after_key = json.find(&format!("\"{key}\""))? + key.len() + 2;
    json[after_key..]
        .trim_start()
        .strip_prefix(':')
        .map(str::trim_start)
}

/// The number stored under `key`.
fn json_number(json: &str, key: &str) -> Option<f64> {
    let value = json_value(json, key)?;
    let len = value.find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)));
    value[..len.unwrap_or(value.len())].parse().ok()
}

/// The string stored under `key` (`None` for `null`); a backslash keeps the next character as is.
fn json_string(json: &str, key: &str) -> Option<String> {
    let mut chars = json_value(json, key)?.strip_prefix('"')?.chars();
    let mut text = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(text),
            '\\' => text.push(chars.next()?),
            c => text.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tidy {
    //! Tidy checks over the library crates' sources, so that plain `cargo test` enforces them.

    use super::*;

    /// Every `.rs` file under `src/` and `tests/` of each `weakref-*` directory, with its text.
    fn library_sources() -> Vec<(String, String)> {
        let root = root();
        let mut paths = Vec::new();
        for crate_dir in weakref_dirs() {
            for sub_dir in ["src", "tests"] {
                rs_files(&root.join(&crate_dir).join(sub_dir), &mut paths);
            }
        }
        paths.sort();
        let read = |path: PathBuf| {
            let text = fs::read_to_string(&path).expect("source file is readable");
            (
                path.strip_prefix(&root)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
                text,
            )
        };
        paths.into_iter().map(read).collect()
    }

    /// The names of the `weakref-*` directories at the workspace root.
    fn weakref_dirs() -> Vec<String> {
        let entries = fs::read_dir(root()).expect("workspace root is readable");
        let names = entries.flatten().filter(|entry| entry.path().is_dir());
        let names = names.map(|entry| entry.file_name().to_string_lossy().into_owned());
        let mut names: Vec<String> = names.filter(|name| name.starts_with("weakref-")).collect();
        names.sort();
        names
    }

    fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for path in entries.flatten().map(|entry| entry.path()) {
            if path.is_dir() {
                rs_files(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }

    fn is_comment(line: &str) -> bool {
        line.trim_start().starts_with("//")
    }

    fn assert_none(what: &str, violations: &[String]) {
        assert!(violations.is_empty(), "{what}:\n{}", violations.join("\n"));
    }

    #[test]
    fn every_library_crate_is_listed_for_miri() {
        let root = root();
        let crates = weakref_dirs()
            .into_iter()
            .filter(|dir| root.join(dir).join("Cargo.toml").is_file());
        let missing: Vec<String> = crates
            .filter(|dir| !LIBRARY_CRATES.contains(&dir.as_str()))
            .collect();
        assert_none(
            "crates missing from xtask's LIBRARY_CRATES (Miri would skip them)",
            &missing,
        );
    }

    #[test]
    fn the_own_miri_lane_is_a_library_crate() {
        assert!(
            LIBRARY_CRATES.contains(&MIRI_OWN_LANE),
            "MIRI_OWN_LANE ({MIRI_OWN_LANE}) must name one of LIBRARY_CRATES"
        );
    }

    #[test]
    fn every_file_starts_with_a_module_doc_line() {
        let mut violations = Vec::new();
        for (path, text) in library_sources() {
            let first = text
                .lines()
                .enumerate()
                .find(|(_, line)| !line.trim().is_empty());
            if !first.is_some_and(|(_, line)| line.trim_start().starts_with("//!")) {
                let line_no = first.map_or(1, |(idx, _)| idx + 1);
                violations.push(format!(
                    "{path}:{line_no}: the first line is not a `//!` line"
                ));
            }
        }
        assert_none("files that do not open with a `//!` line", &violations);
    }

    /// Whether line `idx` or one of the 3 lines of code before it mentions `SAFETY:`.
    /// Comment lines do not count towards the 3, so a long `// SAFETY:` comment still reaches.
    fn has_safety_comment(lines: &[&str], idx: usize) -> bool {
        let mut code_lines = 0;
        for line in lines[..=idx].iter().rev() {
            if line.contains("SAFETY:") {
                return true;
            }
            if !is_comment(line) {
                code_lines += 1;
                if code_lines > 3 {
                    return false;
                }
            }
        }
        false
    }

    #[test]
    fn every_unsafe_block_and_impl_has_a_safety_comment() {
        let mut violations = Vec::new();
        for (path, text) in library_sources() {
            let lines: Vec<&str> = text.lines().collect();
            for (idx, line) in lines.iter().enumerate() {
                // Spelled in two pieces so this line does not match its own search.
                let is_unsafe = line.contains(concat!("unsafe", " {"))
                    || line.contains(concat!("unsafe", " impl"));
                if is_unsafe && !is_comment(line) && !has_safety_comment(&lines, idx) {
                    violations.push(format!("{path}:{}: no `// SAFETY:` comment", idx + 1));
                }
            }
        }
        assert_none(
            "`unsafe` blocks and impls without a `// SAFETY:` comment",
            &violations,
        );
    }

    #[test]
    fn every_pub_unsafe_fn_has_a_safety_section() {
        let mut violations = Vec::new();
        for (path, text) in library_sources() {
            let lines: Vec<&str> = text.lines().collect();
            for (idx, line) in lines.iter().enumerate() {
                let code = line.trim_start();
                if !(code.starts_with("pub") && code.contains("unsafe fn ")) {
                    continue;
                }
                let above = lines[..idx].iter().rev().map(|line| line.trim_start());
                let mut doc =
                    above.take_while(|line| line.starts_with("//") || line.starts_with("#["));
                if !doc.any(|line| line.starts_with("/// # Safety")) {
                    violations.push(format!("{path}:{}: no `/// # Safety` section", idx + 1));
                }
            }
        }
        assert_none(
            "`pub unsafe fn`s without a `# Safety` doc section",
            &violations,
        );
    }

    #[test]
    fn json_scan_reads_criterion_files() {
        let estimates = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.5,
            "upper_bound":2.5},"point_estimate":2.0e1,"standard_error":0.1},"median":{"point_estimate":7.0}}"#;
        let mean = &estimates[estimates.find("\"mean\"").unwrap()..];
        assert_eq!(json_number(mean, "point_estimate"), Some(20.0));
        let benchmark =
            r#"{"group_id":"upgrade \"hit\"","function_id":"weak-table","value_str":null}"#;
        assert_eq!(
            json_string(benchmark, "group_id").as_deref(),
            Some("upgrade \"hit\"")
        );
        assert_eq!(
            json_string(benchmark, "function_id").as_deref(),
            Some("weak-table")
        );
        assert_eq!(json_string(benchmark, "value_str"), None);
    }
}
