//! Shared test helpers: loop scaling, drop counting, keys with an identity.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Picks the native loop count, or the small one under Miri.
pub const fn scaled(native: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

/// Counts drops of [`Counted`] values.
#[derive(Clone, Default, Debug)]
pub struct Drops(Arc<AtomicUsize>);

impl Drops {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    pub fn counted(&self, id: u32) -> Counted {
        Counted {
            id,
            drops: self.clone(),
        }
    }
}

/// A value that counts its drop; equal and hashed by `id`. `Send + Sync`.
#[derive(Debug)]
pub struct Counted {
    pub id: u32,
    drops: Drops,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.drops.counted(self.id)
    }
}

impl PartialEq for Counted {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Counted {}

impl Hash for Counted {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A key equal to others of the same `value` but with its own `tag`: shows which key object a
/// map kept.
#[derive(Clone, Debug)]
pub struct Tagged {
    pub value: u32,
    pub tag: &'static str,
}

impl PartialEq for Tagged {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Tagged {}

impl Hash for Tagged {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}
