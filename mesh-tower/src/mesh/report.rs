//! What a request reports when it ends: one observation of Istio's
//! standard metrics (see `mesh_core::telemetry`), at the end of its
//! response body, or at once when it fails.
//!
//! The attempt loop tells the report where the request got (its cluster,
//! the endpoint of its last attempt, how that attempt failed) and what
//! the mesh did to it (an injected fault, retries given up). A request
//! the mesh fails is reported with the status a sidecar would have
//! answered it with (`NR` 404, `UH`/`UO`/`UF`/`URX` 503, `UT` 504, `RL`
//! 429), so success rates read as they did behind Envoy; a request whose
//! caller gave up (its future dropped) is `DC` with code 0. A response
//! is reported when its body ends or is dropped, with the bytes read and
//! the gRPC status of its trailers.

use std::sync::Arc;
use std::time::Instant;

use http::Response;
use http_body::Body;
use mesh_core::lb::EndpointSlot;
use mesh_core::resilience::ClusterResilience;
use mesh_core::resilience::retry::{DoneReason, FailureKind};
use mesh_core::telemetry::{
    Destination, Exchange, Protocol, Reached, ResponseFlags, Telemetry, bump,
};
use mesh_core::{Error, ErrorKind};

use super::body::MeshBody;
use super::call::now;
use crate::Target;

/// The report of a request under way.
pub(super) struct Report<'s> {
    telemetry: &'s Telemetry,
    started: Instant,
    protocol: Protocol,
    request_bytes: u64,
    flags: ResponseFlags,
    cluster: Option<&'s ClusterResilience>,
    /// The endpoint of the last attempt, when it failed without a
    /// response, and how. (A response names its endpoint itself.)
    failed: Option<(Arc<EndpointSlot>, FailureKind)>,
    done: bool,
}

impl<'s> Report<'s> {
    pub(super) fn start(telemetry: &'s Telemetry, grpc: bool, request_bytes: u64) -> Self {
        Self {
            telemetry,
            started: now(),
            protocol: if grpc { Protocol::Grpc } else { Protocol::Http },
            request_bytes,
            flags: ResponseFlags::NONE,
            cluster: None,
            failed: None,
            done: false,
        }
    }

    /// The request was routed to `cluster`.
    pub(super) fn routed(&mut self, cluster: &'s ClusterResilience) {
        self.cluster = Some(cluster);
    }

    /// Fault injection did something to the request.
    pub(super) fn flag(&mut self, flag: ResponseFlags) {
        self.flags |= flag;
    }

    /// An attempt went to `slot`; `failure` says how it failed, if it
    /// did without a response.
    pub(super) fn tried(&mut self, slot: &Arc<EndpointSlot>, failure: Option<FailureKind>) {
        self.failed = failure.map(|failure| (slot.clone(), failure));
    }

    /// The retry loop stopped for `reason`; a request that failed after
    /// its retries is `URX`, and the cluster counts budget refusals.
    pub(super) fn stopped(&mut self, reason: DoneReason, failed: bool) {
        let Some(cluster) = self.cluster else {
            return;
        };
        match reason {
            DoneReason::RetriesExhausted if failed => {
                self.flags |= ResponseFlags::UPSTREAM_RETRY_LIMIT_EXCEEDED;
                bump(&cluster.stats().retries_exhausted);
            }
            DoneReason::BudgetExhausted => bump(&cluster.stats().budget_exhausted),
            _ => {}
        }
    }

    fn reached(&self) -> Reached<'_> {
        match (&self.failed, self.cluster) {
            (Some((slot, _)), Some(cluster)) => Reached::Endpoint {
                cluster: cluster.name(),
                slot,
            },
            (_, Some(cluster)) => Reached::Cluster(cluster),
            (_, None) => Reached::Nothing,
        }
    }

    /// Ends the report with the request's result: an error is recorded
    /// now, a response when its body ends.
    pub(super) fn finish<R: Body>(
        mut self,
        result: Result<Response<MeshBody<R>>, Error>,
    ) -> Result<Response<MeshBody<R>>, Error> {
        self.done = true;
        match result {
            Ok(mut response) => {
                let destination = match response.extensions().get::<Target>() {
                    Some(target) => self.telemetry.destination(Reached::Endpoint {
                        cluster: &target.cluster().name,
                        slot: target.endpoint(),
                    }),
                    // An answer the mesh made itself (an injected abort).
                    None => self.telemetry.destination(self.reached()),
                };
                let grpc_status = match self.protocol {
                    Protocol::Grpc => grpc_status(response.headers()),
                    Protocol::Http => None,
                };
                let pending = PendingReport {
                    destination,
                    started: self.started,
                    exchange: Exchange {
                        response_code: response.status().as_u16(),
                        grpc_status,
                        flags: self.flags,
                        protocol: self.protocol,
                        duration: Default::default(),
                        request_bytes: self.request_bytes,
                        response_bytes: 0,
                    },
                };
                response.body_mut().report_at_end(pending);
                Ok(response)
            }
            Err(error) => {
                let failure = self.failed.as_ref().map(|(_, failure)| *failure);
                let (code, flag) = local_reply(error.kind(), failure);
                self.record(code, flag);
                Err(error)
            }
        }
    }

    fn record(&self, response_code: u16, flag: ResponseFlags) {
        let exchange = Exchange {
            response_code,
            grpc_status: None,
            flags: self.flags | flag,
            protocol: self.protocol,
            duration: now().saturating_duration_since(self.started),
            request_bytes: self.request_bytes,
            response_bytes: 0,
        };
        self.telemetry.record(self.reached(), &exchange);
    }
}

/// A request dropped before its answer: the caller gave up.
impl Drop for Report<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.record(0, ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION);
        }
    }
}

/// The status and flag a sidecar answers a request with when the mesh
/// fails it.
fn local_reply(kind: ErrorKind, failure: Option<FailureKind>) -> (u16, ResponseFlags) {
    match kind {
        ErrorKind::NoRoute => (404, ResponseFlags::NO_ROUTE_FOUND),
        ErrorKind::NoHealthyEndpoint => (503, ResponseFlags::NO_HEALTHY_UPSTREAM),
        ErrorKind::Overloaded => (503, ResponseFlags::UPSTREAM_OVERFLOW),
        ErrorKind::RateLimited => (429, ResponseFlags::RATE_LIMITED),
        ErrorKind::Timeout => (504, ResponseFlags::UPSTREAM_REQUEST_TIMEOUT),
        ErrorKind::Transport => match failure {
            Some(FailureKind::ConnectFailure) => (503, ResponseFlags::UPSTREAM_CONNECTION_FAILURE),
            _ => (503, ResponseFlags::UPSTREAM_REMOTE_RESET),
        },
        ErrorKind::Cancelled => (0, ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION),
        ErrorKind::InvalidRequest => (400, ResponseFlags::NONE),
        _ => (500, ResponseFlags::NONE),
    }
}

/// `grpc-status` of a header map (a trailers-only response, or trailers).
pub(super) fn grpc_status(headers: &http::HeaderMap) -> Option<u8> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The report of a response whose body is still to come: recorded when
/// dropped (the body ended, failed, or was dropped unread).
#[derive(Debug)]
pub(crate) struct PendingReport {
    destination: Arc<Destination>,
    started: Instant,
    exchange: Exchange,
}

impl PendingReport {
    /// Counts body bytes as they pass.
    pub(crate) fn add_bytes(&mut self, n: usize) {
        self.exchange.response_bytes += n as u64;
    }

    /// The gRPC status of the trailers, for gRPC.
    pub(crate) fn trailers(&mut self, trailers: &http::HeaderMap) {
        if self.exchange.protocol == Protocol::Grpc
            && let Some(status) = grpc_status(trailers)
        {
            self.exchange.grpc_status = Some(status);
        }
    }
}

impl Drop for PendingReport {
    fn drop(&mut self) {
        self.exchange.duration = now().saturating_duration_since(self.started);
        self.destination.record(&self.exchange);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_the_local_replies_of_a_sidecar() {
        assert_eq!(
            local_reply(ErrorKind::NoRoute, None),
            (404, ResponseFlags::NO_ROUTE_FOUND)
        );
        assert_eq!(
            local_reply(ErrorKind::Transport, Some(FailureKind::ConnectFailure)),
            (503, ResponseFlags::UPSTREAM_CONNECTION_FAILURE)
        );
        assert_eq!(
            local_reply(ErrorKind::Transport, Some(FailureKind::Reset)),
            (503, ResponseFlags::UPSTREAM_REMOTE_RESET)
        );
        assert_eq!(
            local_reply(ErrorKind::Timeout, None),
            (504, ResponseFlags::UPSTREAM_REQUEST_TIMEOUT)
        );
    }
}
