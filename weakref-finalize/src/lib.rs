//! Python's `weakref.finalize` for Rust (being written).
#![deny(missing_docs)]
