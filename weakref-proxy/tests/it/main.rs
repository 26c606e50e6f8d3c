//! Integration tests of `weakref-proxy`.
