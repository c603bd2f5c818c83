//! Fault injection: delay or fail a fraction of requests on purpose, to
//! test in staging how callers cope (Envoy's HTTP fault filter, Istio's
//! `HTTPFaultInjection`).
//!
//! A request gets faults only when it passes the policy's gates, in
//! Envoy's order: the routed cluster (`upstream_cluster`), the caller's
//! node (`downstream_nodes`), the header matchers. Then the delay and the
//! abort are drawn independently, each at its own fraction; a request
//! drawn for both is delayed, then aborted, as in Envoy. A header fault
//! reads its value, and may lower its fraction, from the request's
//! `x-envoy-fault-*` headers ([`headers`]). The delay comes before the
//! request's timeout starts (the fault filter runs before the router).
//!
//! A request with a fault counts against `max_active_faults`
//! ([`ActiveFaults`]) until the caller drops [`Injected::active`]; the
//! request path holds it until the response head or the error (Envoy holds
//! it until the stream ends, body included). A request drawn for a fault past that cap gets
//! none ([`Injected::overflowed`], Envoy's `faults_overflow`).

mod active;
pub mod headers;

use std::time::Duration;

pub use active::{ActiveFault, ActiveFaults};

use crate::config::{AbortCode, FaultPolicy, FaultValue};
use crate::request::RequestHead;
use crate::rng::MeshRng;

/// What to do to one request.
#[derive(Debug, Default)]
pub struct Injected<'p> {
    /// Hold the request this long first.
    pub delay: Option<Duration>,
    /// Then answer it with this code instead of sending it.
    pub abort: Option<AbortCode>,
    /// A fault was drawn but `max_active_faults` was reached: none is
    /// injected.
    pub overflowed: bool,
    /// The request's place among the policy's active faults: hold it
    /// while the request runs.
    pub active: Option<ActiveFault<'p>>,
}

impl Injected<'_> {
    /// Whether nothing is injected.
    pub fn is_none(&self) -> bool {
        self.delay.is_none() && self.abort.is_none()
    }
}

/// Draws the faults of `policy` for `request`, routed to `cluster`.
pub fn inject<'p>(
    policy: &'p FaultPolicy,
    request: &RequestHead<'_>,
    cluster: &str,
    rng: &mut dyn MeshRng,
) -> Injected<'p> {
    if !applies(policy, request, cluster) {
        return Injected::default();
    }
    let headers = request.headers;
    let delay = policy.delay.and_then(|(value, configured)| match value {
        FaultValue::Fixed(d) => configured.drawn(rng).then_some(d),
        FaultValue::FromHeaders {
            percent_denominator,
        } => {
            let share = headers::share(
                headers,
                headers::DELAY_PERCENTAGE,
                percent_denominator,
                configured,
            );
            share.drawn(rng).then(|| headers::delay(headers)).flatten()
        }
    });
    let abort = policy.abort.and_then(|(value, configured)| match value {
        FaultValue::Fixed(code) => configured.drawn(rng).then_some(code),
        FaultValue::FromHeaders {
            percent_denominator,
        } => {
            let share = headers::share(
                headers,
                headers::ABORT_PERCENTAGE,
                percent_denominator,
                configured,
            );
            share.drawn(rng).then(|| headers::abort(headers)).flatten()
        }
    });
    let mut injected = Injected {
        delay: delay.filter(|d| !d.is_zero()),
        abort,
        ..Injected::default()
    };
    if injected.is_none() {
        return injected;
    }
    if let Some(cap) = &policy.max_active {
        match cap.try_enter() {
            Some(active) => injected.active = Some(active),
            None => {
                return Injected {
                    overflowed: true,
                    ..Injected::default()
                };
            }
        }
    }
    injected
}

/// Whether `request` passes the policy's gates.
fn applies(policy: &FaultPolicy, request: &RequestHead<'_>, cluster: &str) -> bool {
    if policy
        .upstream_cluster
        .as_deref()
        .is_some_and(|c| c != cluster)
    {
        return false;
    }
    if !policy.downstream_nodes.is_empty() {
        let node = request
            .headers
            .get(headers::DOWNSTREAM_NODE)
            .and_then(|v| v.to_str().ok());
        if !node.is_some_and(|n| policy.downstream_nodes.iter().any(|d| **d == *n)) {
            return false;
        }
    }
    policy.headers.iter().all(|m| m.matches(request))
}

#[cfg(test)]
mod tests;
