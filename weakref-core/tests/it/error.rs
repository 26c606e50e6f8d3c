//! `ReferenceError`: its traits and Python's message.

use std::error::Error;

use weakref_core::ReferenceError;

use crate::helpers::hash_of;

#[test]
fn display_is_pythons_message() {
    assert_eq!(
        ReferenceError.to_string(),
        "weakly-referenced object no longer exists"
    );
}

#[test]
fn is_a_std_error_without_a_source() {
    let boxed: Box<dyn Error + Send + Sync + 'static> = Box::new(ReferenceError);
    assert_eq!(
        boxed.to_string(),
        "weakly-referenced object no longer exists"
    );
    assert!(boxed.source().is_none());
    assert!(boxed.downcast_ref::<ReferenceError>().is_some());
}

#[test]
fn is_a_plain_copyable_comparable_hashable_value() {
    let error = ReferenceError;
    let copy = error;
    #[allow(clippy::clone_on_copy)]
    let clone = error.clone();
    assert_eq!(copy, clone);
    fn default_of<D: Default>() -> D {
        D::default()
    }
    let default: ReferenceError = default_of();
    assert_eq!(default, error);
    assert_eq!(hash_of(&copy), hash_of(&default));
    assert!(!format!("{error:?}").is_empty());
    let result: Result<(), ReferenceError> = Err(error);
    assert_eq!(result, Err(ReferenceError));
}
