//! Compile-time checks: which handles cross threads.

use std::rc::Rc;

use static_assertions::{assert_impl_all, assert_not_impl_any};

assert_impl_all!(weakref_finalize::sync::Finalizer<i32>: Send, Sync, Clone, std::fmt::Debug);
assert_impl_all!(weakref_finalize::sync::Finalizer<String, Rc<u8>>: Send, Sync);
assert_not_impl_any!(weakref_finalize::sync::Finalizer<Rc<u8>>: Send, Sync);
assert_not_impl_any!(weakref_finalize::sync::Finalizer<std::cell::Cell<u8>>: Send, Sync);
assert_impl_all!(weakref_finalize::unsync::Finalizer<i32>: Clone, std::fmt::Debug);
assert_not_impl_any!(weakref_finalize::unsync::Finalizer<i32>: Send, Sync);

#[test]
fn detached_functions_keep_their_flavour() {
    fn is_send<X: Send>(_: &X) {}
    // Creates finalizers: serialized with the tests that compare `pending()`.
    let _serial = crate::helpers::serial();
    let obj = weakref_core::sync::Obj::new(1);
    let f = weakref_finalize::sync::finalize(&obj, || 5);
    let (_obj, func) = f.detach().unwrap();
    is_send(&func);
    let func: Box<dyn FnOnce() -> i32 + Send> = func;
    assert_eq!(func(), 5);

    let obj = weakref_core::unsync::Obj::new(1);
    let not_send = Rc::new(5);
    let f = weakref_finalize::unsync::finalize(&obj, move || *not_send);
    let (_obj, func): (_, Box<dyn FnOnce() -> i32>) = f.detach().unwrap();
    assert_eq!(func(), 5);
}
