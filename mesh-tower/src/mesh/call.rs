//! One request through the mesh, from routing to the response head: the
//! attempt loop.
//!
//! The request reads one snapshot and routes once (route, weighted
//! backend); then each attempt picks an endpoint (avoiding ejected ones
//! and, on a retry, the hosts already tried), takes a `max_requests`
//! permit from the cluster's breaker, rewrites the request to the
//! endpoint and sends it, bounded by the per-try timeout and the request's
//! deadline. Every outcome feeds the cluster's outlier detector; when the
//! route retries, mesh-core's [`RetryState`] decides whether and when to
//! try again, inside the cluster's retry budget. Nothing is decided here:
//! this file only waits, sends and reports.
//!
//! Before the first attempt come the route's local rate limit (a refusal
//! is a `RateLimited` error), its injected faults (delay, abort; a
//! faulted request holds its place under `max_active_faults` until its
//! response head or error), its
//! state-machine breaker (open: an `Overloaded` error; the request's final
//! answer is its outcome) and its mirrors: shadow copies sent fire and
//! forget.
//!
//! A request without a retry policy still counts as active in the
//! cluster's retry budget while it waits for its response head, so the
//! budget scales with all of the cluster's traffic.

use std::sync::Arc;
use std::time::Instant;

use http::header::{CONTENT_TYPE, HOST};
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use mesh_core::config::AbortCode;
use mesh_core::resilience::deadline::{self, GRPC_TIMEOUT};
use mesh_core::resilience::fault;
use mesh_core::resilience::retry::{HedgePolicy, HostId, Next, RetryState};
use mesh_core::rng::ThreadRng;
use mesh_core::telemetry::{ResponseFlags, RetryReason, bump};
use mesh_core::{Error, ErrorKind, MirrorTarget, RequestHead, Routed, SnapshotHandle, is_grpc};
use tower::ServiceExt;

use super::attempt::{Attempt, Head, Heads, RequestFacts, attempt_request, response_outcome};
use super::body::MeshBody;
use super::bounds::{RequestBody, ResponseBody, Transport};
use super::hedge::Hedged;
use super::report::Report;
use crate::Target;
use crate::retry::{DEFAULT_REPLAY_LIMIT, ReplayBody, Replayer};

/// Sends `request` through the mesh over `transport`.
///
/// Every request allocates this future, so its size matters (under 1 KiB
/// it comes from the allocator's thread cache): the request is split
/// before the future captures it, and the functions of the loop return
/// `async move` blocks rather than being `async fn`s, whose arguments
/// would be stored twice (rust-lang/rust#62958).
pub(crate) fn call<S, B, ResBody>(
    snapshots: Arc<SnapshotHandle>,
    transport: S,
    request: Request<B>,
) -> impl Future<Output = Result<Response<MeshBody<ResBody>>, Error>> + Send
where
    S: Transport<B, ResBody>,
    B: RequestBody,
    ResBody: ResponseBody,
{
    let (head, body) = request.into_parts();
    let size = body.size_hint();
    let request_bytes = size.exact().unwrap_or(size.lower());
    // Boxed (with the copy a retry will need): the head is a fifth of this
    // future, which every request allocates; kept under 1 KiB the future
    // stays in the allocator's small bins (a larger one makes glibc
    // consolidate its fast bins on every request, which costs more than
    // this small allocation).
    let mut heads = Box::new(Heads::new(head));
    async move {
        let snapshot = snapshots.load();
        let grpc = is_grpc(&heads.caller.headers);
        // Every way out goes through `report.finish` (a nested future
        // would store the transport and body once more). Boxed, as the
        // head is: inline it would take this future over 1 KiB.
        let mut report = Box::new(Report::start(
            snapshots.telemetry(),
            &mut heads.caller,
            grpc,
            request_bytes,
        ));
        // The routing view of the head is dropped before the first await:
        // it would otherwise take room in every request's future.
        let (routed, injected) = {
            let head = &heads.caller;
            let request = RequestHead::from_http(&head.method, &head.uri, &head.headers);
            let routed = match snapshot.route(&request, &mut ThreadRng) {
                Ok(routed) => routed,
                Err(e) => return report.finish(Err(e)),
            };
            report.routed(&routed);
            let action = &routed.route.action;
            if let Some(limit) = &action.rate_limit
                && limit.refuses(now(), &mut ThreadRng)
            {
                bump(&routed.resilience.stats().rate_limited);
                return report.finish(Err(Error::new(
                    ErrorKind::RateLimited,
                    format!("route {:?}: local rate limit exceeded", routed.route.name),
                )));
            }
            // Faults come next: Envoy's fault filter runs before its
            // router, so an injected delay does not count against the
            // request's timeout.
            let injected = action.fault.as_deref().map(|policy| {
                fault::inject(policy, &request, &routed.backend.cluster, &mut ThreadRng)
            });
            (routed, injected)
        };
        let action = &routed.route.action;
        // A faulted request stays among its policy's active faults until
        // its response head or its error (see `fault`).
        let _active_fault = match injected {
            Some(injected) => {
                let stats = routed.resilience.stats();
                if let Some(delay) = injected.delay {
                    bump(&stats.faults_delayed);
                    report.flag(ResponseFlags::DELAY_INJECTED);
                    tokio::time::sleep(delay).await;
                }
                if let Some(code) = injected.abort {
                    bump(&stats.faults_aborted);
                    report.flag(ResponseFlags::FAULT_INJECTED);
                    return report.finish(Ok(aborted(code)));
                }
                injected.active
            }
            None => None,
        };
        let Some(breaker) = &action.breaker else {
            let result = attempts(&routed, transport, &mut heads, body, grpc, &mut report).await;
            return report.finish(result);
        };
        let permit = match breaker.try_acquire(now()) {
            Ok(permit) => permit,
            Err(rejected) => {
                bump(&routed.resilience.stats().breaker_refused);
                return report.finish(Err(Error::new(
                    ErrorKind::Overloaded,
                    format!("route {:?}: {rejected}", routed.route.name),
                )));
            }
        };
        // Boxed: only routes with a breaker take this way, and an inline
        // second copy of the attempt loop would double every request's future.
        let result = Box::pin(attempts(
            &routed,
            transport,
            &mut heads,
            body,
            grpc,
            &mut report,
        ))
        .await;
        let failed = match &result {
            Ok(response) => response_outcome(response, grpc).is_error(),
            Err(_) => true,
        };
        breaker.record(permit, failed, now());
        report.finish(result)
    }
}

/// The attempts of a routed request, retries and mirrors included.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` stores its arguments twice (rust-lang/rust#62958)"
)]
fn attempts<'r, 's, S, B, ResBody>(
    routed: &'r Routed<'s>,
    mut transport: S,
    heads: &'r mut Heads,
    body: B,
    grpc: bool,
    report: &'r mut Report<'s>,
) -> impl Future<Output = Result<Response<MeshBody<ResBody>>, Error>> + Send + 'r
where
    S: Transport<B, ResBody>,
    B: RequestBody,
    ResBody: ResponseBody,
{
    async move {
        let action = &routed.route.action;
        let started = report.timeout_start();
        let grpc_timeout = heads.caller.headers.get(GRPC_TIMEOUT);
        let timeout =
            deadline::request_timeout(action.timeout, action.max_stream_duration, grpc_timeout);
        let facts = RequestFacts {
            deadline: timeout.and_then(|t| started.checked_add(t)),
            timeout,
            grpc,
            grpc_timeout: grpc_timeout.is_some(),
        };
        let mirrors = routed.mirrors(&mut ThreadRng);
        let policy = action.retry.as_deref();
        let (mut body, replayer) = if policy.is_none() && mirrors.is_empty() {
            (ReplayBody::passthrough(body), None)
        } else {
            let (body, replayer) = ReplayBody::retryable(body, DEFAULT_REPLAY_LIMIT)
                .await
                .map_err(|e| {
                    Error::new(ErrorKind::InvalidRequest, "reading the request body failed")
                        .with_source(e.into())
                })?;
            (body, Some(replayer))
        };
        if let Some(replayer) = &replayer {
            for target in mirrors {
                shadow(&transport, &heads.caller, grpc, target, replayer);
            }
        }

        let (Some(policy), Some(replayer)) = (policy, replayer) else {
            let _active = routed.resilience.budget().request_started();
            let pick = routed.pick_avoiding(&mut ThreadRng, &|_| false)?;
            let mut attempt = Attempt::start(routed, pick)?;
            attempt.span = report.attempt_span();
            let sent = attempt
                .send(&mut transport, heads.next(), body, facts.deadline, &facts)
                .await?;
            let outcome = sent.outcome(grpc);
            attempt.report(routed, &outcome, now);
            report.tried(attempt.pick.slot, sent.failure());
            report.attempt_ended(attempt.span.take(), &attempt, &outcome, None);
            return attempt.finish(sent);
        };
        let budget = routed.resilience.budget().clone();
        let hedge = action.hedge.or_else(|| {
            policy
                .per_try_timeout
                .filter(|_| action.hedge_on_per_try_timeout)
                .map(|delay| HedgePolicy {
                    delay,
                    max_hedges: policy.num_retries,
                })
        });
        let mut retry = RetryState::new(policy, budget, hedge, started, timeout);
        // The first attempt takes the caller's head; the others unpack a copy.
        if hedge.is_some() {
            let (first, copy) = heads.keep_copy();
            let hedged = Hedged {
                routed,
                transport,
                head: copy,
                facts: &facts,
                report,
            };
            // Boxed: the common future stays small for requests that do not hedge.
            return Box::pin(hedged.run(retry, first, body, replayer)).await;
        }
        heads.keep_copy();
        let mut attempt_start = started;
        loop {
            // A block, so the attempt and its outcome are gone (and take
            // no room in this future) while the backoff runs.
            let delay = {
                let excluded = retry.excluded_hosts();
                let pick = routed
                    .pick_avoiding(&mut ThreadRng, &|slot| excluded.contains(&HostId::of(slot)))?;
                let mut attempt = Attempt::start(routed, pick)?;
                attempt.span = report.attempt_span();
                let host = HostId::of(attempt.pick.slot);
                let until = retry.per_try_deadline(attempt_start);
                let sent = attempt
                    .send(&mut transport, heads.next(), body, until, &facts)
                    .await?;
                let outcome = sent.outcome(grpc);
                let ended = now();
                attempt.report(routed, &outcome, || ended);
                report.tried(attempt.pick.slot, sent.failure());
                retry.set_body_replayable(replayer.is_replayable());
                let next = retry.on_outcome(&outcome, Some(host), ended, &mut ThreadRng);
                let retried = match next {
                    Next::RetryAfter(delay) => Some((RetryReason::of(&outcome), delay)),
                    _ => None,
                };
                report.attempt_ended(attempt.span.take(), &attempt, &outcome, retried);
                match next {
                    Next::RetryAfter(delay) => {
                        routed.resilience.stats().retried(RetryReason::of(&outcome));
                        delay
                    }
                    Next::Done(reason) => {
                        report.stopped(reason, outcome.is_error());
                        return attempt.finish(sent);
                    }
                    Next::Pending => return attempt.finish(sent),
                }
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            attempt_start = now();
            body = next_body(&replayer)?;
        }
    }
}

/// The answer to a request aborted by fault injection: the HTTP status,
/// or a trailers-only gRPC response with the status code.
fn aborted<R: Body>(code: AbortCode) -> Response<MeshBody<R>> {
    let mut response = Response::new(MeshBody::empty());
    match code {
        AbortCode::Http(status) => {
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        }
        AbortCode::Grpc(status) => {
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
            headers.insert("grpc-status", HeaderValue::from(status));
            headers.insert(
                "grpc-message",
                HeaderValue::from_static("fault filter abort"),
            );
        }
    }
    response
}

/// Sends a shadow copy of the request to `target`, fire and forget: its
/// answer is dropped unread and its failure or slowness never reaches
/// the caller. A body still streaming (too large to read up front) has
/// no copy to send yet, so such a request is not mirrored. As in Envoy,
/// the copy's `Host` gets a `-shadow` suffix.
fn shadow<S, B, R>(
    transport: &S,
    head: &Parts,
    grpc: bool,
    target: MirrorTarget,
    replayer: &Replayer,
) where
    S: Transport<B, R>,
    B: RequestBody,
    R: ResponseBody,
{
    let Some(body) = replayer.replay() else {
        return;
    };
    let shadow = Target::new(target.target, target.endpoint.clone());
    let Ok(mut request) = attempt_request(Head::Shared(head), body, shadow, grpc, None) else {
        return;
    };
    if let Some(host) = request.headers().get(HOST).and_then(|h| h.to_str().ok())
        && let Ok(value) = HeaderValue::from_str(&shadow_host(host))
    {
        request.headers_mut().insert(HOST, value);
    }
    let mut transport = transport.clone();
    tokio::spawn(async move {
        let _active = target.endpoint.start_request();
        let Ok(ready) = transport.ready().await else {
            return;
        };
        let response = ready.call(request);
        // The shadow's answer, or failure, is dropped unread.
        let _ = response.await.is_ok();
    });
}

/// `host[:port]` with `-shadow` after the host.
fn shadow_host(host: &str) -> String {
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{name}-shadow:{port}")
        }
        _ => format!("{host}-shadow"),
    }
}

/// The body of the next attempt (the retry state refuses a retry or a
/// hedge once the body cannot be replayed, so this only fails on a bug).
pub(super) fn next_body<B>(replayer: &Replayer) -> Result<ReplayBody<B>, Error> {
    replayer.replay().ok_or_else(|| {
        Error::new(
            ErrorKind::Internal,
            "another attempt of a body that cannot be replayed",
        )
    })
}

/// The clock of the request path: tokio's, so paused-time tests drive it.
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shadow_suffix_goes_after_the_host() {
        assert_eq!(
            shadow_host("production-service"),
            "production-service-shadow"
        );
        assert_eq!(shadow_host("svc:8080"), "svc-shadow:8080");
        assert_eq!(shadow_host("[::1]:80"), "[::1]-shadow:80");
    }
}
