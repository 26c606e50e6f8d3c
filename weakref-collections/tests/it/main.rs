//! Integration tests of `weakref-collections`.
