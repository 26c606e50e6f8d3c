//! Memory held by 100,000 dead 1 KiB objects that each still have one live weak handle: weakref-core vs std.
//!
//! A counting `#[global_allocator]` (a wrapper around `System`) keeps the net number of bytes allocated
//! and not yet freed. Each case creates `N` objects of `[u8; 1024]`, keeps one weak handle to each in a
//! `Vec`, drops every strong handle, and reports the net bytes still live at that point (the `Vec` of
//! handles included, on both sides). weakref-core's slot table is global and only grows (its slots are
//! reused, never freed), so its growth counts as held memory (its static first part too).
//!
//! Each case runs in a fresh child process (this same executable, selected by an environment
//! variable), because the slot table is shared by both flavours and by everything the process did
//! before: a fresh process shows the table's whole growth ("cold"). Each child then repeats the
//! measurement once in the same process ("warm": the table has the slots already, and reuses them).

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Objects per case.
const N: usize = 100_000;
/// The environment variable that makes this executable a child running one case.
const CASE_VAR: &str = "WEAKREF_BENCH_MEMORY_CASE";
/// The cases, in the order they are printed: (flavour, side).
const CASES: [(&str, &str); 4] = [
    ("unsync", "ours"),
    ("unsync", "std"),
    ("sync", "ours"),
    ("sync", "std"),
];

/// Net bytes allocated through the global allocator and not yet freed.
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// `System`, counting net live bytes in [`LIVE`].
struct Counting;

fn add_live(bytes: usize) {
    LIVE.fetch_add(
        isize::try_from(bytes).unwrap_or(isize::MAX),
        Ordering::Relaxed,
    );
}

fn sub_live(bytes: usize) {
    LIVE.fetch_sub(
        isize::try_from(bytes).unwrap_or(isize::MAX),
        Ordering::Relaxed,
    );
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees hold; the only addition is a relaxed counter update, which neither allocates nor panics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add_live(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add_live(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        sub_live(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            sub_live(layout.size());
            add_live(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// One measurement: the net bytes live after `N` objects died with a weak handle each kept.
/// `make` creates an object and returns (strong handle, weak handle); `dead` tells a handle is dead.
fn held<S, W>(make: impl Fn() -> (S, W), dead: impl Fn(&W) -> bool) -> isize {
    let before = live();
    let static_before = weakref_core::__testing::static_slot_bytes();
    let mut weaks: Vec<W> = Vec::with_capacity(N);
    let mut strongs: Vec<S> = Vec::with_capacity(N);
    for _ in 0..N {
        let (s, w) = make();
        strongs.push(s);
        weaks.push(w);
    }
    drop(strongs);
    // The first 2^20 slots are a static array the allocator never sees: their growth counts too.
    let static_growth = weakref_core::__testing::static_slot_bytes() - static_before;
    let held = live() - before + isize::try_from(static_growth).unwrap_or(isize::MAX);
    assert!(weaks.iter().all(&dead), "an object is still alive");
    drop(weaks);
    held
}

type Kib = [u8; 1024];

fn run_case(flavour: &str, side: &str) -> isize {
    use std::hint::black_box;
    match (flavour, side) {
        ("unsync", "ours") => held(
            || {
                let o = weakref_core::unsync::Obj::new(black_box([1u8; 1024]));
                let w = weakref_core::unsync::Obj::downgrade(&o);
                (o, w)
            },
            |w: &weakref_core::unsync::Weak<Kib>| w.upgrade().is_none(),
        ),
        ("unsync", "std") => held(
            || {
                let o = std::rc::Rc::new(black_box([1u8; 1024]));
                let w = std::rc::Rc::downgrade(&o);
                (o, w)
            },
            |w: &std::rc::Weak<Kib>| w.upgrade().is_none(),
        ),
        ("sync", "ours") => held(
            || {
                let o = weakref_core::sync::Obj::new(black_box([1u8; 1024]));
                let w = weakref_core::sync::Obj::downgrade(&o);
                (o, w)
            },
            |w: &weakref_core::sync::Weak<Kib>| w.upgrade().is_none(),
        ),
        ("sync", "std") => held(
            || {
                let o = std::sync::Arc::new(black_box([1u8; 1024]));
                let w = std::sync::Arc::downgrade(&o);
                (o, w)
            },
            |w: &std::sync::Weak<Kib>| w.upgrade().is_none(),
        ),
        _ => panic!("unknown case {flavour}/{side}"),
    }
}

/// The child: runs one case twice (cold, then warm) and prints `case <cold> <warm>`.
fn child(case: &str) {
    let (flavour, side) = case.split_once('/').expect("case is flavour/side");
    let cold = run_case(flavour, side);
    let warm = run_case(flavour, side);
    println!("case {cold} {warm}");
}

fn mb(bytes: isize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn main() {
    if let Ok(case) = std::env::var(CASE_VAR) {
        child(&case);
        return;
    }
    let exe = std::env::current_exe().expect("own executable");
    let mut results = Vec::new();
    for (flavour, side) in CASES {
        let out = Command::new(&exe)
            .env(CASE_VAR, format!("{flavour}/{side}"))
            .output()
            .expect("run the memory child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "memory child {flavour}/{side} failed: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("case "))
            .expect("child printed its result");
        let mut nums = line
            .split_whitespace()
            .map(|n| n.parse::<isize>().expect("a number"));
        let (cold, warm) = (nums.next().expect("cold"), nums.next().expect("warm"));
        results.push(((flavour, side), cold, warm));
    }
    let get = |flavour: &str, side: &str| {
        results
            .iter()
            .find(|((f, s), _, _)| *f == flavour && *s == side)
            .map(|&(_, cold, warm)| (cold, warm))
            .expect("case measured")
    };
    let handles = N * std::mem::size_of::<weakref_core::unsync::Weak<Kib>>();
    for (flavour, label, peer) in [
        ("unsync", "memory", "std"),
        ("sync", "memory (sync)", "std"),
    ] {
        let (ours, ours_warm) = get(flavour, "ours");
        let (std_cold, std_warm) = get(flavour, peer);
        println!(
            "{label}: {N} dead 1 KiB objects with a live Weak each: ours {}, std {}, ratio {:.3}",
            mb(ours),
            mb(std_cold),
            ours as f64 / std_cold as f64
        );
        println!(
            "{label}, warm (slot table already grown in this process): ours {}, std {}, ratio {:.3}",
            mb(ours_warm),
            mb(std_warm),
            ours_warm as f64 / std_warm as f64
        );
    }
    println!(
        "memory: both sides include the Vec of {N} weak handles ({} for ours, {} for std's); \
         ours includes the slot table's growth (cold) and the slot caches",
        mb(isize::try_from(handles).unwrap_or(isize::MAX)),
        mb(isize::try_from(N * std::mem::size_of::<std::rc::Weak<Kib>>()).unwrap_or(isize::MAX)),
    );
}
