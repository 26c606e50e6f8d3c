//! Integration tests of `weakref-finalize`.
