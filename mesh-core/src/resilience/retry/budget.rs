//! The per-cluster cap on retries in flight, so retries can never amplify
//! load beyond a fixed share of it.
//!
//! A backend that fails every request would otherwise see each request
//! `1 + num_retries` times, exactly when it can least afford it. Envoy
//! bounds this per cluster in two ways, and so do we:
//!
//! - **Retry budget** (`circuit_breakers.thresholds.retry_budget`, on by
//!   default here): retries in flight may not exceed
//!   `max(min_retry_concurrency, budget_percent · active requests)`, which
//!   scales with traffic. Defaults are Envoy's: 20 % and 3.
//! - **`max_retries`** (the older breaker threshold, Envoy's default 3): a
//!   fixed cap on retries in flight, used when a cluster configures no
//!   budget (`RetryLimit::MaxRetries`).
//!
//! A retry holds a permit from the moment it is scheduled (its backoff
//! included) until its own outcome is known, as Envoy's `RetryStateImpl`
//! does; hedges hold one too.
//!
//! Deviation: Envoy's "active requests" are upstream requests, retries
//! included; we count the logical requests ([`RetryBudgetState::request_started`]
//! or a live `RetryState`), which makes the cap slightly tighter.
//!
//! Everything is two relaxed atomics and a compare-and-swap loop: no lock,
//! no allocation but the `Arc` clone a standalone [`RetryPermit`] or
//! [`RequestGuard`] holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::config::CircuitBreakers;

/// Envoy's default `max_retries` breaker threshold.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

pub use crate::config::RetryBudget;

/// How a cluster caps its retries in flight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryLimit {
    /// A share of active requests (Envoy's `retry_budget`).
    Budget(RetryBudget),
    /// A fixed number (Envoy's `max_retries` threshold).
    MaxRetries(u32),
}

impl RetryLimit {
    /// The cap a cluster's thresholds set: the budget if any, else
    /// `max_retries`.
    pub fn of(breakers: &CircuitBreakers) -> Self {
        breakers
            .retry_budget
            .map_or(Self::MaxRetries(breakers.max_retries), Self::Budget)
    }
}

impl Default for RetryLimit {
    /// The default retry budget (20 %, at least 3).
    fn default() -> Self {
        Self::Budget(RetryBudget::default())
    }
}

/// The live retry accounting of one cluster, shared by its requests.
#[derive(Debug)]
pub struct RetryBudgetState {
    /// Parts per million of active requests (`None`: fixed cap).
    per_million: Option<u64>,
    /// The floor (budget) or the fixed cap (`max_retries`).
    floor: u32,
    active_requests: AtomicU32,
    active_retries: AtomicU32,
}

impl RetryBudgetState {
    /// Accounting under `limit`; a budget percentage outside 0..=100 (or
    /// NaN) is clamped.
    pub fn new(limit: RetryLimit) -> Self {
        let (per_million, floor) = match limit {
            RetryLimit::Budget(b) => {
                let percent = if b.budget_percent.is_nan() {
                    0.0
                } else {
                    b.budget_percent.clamp(0.0, 100.0)
                };
                (
                    Some((percent * 10_000.0).round() as u64),
                    b.min_retry_concurrency,
                )
            }
            RetryLimit::MaxRetries(max) => (None, max),
        };
        Self {
            per_million,
            floor,
            active_requests: AtomicU32::new(0),
            active_retries: AtomicU32::new(0),
        }
    }

    /// Counts a request as active until the guard drops. (A `RetryState`
    /// counts its request itself; this is for callers without one.)
    pub fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.enter_request();
        RequestGuard(Arc::clone(self))
    }

    /// A permit for one retry (or hedge) if the cap allows one more in
    /// flight; the permit releases on drop.
    pub fn try_acquire_retry(self: &Arc<Self>) -> Option<RetryPermit> {
        self.acquire().then(|| RetryPermit(Arc::clone(self)))
    }

    /// Requests counted as active.
    pub fn active_requests(&self) -> u32 {
        self.active_requests.load(Ordering::Relaxed)
    }

    /// Retries holding a permit.
    pub fn active_retries(&self) -> u32 {
        self.active_retries.load(Ordering::Relaxed)
    }

    /// The cap on retries in flight right now.
    pub fn max_active_retries(&self) -> u32 {
        match self.per_million {
            None => self.floor,
            Some(ppm) => {
                let share = u64::from(self.active_requests()) * ppm / 1_000_000;
                u32::try_from(share).unwrap_or(u32::MAX).max(self.floor)
            }
        }
    }

    /// Counts a request, only when the cap depends on requests.
    pub(super) fn enter_request(&self) -> bool {
        if self.per_million.is_some() {
            self.active_requests.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }

    pub(super) fn exit_request(&self) {
        self.active_requests.fetch_sub(1, Ordering::Relaxed);
    }

    /// Takes one retry slot if the cap allows.
    pub(super) fn acquire(&self) -> bool {
        let cap = self.max_active_retries();
        self.active_retries
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < cap).then(|| n + 1)
            })
            .is_ok()
    }

    /// Gives `n` retry slots back.
    pub(super) fn release(&self, n: u32) {
        if n > 0 {
            self.active_retries.fetch_sub(n, Ordering::Relaxed);
        }
    }
}

impl Default for RetryBudgetState {
    /// The default budget (20 %, at least 3).
    fn default() -> Self {
        Self::new(RetryLimit::default())
    }
}

/// One retry in flight; dropping it frees its slot.
#[derive(Debug)]
#[must_use = "the retry slot is released when the permit drops"]
pub struct RetryPermit(Arc<RetryBudgetState>);

impl Drop for RetryPermit {
    fn drop(&mut self) {
        self.0.release(1);
    }
}

/// One active request; dropping it ends the request.
#[derive(Debug)]
#[must_use = "the request stops counting when the guard drops"]
pub struct RequestGuard(Arc<RetryBudgetState>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if self.0.per_million.is_some() {
            self.0.exit_request();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(percent: f64, min: u32) -> Arc<RetryBudgetState> {
        Arc::new(RetryBudgetState::new(RetryLimit::Budget(RetryBudget {
            budget_percent: percent,
            min_retry_concurrency: min,
        })))
    }

    #[test]
    fn default_is_twenty_percent_with_three_minimum() {
        let state = Arc::new(RetryBudgetState::default());
        assert_eq!(state.max_active_retries(), 3);
        let _requests: Vec<_> = (0..100).map(|_| state.request_started()).collect();
        assert_eq!(state.max_active_retries(), 20);
    }

    #[test]
    fn min_retry_concurrency_applies_with_few_requests() {
        let state = budget(20.0, 3);
        let _r = state.request_started();
        let permits: Vec<_> = (0..5).filter_map(|_| state.try_acquire_retry()).collect();
        assert_eq!(permits.len(), 3);
    }

    #[test]
    fn budget_scales_with_active_requests_and_truncates() {
        let state = budget(20.0, 0);
        let guards: Vec<_> = (0..14).map(|_| state.request_started()).collect();
        assert_eq!(state.max_active_retries(), 2);
        drop(guards);
        assert_eq!(state.active_requests(), 0);
        assert_eq!(state.max_active_retries(), 0);
        assert!(state.try_acquire_retry().is_none());
    }

    #[test]
    fn permit_release_on_drop() {
        let state = budget(0.0, 1);
        let permit = state.try_acquire_retry().expect("one allowed");
        assert_eq!(state.active_retries(), 1);
        assert!(state.try_acquire_retry().is_none());
        drop(permit);
        assert_eq!(state.active_retries(), 0);
        assert!(state.try_acquire_retry().is_some());
    }

    #[test]
    fn max_retries_is_a_fixed_cap_without_request_counting() {
        let state = Arc::new(RetryBudgetState::new(RetryLimit::MaxRetries(2)));
        let _requests: Vec<_> = (0..100).map(|_| state.request_started()).collect();
        assert_eq!(state.active_requests(), 0);
        let permits: Vec<_> = (0..5).filter_map(|_| state.try_acquire_retry()).collect();
        assert_eq!(permits.len(), 2);
        assert_eq!(state.max_active_retries(), DEFAULT_MAX_RETRIES - 1);
    }

    #[test]
    fn out_of_range_percent_is_rejected_by_validate_and_clamped_by_state() {
        let bad = RetryBudget {
            budget_percent: 150.0,
            ..RetryBudget::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "budget_percent");
        assert!(
            RetryBudget {
                budget_percent: f64::NAN,
                ..bad
            }
            .validate()
            .is_err()
        );
        assert!(RetryBudget::default().validate().is_ok());
        let state = budget(150.0, 0);
        let _requests: Vec<_> = (0..10).map(|_| state.request_started()).collect();
        assert_eq!(state.max_active_retries(), 10);
        assert_eq!(budget(f64::NAN, 1).max_active_retries(), 1);
    }

    #[test]
    fn concurrent_acquires_never_pass_the_cap() {
        let state = budget(0.0, 8);
        std::thread::scope(|s| {
            for _ in 0..4 {
                let state = &state;
                s.spawn(move || {
                    for _ in 0..2_000 {
                        if let Some(p) = state.try_acquire_retry() {
                            assert!(state.active_retries() <= 8);
                            drop(p);
                        }
                    }
                });
            }
        });
        assert_eq!(state.active_retries(), 0);
    }
}
