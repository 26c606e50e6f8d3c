//! Python's `WeakKeyDictionary`, `WeakValueDictionary` and `WeakSet` for Rust (being written).
#![deny(missing_docs)]
