//! Integration tests of `weakref-collections`: one module per area, behaviours written once
//! for both flavours.

#[cfg(not(weakref_loom))]
mod helpers;

#[cfg(not(weakref_loom))]
mod behaviour;
