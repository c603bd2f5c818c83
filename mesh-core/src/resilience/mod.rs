//! Resilience decisions, sans-IO: what to do when a request fails or a
//! backend misbehaves. Every decision here takes the time and the random
//! source from its caller, so paused-time tests pin each rule down; tower
//! layers in `mesh-tower` are to apply them to real requests (not yet:
//! these decisions are built and tested, the layers come next).
//!
//! - [`retry`]: whether and when to try again (Envoy's `retry_on`, backoff
//!   with full jitter, `Retry-After` and `grpc-retry-pushback-ms`, the
//!   retry budget, hedging), and the per-request attempt loop
//!   [`retry::RetryState`].
//! - [`outlier`]: Envoy's outlier detection, all five kinds.
//! - [`breaker`]: Envoy's per-cluster limits and a closed/open/half-open
//!   breaker.
//! - [`ratelimit`]: the local token bucket.

pub mod breaker;
pub mod outlier;
pub mod ratelimit;
pub mod retry;
