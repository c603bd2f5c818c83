//! Retry decisions, sans-IO: Envoy's retry semantics as plain functions and
//! one small state machine, with time and randomness supplied by the
//! caller.
//!
//! Retrying hides transient failures, but done naively it turns a
//! struggling backend into a dead one: every failure multiplies the load.
//! So each rule here either decides *whether* another attempt may help or
//! bounds *how much* extra load retries may add:
//!
//! - [`is_retriable`]: which outcomes `retry_on` covers, with
//!   the edge cases of Envoy's implementation (resets count as 5xx, local
//!   overload never retried, `x-envoy-ratelimited`, gRPC statuses, gRFC A6
//!   "do not retry" pushback).
//! - [`backoff_delay`]: fully jittered, capped exponential backoff (plus
//!   linear and constant), overflow-free for any retry index.
//! - [`parse_retry_after`] / [`parse_grpc_pushback`]: the server's own
//!   delay, which replaces the computed one.
//! - [`RetryBudgetState`]: the per-cluster cap on retries in flight
//!   (Envoy's retry budget, on by default at 20 % with a floor of 3, or
//!   the fixed `max_retries` threshold), lock-free.
//! - [`HedgePolicy`]: backup attempts after a delay, inside the same
//!   allowances.
//! - [`RetryState`]: the attempt loop of one request. It applies all of the
//!   above in Envoy's order, stops before the route deadline, remembers the
//!   hosts that failed so the picker can go elsewhere, and counts retries
//!   for metrics. A request that succeeds at once costs no allocation.
//!
//! # Use
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use mesh_core::config::{RetryOn, RetryPolicy};
//! use mesh_core::resilience::retry::{
//!     DoneReason, HostId, Next, Outcome, RetryBudgetState, RetryState,
//! };
//! use mesh_core::rng::SeededRng;
//!
//! let policy = RetryPolicy {
//!     retry_on: RetryOn::FIVE_XX,
//!     num_retries: 2,
//!     ..RetryPolicy::default()
//! };
//! let budget = Arc::new(RetryBudgetState::default()); // one per cluster
//! let start = Instant::now();
//! let mut rng = SeededRng::new(1);
//! let mut state = RetryState::new(&policy, budget, None, start, Some(Duration::from_secs(15)));
//!
//! // The first attempt, on host 7, answered 503: retry after a backoff.
//! let next = state.on_outcome(&Outcome::status(503), Some(HostId(7)), start, &mut rng);
//! assert!(matches!(next, Next::RetryAfter(d) if d <= Duration::from_millis(25)));
//! assert_eq!(state.excluded_hosts(), [HostId(7)]);
//!
//! // The retry succeeded.
//! let next = state.on_outcome(&Outcome::status(200), Some(HostId(8)), start, &mut rng);
//! assert_eq!(next, Next::Done(DoneReason::Success));
//! assert_eq!(state.retries(), 1);
//! ```

mod backoff;
mod budget;
mod condition;
mod hedge;
mod hosts;
mod outcome;
mod pushback;
mod state;

#[cfg(test)]
mod tests;

pub use backoff::{backoff_delay, backoff_interval, retry_after_delay};
pub use budget::{
    DEFAULT_MAX_RETRIES, RequestGuard, RetryBudget, RetryBudgetState, RetryLimit, RetryPermit,
};
pub use condition::is_retriable;
pub use hedge::{HedgeDecision, HedgePolicy, next_hedge};
pub use hosts::{HostId, PreviousHosts};
pub use outcome::{FailureKind, Outcome, Response};
pub use pushback::{MAX_RETRY_AFTER, PushBack, parse_grpc_pushback, parse_retry_after};
pub use state::{DoneReason, Hedge, Next, RetryState};
