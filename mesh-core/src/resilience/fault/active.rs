//! The live count behind Envoy's `max_active_faults`: at most so many
//! requests under an injected fault at once, so a fault meant to slow a
//! few requests cannot pile up unbounded delayed requests in the caller.
//!
//! Envoy checks the count before drawing and adds to it after, a "fuzzy"
//! limit that may overshoot; here a fault is admitted with one atomic
//! compare-and-add, so the cap is exact. Envoy keeps one count per filter
//! (all routes of a listener) and compares it with each route's own
//! maximum; here each policy counts its own faults, shared by the routes
//! that inherit it from their virtual host.

use std::sync::atomic::{AtomicU32, Ordering};

/// How many requests are under a fault of one policy, and the cap.
#[derive(Debug)]
pub struct ActiveFaults {
    max: u32,
    active: AtomicU32,
}

impl ActiveFaults {
    /// A count of none, capped at `max` (0: no fault is ever injected).
    pub fn new(max: u32) -> Self {
        Self {
            max,
            active: AtomicU32::new(0),
        }
    }

    /// The cap.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Requests under a fault now.
    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    /// Counts one more faulted request, unless the cap is reached.
    pub fn try_enter(&self) -> Option<ActiveFault<'_>> {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                // Lazily: `n + 1` would overflow at a cap of `u32::MAX`.
                (n < self.max).then(|| n + 1)
            })
            .ok()
            .map(|_| ActiveFault(&self.active))
    }
}

/// One request under a fault; dropping it ends the fault.
#[derive(Debug)]
#[must_use = "the fault stops counting as active when this is dropped"]
pub struct ActiveFault<'a>(&'a AtomicU32);

impl Drop for ActiveFault<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_exact_and_released_on_drop() {
        let faults = ActiveFaults::new(2);
        let a = faults.try_enter();
        let b = faults.try_enter();
        assert!(a.is_some() && b.is_some());
        assert!(faults.try_enter().is_none());
        assert_eq!(faults.active(), 2);
        drop(a);
        assert_eq!(faults.active(), 1);
        assert!(faults.try_enter().is_some());
        assert!(ActiveFaults::new(0).try_enter().is_none());
    }
}
