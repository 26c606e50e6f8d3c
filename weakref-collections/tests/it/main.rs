//! Integration tests of `weakref-collections`: one module per area, behaviours written once
//! for both flavours.

#[cfg(not(weakref_loom))]
mod helpers;

#[cfg(not(weakref_loom))]
mod behaviour;
#[cfg(not(weakref_loom))]
mod exact_len;
#[cfg(not(weakref_loom))]
mod model;
#[cfg(not(weakref_loom))]
mod python;
#[cfg(not(weakref_loom))]
mod static_checks;
#[cfg(not(weakref_loom))]
mod sync_threads;

#[cfg(weakref_loom)]
mod loom;
