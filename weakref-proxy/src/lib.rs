//! Python's `weakref.proxy` for Rust (being written).
#![deny(missing_docs)]
