//! The read side of ejection, for the picker's hot path.
//!
//! A picker asks "is this endpoint ejected?" for every candidate of every
//! request, so the answer is one relaxed atomic load, with no lock and no
//! allocation; the detector flips the flags under its own lock, rarely.
//! The view is a cheap clone (`Arc`) that a snapshot can hold next to its
//! pickers.
//!
//! Whether to honour ejections is the picker's decision: Envoy ignores
//! them when too few endpoints remain (the panic threshold, 50 % by
//! default) and balances over all endpoints instead, so the view exposes
//! the healthy fraction rather than deciding.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Debug)]
struct Flags {
    ejected: Box<[AtomicBool]>,
    count: AtomicUsize,
}

/// Which endpoints of a cluster are ejected right now.
#[derive(Debug, Clone)]
pub struct EjectionView(Arc<Flags>);

impl EjectionView {
    pub(super) fn new(endpoints: usize) -> Self {
        Self(Arc::new(Flags {
            ejected: (0..endpoints).map(|_| AtomicBool::new(false)).collect(),
            count: AtomicUsize::new(0),
        }))
    }

    /// Whether `endpoint` is ejected; `false` for an index out of range.
    #[inline]
    pub fn is_ejected(&self, endpoint: usize) -> bool {
        self.0
            .ejected
            .get(endpoint)
            .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// How many endpoints are ejected.
    #[inline]
    pub fn ejected_count(&self) -> usize {
        self.0.count.load(Ordering::Relaxed)
    }

    /// How many endpoints the view covers.
    pub fn len(&self) -> usize {
        self.0.ejected.len()
    }

    /// Whether the view covers no endpoint.
    pub fn is_empty(&self) -> bool {
        self.0.ejected.is_empty()
    }

    /// The share of endpoints not ejected, in `0.0..=1.0` (1.0 for an empty
    /// cluster). A picker applying Envoy's panic threshold ignores
    /// ejections while this is below `panic_threshold / 100`.
    pub fn healthy_fraction(&self) -> f64 {
        let n = self.len();
        if n == 0 {
            return 1.0;
        }
        let ejected = self.ejected_count().min(n);
        (n - ejected) as f64 / n as f64
    }

    /// Marks `endpoint` ejected or not; only the detector, under its lock.
    pub(super) fn set(&self, endpoint: usize, ejected: bool) {
        let Some(flag) = self.0.ejected.get(endpoint) else {
            return;
        };
        if flag.swap(ejected, Ordering::Relaxed) != ejected {
            if ejected {
                self.0.count.fetch_add(1, Ordering::Relaxed);
            } else {
                self.0.count.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_count_agree_and_out_of_range_is_not_ejected() {
        let v = EjectionView::new(4);
        v.set(1, true);
        v.set(1, true);
        v.set(3, true);
        v.set(9, true);
        assert!(v.is_ejected(1) && v.is_ejected(3) && !v.is_ejected(0));
        assert!(!v.is_ejected(9));
        assert_eq!(v.ejected_count(), 2);
        assert_eq!(v.healthy_fraction(), 0.5);
        v.set(1, false);
        assert_eq!(v.ejected_count(), 1);
        assert_eq!(EjectionView::new(0).healthy_fraction(), 1.0);
    }
}
