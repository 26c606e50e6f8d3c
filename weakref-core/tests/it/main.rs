//! Integration tests of `weakref-core`: one module per area, each behaviour written once for both flavours.

#[cfg(not(weakref_loom))]
mod helpers;

#[cfg(not(weakref_loom))]
mod death;
#[cfg(not(weakref_loom))]
mod error;
#[cfg(not(weakref_loom))]
mod functions;
#[cfg(not(weakref_loom))]
mod hooks;
#[cfg(not(weakref_loom))]
mod method;
#[cfg(not(weakref_loom))]
mod model;
#[cfg(not(weakref_loom))]
mod obj;
#[cfg(not(weakref_loom))]
mod static_checks;
#[cfg(not(weakref_loom))]
mod sync_threads;
#[cfg(not(weakref_loom))]
mod unraisable;
#[cfg(not(weakref_loom))]
mod weak;
#[cfg(not(weakref_loom))]
mod weakref;

#[cfg(weakref_loom)]
mod loom;
