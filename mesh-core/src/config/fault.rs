//! Fault injection settings: Envoy's `HTTPFault` (per route or virtual
//! host) and Istio's `HTTPFaultInjection`, validated.
//!
//! A fault's value (the delay, the abort code) is either fixed by the
//! configuration or read from the request's own headers (Envoy's
//! `header_delay` / `header_abort`, for callers that pick their faults).
//! The policy also says which requests a fault may touch (the routed
//! cluster, the downstream node, header matchers) and caps how many
//! requests may be under a fault at once, with a live count shared by the
//! requests of every route holding the same policy. The decision itself
//! is [`crate::resilience::fault::inject`].

use std::sync::Arc;
use std::time::Duration;

use super::matcher::HeaderMatcher;
use super::policy::Fraction;
use crate::resilience::fault::ActiveFaults;

/// How an injected abort fails the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortCode {
    /// An HTTP status.
    Http(u16),
    /// A gRPC status code (the HTTP status is then 200).
    Grpc(u32),
}

/// Where a fault's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultValue<T> {
    /// The configuration fixes it.
    Fixed(T),
    /// The request's `x-envoy-fault-*` headers give it; a request without
    /// them gets no such fault. Their `…-percentage` header is a numerator
    /// over `percent_denominator` (the configured percentage's), capped by
    /// the configured fraction.
    FromHeaders {
        /// 100, 10 000 or 1 000 000.
        percent_denominator: u32,
    },
}

/// Delay and/or abort a fraction of requests (chaos testing).
///
/// Shared behind an `Arc` by the routes that hold it, so its
/// `max_active` count covers all of their requests.
#[derive(Debug, Default)]
pub struct FaultPolicy {
    /// Delay by this value, for this fraction.
    pub delay: Option<(FaultValue<Duration>, Fraction)>,
    /// Fail with this code, for this fraction.
    pub abort: Option<(FaultValue<AbortCode>, Fraction)>,
    /// Only requests routed to this cluster get faults (`None`: any).
    pub upstream_cluster: Option<Arc<str>>,
    /// Only requests whose `x-envoy-downstream-service-node` header is one
    /// of these get faults (empty: any).
    pub downstream_nodes: Vec<Box<str>>,
    /// Only requests matching all of these get faults.
    pub headers: Vec<HeaderMatcher>,
    /// At most this many requests under a fault at once (`None`: no cap).
    pub max_active: Option<ActiveFaults>,
}

impl FaultPolicy {
    /// Whether the policy can inject anything at all (a route-level
    /// policy injecting nothing still overrides its virtual host's).
    pub fn injects(&self) -> bool {
        self.delay.is_some() || self.abort.is_some()
    }
}
