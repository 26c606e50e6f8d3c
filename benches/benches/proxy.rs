//! Criterion benches of weakref-proxy: `Deref` through a live, pinned proxy against a plain
//! `Obj` deref and against `Weak::upgrade` + use (group `<flavour>/proxy_deref`, function `ours`
//! is the proxy; `cargo xtask bench` prints the ratios).

use std::hint::black_box;

use weakref_core::{sync, unsync};

mod common;

macro_rules! proxy_group {
    ($c:expr, $flavour:literal, $core:ident, $proxy:path) => {{
        use $proxy as flavour_proxy;
        let obj = $core::Obj::new(42u64);
        let weak = $core::Obj::downgrade(&obj);
        let proxy = flavour_proxy::Proxy::new(&obj);
        // The first `Deref` pins this handle; the measured ones take the pinned path.
        assert_eq!(*proxy, 42);
        let mut g = $c.benchmark_group(concat!($flavour, "/proxy_deref"));
        g.bench_function("ours", |b| b.iter(|| **black_box(&proxy)));
        g.bench_function("obj-deref", |b| b.iter(|| **black_box(&obj)));
        g.bench_function("weak-upgrade-use", |b| {
            b.iter(|| black_box(&weak).upgrade().map(|o| *o))
        });
        g.finish();
    }};
}

fn main() {
    let mut c = common::criterion();
    proxy_group!(c, "unsync", unsync, weakref_proxy::unsync);
    proxy_group!(c, "sync", sync, weakref_proxy::sync);
    c.final_summary();
}
