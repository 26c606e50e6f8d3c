//! Integration tests of `weakref-proxy`: one module per area, each behaviour written once for both flavours.

#[cfg(not(weakref_loom))]
mod helpers;

#[cfg(not(weakref_loom))]
mod pinning;
#[cfg(not(weakref_loom))]
mod proxy;
#[cfg(not(weakref_loom))]
mod static_checks;
#[cfg(not(weakref_loom))]
mod sync_threads;

#[cfg(weakref_loom)]
mod loom;
