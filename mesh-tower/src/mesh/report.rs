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
//!
//! With a tracer, the report also holds the request's span (when
//! sampled): it opens a child span per attempt, whose context the
//! attempt carries to the endpoint, and ends each with what the attempt
//! met (endpoint, locality, status or failure, the reason of the retry
//! that followed); the request span ends with the report. With an access
//! log that samples the request, the report writes its entry then too.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::request::Parts;
use http::{Method, Response};
use http_body::Body;
use mesh_core::lb::EndpointSlot;
use mesh_core::resilience::ClusterResilience;
use mesh_core::resilience::retry::{DoneReason, FailureKind, Outcome};
use mesh_core::rng::ThreadRng;
use mesh_core::telemetry::trace::{self, OpenSpan, Propagation, SpanContext, SpanKind};
use mesh_core::telemetry::{
    AccessLogEntry, Destination, Exchange, Protocol, Reached, ResponseFlags, RetryReason,
    Telemetry, bump, grpc_status, local_reply,
};
use mesh_core::{Error, Routed};

use super::attempt::Attempt;
use super::body::MeshBody;
use super::call::now;

/// The report of a request under way.
pub(super) struct Report<'s> {
    telemetry: &'s Arc<Telemetry>,
    started: Instant,
    protocol: Protocol,
    request_bytes: u64,
    flags: ResponseFlags,
    cluster: Option<&'s ClusterResilience>,
    /// The endpoint of the last attempt, when it failed without a
    /// response, and how. (A response names its endpoint itself.)
    failed: Option<(Arc<EndpointSlot>, FailureKind)>,
    done: bool,
    /// The request's span, when it is traced and sampled.
    traced: Option<Box<Traced>>,
    /// Attempts that ended.
    attempts: u32,
    /// The request's access-log entry, when it is logged.
    log: Option<Box<AccessLogEntry>>,
}

/// A sampled request's span, and what its attempts' spans need.
struct Traced {
    span: OpenSpan,
    method: Method,
    attempts: i64,
    /// The backoff before the next attempt.
    backoff: Duration,
}

/// An attempt's span (boxed: an unsampled request's futures stay small).
pub(super) type AttemptSpan = Box<OpenAttempt>;

/// An attempt's span and how its context goes to the endpoint. The
/// endpoint has seen its id, so it is always recorded: with what the
/// attempt met, or, dropped without an outcome (a losing hedge, a caller
/// who gave up, a transport that refused), as an error that says so.
pub(super) struct OpenAttempt {
    span: Option<OpenSpan>,
    propagation: Propagation,
    telemetry: Arc<Telemetry>,
}

impl OpenAttempt {
    /// Writes the attempt's context into its request's headers.
    pub(super) fn inject(&self, headers: &mut http::HeaderMap) {
        if let Some(span) = &self.span {
            trace::inject(headers, &span.context(), self.propagation);
        }
    }
}

impl Drop for OpenAttempt {
    fn drop(&mut self) {
        if let (Some(mut span), Some(tracer)) = (self.span.take(), self.telemetry.tracer()) {
            span.set("error.type", "no_outcome");
            span.fail("the attempt ended without an outcome");
            tracer.end(span);
        }
    }
}

impl<'s> Report<'s> {
    pub(super) fn start(
        telemetry: &'s Arc<Telemetry>,
        head: &mut Parts,
        grpc: bool,
        request_bytes: u64,
    ) -> Self {
        let traced = telemetry.tracer().and_then(|tracer| {
            let propagation = tracer.propagation();
            // The context an inbound layer handed over, else the headers'.
            let handed = head.extensions.get::<SpanContext>().copied();
            let parent = match handed {
                Some(context) => Some(context),
                None => match head.headers.get(trace::TRACEPARENT) {
                    Some(value) => {
                        let parsed = trace::parse_traceparent(value.as_bytes());
                        if parsed.is_none() {
                            // W3C: a malformed traceparent restarts the
                            // trace, and its tracestate goes with it.
                            head.headers.remove(trace::TRACEPARENT);
                            head.headers.remove(trace::TRACESTATE);
                        }
                        parsed
                    }
                    None => trace::extract_b3(&head.headers, propagation),
                },
            };
            let name = || format!("{} {}", head.method, head.uri.host().unwrap_or_default());
            let Some(mut span) =
                tracer.start(parent.as_ref(), name, SpanKind::Internal, &mut ThreadRng)
            else {
                // Not recorded. A context from the headers goes on as it
                // came; one handed over goes on too, so the endpoint
                // follows the caller's decision.
                if let Some(context) = handed {
                    trace::inject(&mut head.headers, &context, propagation);
                }
                return None;
            };
            span.set("http.request.method", head.method.as_str());
            span.set("url.full", head.uri.to_string());
            Some(Box::new(Traced {
                span,
                method: head.method.clone(),
                attempts: 0,
                backoff: Duration::ZERO,
            }))
        });
        let log = telemetry
            .access_log()
            .filter(|log| log.samples(&mut ThreadRng))
            .map(|_| {
                let header = |name: &str| {
                    let value = head.headers.get(name)?;
                    Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
                };
                let protocol = match (grpc, head.version) {
                    (true, _) => "gRPC",
                    (false, http::Version::HTTP_2) => "HTTP/2",
                    (false, _) => "HTTP/1.1",
                };
                Box::new(AccessLogEntry {
                    start_time: Some(SystemTime::now()),
                    method: head.method.to_string(),
                    authority: head
                        .uri
                        .authority()
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                    path: head
                        .uri
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    protocol,
                    bytes_received: request_bytes,
                    request_id: header("x-request-id"),
                    user_agent: header("user-agent"),
                    ..AccessLogEntry::default()
                })
            });
        Self {
            telemetry,
            started: now(),
            protocol: if grpc { Protocol::Grpc } else { Protocol::Http },
            request_bytes,
            flags: ResponseFlags::NONE,
            cluster: None,
            failed: None,
            done: false,
            traced,
            attempts: 0,
            log,
        }
    }

    /// The request was routed.
    pub(super) fn routed(&mut self, routed: &Routed<'s>) {
        self.cluster = Some(routed.resilience);
        if let Some(log) = &mut self.log {
            log.route_name = Some(routed.route.name.to_string());
            log.upstream_cluster = Some(routed.backend.cluster.to_string());
        }
        if let Some(traced) = &mut self.traced {
            let span = &mut traced.span;
            if !routed.route.name.is_empty() {
                span.set("mesh.route", &*routed.route.name);
            }
            span.set("mesh.cluster", &*routed.backend.cluster);
            if let Some(subset) = &routed.backend.subset {
                span.set("mesh.subset", &*subset.name);
            }
        }
    }

    /// The span of the next attempt (a child of the request's), when the
    /// request is traced.
    pub(super) fn attempt_span(&mut self) -> Option<AttemptSpan> {
        let traced = self.traced.as_mut()?;
        let tracer = self.telemetry.tracer()?;
        traced.attempts += 1;
        let mut span = traced
            .span
            .child(traced.method.as_str(), SpanKind::Client, &mut ThreadRng);
        span.set("mesh.attempt", traced.attempts);
        if traced.attempts > 1 {
            let backoff = i64::try_from(traced.backoff.as_micros()).unwrap_or(i64::MAX);
            span.set("mesh.backoff_us", backoff);
        }
        Some(Box::new(OpenAttempt {
            span: Some(span),
            propagation: tracer.propagation(),
            telemetry: self.telemetry.clone(),
        }))
    }

    /// Ends an attempt's span with what the attempt met; `retry` is the
    /// reason and backoff of the retry that follows it, if one does.
    pub(super) fn attempt_ended(
        &mut self,
        span: Option<AttemptSpan>,
        attempt: &Attempt<'_>,
        outcome: &Outcome,
        retry: Option<(RetryReason, Duration)>,
    ) {
        let (Some(mut open), Some(tracer)) = (span, self.telemetry.tracer()) else {
            return;
        };
        let Some(mut span) = open.span.take() else {
            return;
        };
        let endpoint = attempt.pick.slot.endpoint();
        span.set("server.address", endpoint.host());
        span.set("server.port", i64::from(endpoint.port()));
        span.set("mesh.endpoint", endpoint.authority());
        span.set("mesh.cluster", &*attempt.arm.cluster.name);
        if let Some(subset) = &attempt.arm.backend.subset {
            span.set("mesh.subset", &*subset.name);
        }
        let locality = &endpoint.locality;
        if !(locality.region.is_empty() && locality.zone.is_empty()) {
            let name = format!(
                "{}/{}/{}",
                locality.region, locality.zone, locality.sub_zone
            );
            span.set("mesh.locality", name);
        }
        match outcome {
            Outcome::Response(response) => {
                span.set("http.response.status_code", i64::from(response.status));
                if response.status >= 500 {
                    span.fail(format!("status {}", response.status));
                }
            }
            Outcome::Failure(kind) => {
                let kind = format!("{kind:?}");
                span.set("error.type", kind.as_str());
                span.fail(kind);
            }
        }
        // The ejection state the pick saw: how many of the cluster's
        // endpoints outlier detection holds out.
        if let Some(ejections) = self.cluster.and_then(ClusterResilience::ejections) {
            let ejected = i64::try_from(ejections.ejected_count()).unwrap_or(i64::MAX);
            span.set("mesh.outlier.ejected_endpoints", ejected);
        }
        if let Some((reason, backoff)) = retry {
            span.set("mesh.retry_reason", reason.as_str());
            if let Some(traced) = &mut self.traced {
                traced.backoff = backoff;
            }
        }
        tracer.end(span);
    }

    /// Fault injection did something to the request.
    pub(super) fn flag(&mut self, flag: ResponseFlags) {
        self.flags |= flag;
    }

    /// When the request's timeout starts: when it came in, or after the
    /// delay fault injection held it (which does not count against it).
    pub(super) fn timeout_start(&self) -> Instant {
        if self.flags.contains(ResponseFlags::DELAY_INJECTED) {
            now()
        } else {
            self.started
        }
    }

    /// An attempt went to `slot`; `failure` says how it failed, if it
    /// did without a response.
    pub(super) fn tried(&mut self, slot: &Arc<EndpointSlot>, failure: Option<FailureKind>) {
        self.attempts += 1;
        if let Some(log) = &mut self.log {
            log.upstream_host = Some(slot.endpoint().authority().to_owned());
        }
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
                let destination = match response.body().target() {
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
                let span = self.traced.take().map(|traced| {
                    // The caller continues its trace from the request's span.
                    response.extensions_mut().insert(traced.span.context());
                    let mut span = traced.span;
                    span.set(
                        "http.response.status_code",
                        i64::from(response.status().as_u16()),
                    );
                    span.set("mesh.attempts", traced.attempts);
                    span
                });
                let log = self.log.take().map(|mut log| {
                    log.response_code = response.status().as_u16();
                    log.response_flags = self.flags;
                    log.attempts = self.attempts;
                    log.trace_id = span.as_ref().map(|s| trace::hex(&s.context().trace_id));
                    log
                });
                let traced = (span.is_some() || log.is_some()).then(|| {
                    Box::new(PendingTrace {
                        telemetry: self.telemetry.clone(),
                        span,
                        log,
                    })
                });
                let pending = PendingReport {
                    destination,
                    traced,
                    ended: false,
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
                self.end_span(error.kind().as_str(), &error.to_string());
                Err(error)
            }
        }
    }

    fn record(&mut self, response_code: u16, flag: ResponseFlags) {
        if let (Some(mut log), Some(access_log)) = (self.log.take(), self.telemetry.access_log()) {
            log.response_code = response_code;
            log.response_flags = self.flags | flag;
            log.attempts = self.attempts;
            log.duration = now().saturating_duration_since(self.started);
            log.trace_id = self
                .traced
                .as_ref()
                .map(|t| trace::hex(&t.span.context().trace_id));
            access_log.log(&log);
        }
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

    /// Ends the request's span with an error.
    fn end_span(&mut self, kind: &str, message: &str) {
        if let (Some(traced), Some(tracer)) = (self.traced.take(), self.telemetry.tracer()) {
            let mut span = traced.span;
            span.set("error.type", kind);
            span.set("mesh.attempts", traced.attempts);
            span.fail(message);
            tracer.end(span);
        }
    }
}

/// A request dropped before its answer: the caller gave up.
impl Drop for Report<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.record(0, ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION);
            self.end_span("cancelled", "the caller gave up");
        }
    }
}

/// The report of a response whose body is still to come: recorded when
/// dropped (the body ended, failed, or was dropped unread).
#[derive(Debug)]
pub(crate) struct PendingReport {
    destination: Arc<Destination>,
    /// The request's span and access-log entry, when it has either
    /// (boxed: the body of every response holds this report).
    traced: Option<Box<PendingTrace>>,
    /// Whether the body reached its end.
    ended: bool,
    started: Instant,
    exchange: Exchange,
}

impl PendingReport {
    /// Counts body bytes as they pass.
    pub(crate) fn add_bytes(&mut self, n: usize) {
        self.exchange.response_bytes += n as u64;
    }

    /// The body reached its end (not dropped half read).
    pub(crate) fn ended(&mut self) {
        self.ended = true;
    }

    /// Adds a response flag.
    pub(crate) fn flag(&mut self, flag: ResponseFlags) {
        self.exchange.flags |= flag;
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

/// The span and the access-log entry of a response still to end.
#[derive(Debug)]
pub(crate) struct PendingTrace {
    telemetry: Arc<Telemetry>,
    span: Option<OpenSpan>,
    log: Option<Box<AccessLogEntry>>,
}

impl Drop for PendingReport {
    fn drop(&mut self) {
        if !self.ended {
            // Dropped half read: the caller gave up on the body.
            self.exchange.flags |= ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION;
        }
        self.exchange.duration = now().saturating_duration_since(self.started);
        self.destination.record(&self.exchange);
        let Some(traced) = self.traced.take() else {
            return;
        };
        let PendingTrace {
            telemetry,
            span,
            log,
        } = *traced;
        if let (Some(mut log), Some(access_log)) = (log, telemetry.access_log()) {
            log.duration = self.exchange.duration;
            log.bytes_sent = self.exchange.response_bytes;
            log.grpc_status = self.exchange.grpc_status;
            access_log.log(&log);
        }
        if let (Some(mut span), Some(tracer)) = (span, telemetry.tracer()) {
            if let Some(status) = self.exchange.grpc_status {
                span.set("rpc.grpc.status_code", i64::from(status));
            }
            tracer.end(span);
        }
    }
}
