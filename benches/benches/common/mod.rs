//! What the bench targets share: the criterion settings and `sink`.
//!
//! Each bench target compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;

/// Consumes a result so the optimizer cannot drop the work, then drops it.
#[inline(always)]
pub fn sink<T>(value: T) {
    drop(black_box(value));
}

/// The criterion settings of every bench target: short warm-up and measurement (the groups are
/// many and the machine is shared), overridable from the command line.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}
