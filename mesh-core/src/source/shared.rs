//! Sharing equal endpoint attributes across endpoints, load assignments
//! and updates.
//!
//! A mesh's endpoints carry few distinct label sets (`version: v1`, ...)
//! and localities, but a label map per endpoint would cost more than the
//! endpoint itself (a `BTreeMap` allocates a whole node for its first
//! entry). Converters therefore hand out one shared value per distinct
//! set: [`labels`] and [`locality`] look the value up in a process-wide
//! table of weak references, so the table keeps nothing alive, and a
//! value no endpoint uses any more is freed (its slot in the table is
//! swept as the table grows). The lock is taken only while converting
//! configuration, never on the request path.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::config::{Labels, Locality};

/// The shared label set equal to `labels`.
pub(crate) fn labels(labels: Labels) -> Arc<Labels> {
    static TABLE: OnceLock<Mutex<Interner<Labels>>> = OnceLock::new();
    intern(&TABLE, labels)
}

/// The shared locality equal to `locality`.
pub(crate) fn locality(locality: Locality) -> Arc<Locality> {
    static TABLE: OnceLock<Mutex<Interner<Locality>>> = OnceLock::new();
    intern(&TABLE, locality)
}

fn intern<T: Hash + Eq>(table: &OnceLock<Mutex<Interner<T>>>, value: T) -> Arc<T> {
    let table = table.get_or_init(|| Mutex::new(Interner::default()));
    // A panic while holding the lock leaves the table consistent (at worst
    // a dead slot), so a poisoned lock is still usable.
    let mut table = table.lock().unwrap_or_else(|e| e.into_inner());
    table.intern(value)
}

/// Weak references to the values handed out, by hash.
#[derive(Debug)]
struct Interner<T> {
    hasher: RandomState,
    buckets: HashMap<u64, Vec<Weak<T>>>,
    /// Slots in `buckets`, live or dead.
    slots: usize,
    /// Sweep dead slots when `slots` reaches this.
    sweep_at: usize,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            buckets: HashMap::new(),
            slots: 0,
            sweep_at: 64,
        }
    }
}

impl<T: Hash + Eq> Interner<T> {
    fn intern(&mut self, value: T) -> Arc<T> {
        let hash = self.hasher.hash_one(&value);
        let bucket = self.buckets.entry(hash).or_default();
        let before = bucket.len();
        let mut found = None;
        bucket.retain(|weak| match weak.upgrade() {
            Some(shared) => {
                if found.is_none() && *shared == value {
                    found = Some(shared);
                }
                true
            }
            None => false,
        });
        self.slots -= before - bucket.len();
        if let Some(shared) = found {
            return shared;
        }
        let shared = Arc::new(value);
        bucket.push(Arc::downgrade(&shared));
        self.slots += 1;
        if self.slots >= self.sweep_at {
            self.sweep();
        }
        shared
    }

    /// Drops the slots of values no longer used.
    fn sweep(&mut self) {
        self.buckets.retain(|_, bucket| {
            bucket.retain(|weak| weak.strong_count() > 0);
            !bucket.is_empty()
        });
        self.slots = self.buckets.values().map(Vec::len).sum();
        self.sweep_at = (self.slots * 2).max(64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(v: &str) -> Labels {
        Labels::from([("version".to_owned(), v.to_owned())])
    }

    #[test]
    fn equal_values_are_shared() {
        let a = labels(version("shared-test-1"));
        let b = labels(version("shared-test-1"));
        let c = labels(version("shared-test-2"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        let zone = |z: &str| Locality {
            zone: z.into(),
            ..Default::default()
        };
        assert!(Arc::ptr_eq(
            &locality(zone("shared-test")),
            &locality(zone("shared-test"))
        ));
    }

    #[test]
    fn unused_values_are_freed_and_swept() {
        let mut table = Interner::default();
        let kept = table.intern(version("kept"));
        for i in 0..1_000 {
            drop(table.intern(version(&i.to_string())));
        }
        assert!(table.slots < 130, "{} slots", table.slots);
        let again = table.intern(version("kept"));
        assert!(Arc::ptr_eq(&kept, &again));
        drop((kept, again));
        let fresh = table.intern(version("kept"));
        assert_eq!(Arc::strong_count(&fresh), 1);
    }
}
