//! Integration tests of `weakref-finalize`: one module per area, each behaviour written once for
//! both flavours.

#[cfg(not(weakref_loom))]
mod helpers;

#[cfg(not(weakref_loom))]
mod exit;
#[cfg(not(weakref_loom))]
mod finalize;
#[cfg(not(weakref_loom))]
mod static_checks;
#[cfg(not(weakref_loom))]
mod sync_threads;
#[cfg(not(weakref_loom))]
mod thread_end;

#[cfg(weakref_loom)]
mod loom;
