//! Resilience decisions, sans-IO: what to do when a request fails or a
//! backend misbehaves. Every decision here takes the time and the random
//! source from its caller, so paused-time tests pin each rule down; the
//! request path in `mesh-tower` applies them to real requests.
//!
//! - [`ClusterResilience`]: the live state each cluster's requests share
//!   (budget, limits, outlier detector), kept across configuration
//!   updates by the snapshot.
//! - [`deadline`]: the request's timeout from the route and the caller's
//!   `grpc-timeout`, and the `grpc-timeout` each attempt carries.
//! - [`fault`]: which requests to delay or abort on purpose.
//! - [`retry`]: whether and when to try again (Envoy's `retry_on`, backoff
//!   with full jitter, `Retry-After` and `grpc-retry-pushback-ms`, the
//!   retry budget, hedging), and the per-request attempt loop
//!   [`retry::RetryState`].
//! - [`outlier`]: Envoy's outlier detection, all five kinds.
//! - [`breaker`]: Envoy's per-cluster limits and a closed/open/half-open
//!   breaker.
//! - [`ratelimit`]: the local token bucket.

pub mod breaker;
mod cluster;
pub mod deadline;
pub mod fault;
pub mod outlier;
pub mod ratelimit;
pub mod retry;

pub use cluster::ClusterResilience;
