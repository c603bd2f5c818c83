//! Circuit breakers, two kinds.
//!
//! - [`ClusterLimits`]: Envoy's circuit breakers, which are really
//!   concurrency limits per cluster: connections, requests waiting for a
//!   connection, requests and retries in flight. Past a limit a request
//!   fails at once with an [`Overflow`] (the engine's `Overloaded` error)
//!   instead of queueing behind a struggling backend. Lock-free: a permit
//!   costs one atomic add and one atomic sub.
//! - [`CircuitBreaker`]: the state machine Hystrix and resilience4j users
//!   know (closed → open → half-open) over a sliding window of calls,
//!   tripped by a failure rate or a slow-call rate once a minimum number of
//!   calls was seen. Configured per route from the policy JSON.
//!
//! Both take the time from the caller.

mod limits;
mod state_machine;

pub use limits::{ClusterLimits, LimitPermit, Overflow, Resource};
pub use state_machine::{
    BreakerConfig, BreakerState, CallPermit, CircuitBreaker, Rejected, Window,
};
