//! The decide mode: the mesh's decisions for a host that sends requests
//! over its own transport.
//!
//! Some hosts must keep their HTTP stack (a Java service on its servlet
//! client, a Go service on `net/http` with its own TLS). For them the
//! engine does everything but the I/O: [`resolve`] routes a request and
//! picks the endpoint of its first attempt; the host sends it and
//! [`Decision::report`]s how it went, which feeds the cluster's outlier
//! detector and breaker counters and answers with the next attempt
//! (another endpoint, after a backoff) or with the end. Retry, backoff,
//! budget and breaker logic stay here, so a binding never re-implements
//! them and every language retries alike.
//!
//! A [`Decision`] owns what it points at (its route table, its endpoint,
//! its permits), so the configuration may change while the host is
//! sending: the request finishes on the routing it started with, as in
//! the execute mode. Dropping a decision without reporting abandons the
//! request: its permits and in-flight counts are released, nothing is
//! recorded.
//!
//! Not decided here (documented deviations of this mode): mirrors, fault
//! injection and hedging, which need the engine to send requests itself;
//! the execute mode has them all.

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue};

use crate::config::RetryPolicy;
use crate::lb::{ActiveRequest, EndpointSlot};
use crate::resilience::breaker::{CallPermit, LimitPermit};
use crate::resilience::deadline::{self, GRPC_TIMEOUT, format_grpc_timeout};
use crate::resilience::outlier::CallResult;
use crate::resilience::retry::{HostId, Next as RetryNext, Outcome, RequestGuard, RetryState};
use crate::rng::MeshRng;
use crate::snapshot::RouteRef;
use crate::{Error, ErrorKind, RequestHead, Snapshot};

/// Routes `request` and decides its first attempt.
///
/// Errors are those of routing ([`ErrorKind::NoRoute`],
/// [`ErrorKind::InvalidRequest`]), of picking
/// ([`ErrorKind::NoHealthyEndpoint`]) and of the route's and cluster's
/// limits ([`ErrorKind::RateLimited`], [`ErrorKind::Overloaded`]).
pub fn resolve(
    snapshot: &Snapshot,
    request: &RequestHead<'_>,
    now: Instant,
    rng: &mut dyn MeshRng,
) -> Result<Decision, Error> {
    let route = snapshot.route_owned(request, rng)?;
    let routed = route.routed();
    let action = &routed.route.action;
    if let Some(limit) = &action.rate_limit
        && limit.refuses(now, rng)
    {
        return Err(Error::new(
            ErrorKind::RateLimited,
            format!("route {:?}: local rate limit exceeded", routed.route.name),
        ));
    }
    let breaker = match &action.breaker {
        Some(breaker) => Some(breaker.try_acquire(now).map_err(|rejected| {
            Error::new(
                ErrorKind::Overloaded,
                format!("route {:?}: {rejected}", routed.route.name),
            )
        })?),
        None => None,
    };
    let timeout = deadline::request_timeout(
        action.timeout,
        action.max_stream_duration,
        request.headers.get(GRPC_TIMEOUT),
    );
    let grpc_timeout = request.headers.contains_key(GRPC_TIMEOUT);
    let budget = routed.resilience.budget().clone();
    let retries = match &action.retry {
        Some(policy) => Retries::Policy(Box::new(RetryState::new(
            policy.clone(),
            budget,
            None,
            now,
            timeout,
        ))),
        None => Retries::None(budget.request_started()),
    };
    let max_attempts = action.retry.as_ref().map_or(1, |p| p.num_retries + 1);
    let request = RequestState {
        route,
        breaker,
        deadline: timeout.and_then(|t| now.checked_add(t)),
        grpc_timeout,
        max_attempts,
    };
    Attempt::start(&request, &[], rng).map(|attempt| Decision {
        request,
        retries,
        attempt,
        number: 1,
        delay: Duration::ZERO,
        started: now,
    })
}

/// What one request keeps from its first attempt to its last.
#[derive(Debug)]
struct RequestState {
    route: RouteRef,
    /// The route's state-machine breaker permit, recorded at the end.
    breaker: Option<CallPermit>,
    deadline: Option<Instant>,
    /// The caller sent `grpc-timeout`: each attempt tells its upstream
    /// what is left.
    grpc_timeout: bool,
    max_attempts: u32,
}

/// The retry bookkeeping of a request: its policy's state, or, for a
/// route that does not retry, its place among the cluster's active
/// requests (the retry budget scales with all of them).
#[derive(Debug)]
enum Retries {
    Policy(Box<RetryState<Arc<RetryPolicy>>>),
    None(#[expect(dead_code, reason = "held for its Drop")] RequestGuard),
}

/// One attempt: the endpoint and the counts it holds while in flight.
#[derive(Debug)]
struct Attempt {
    slot: Arc<EndpointSlot>,
    /// The endpoint's index in its cluster (outlier detection counts by it).
    in_cluster: usize,
    _active: ActiveRequest,
    _permit: LimitPermit,
}

impl Attempt {
    fn start(
        request: &RequestState,
        excluded: &[HostId],
        rng: &mut dyn MeshRng,
    ) -> Result<Self, Error> {
        let routed = request.route.routed();
        let pick = routed.pick_avoiding(rng, &|slot| excluded.contains(&HostId::of(slot)))?;
        let permit = routed.acquire_request()?;
        Ok(Self {
            _active: pick.slot.start_request(),
            slot: pick.slot.clone(),
            in_cluster: pick.in_cluster,
            _permit: permit,
        })
    }
}

/// Where and how to send one attempt of a request, and the state the
/// mesh needs to decide the next one.
#[derive(Debug)]
pub struct Decision {
    request: RequestState,
    retries: Retries,
    attempt: Attempt,
    number: u32,
    delay: Duration,
    /// When this attempt may start (after its delay).
    started: Instant,
}

/// What comes after a reported attempt.
#[derive(Debug)]
pub enum Next {
    /// Send another attempt, as this decision says (after its delay).
    Retry(Decision),
    /// The reported outcome is the request's answer.
    Done,
}

impl Decision {
    /// The endpoint to connect to, `host:port`.
    pub fn endpoint(&self) -> &http::uri::Authority {
        self.attempt.slot.endpoint().uri_authority()
    }

    /// The endpoint's slot (its address, labels, locality).
    pub fn endpoint_slot(&self) -> &Arc<EndpointSlot> {
        &self.attempt.slot
    }

    /// The cluster the request was routed to.
    pub fn cluster(&self) -> &Arc<str> {
        &self.request.route.routed().target.cluster.name
    }

    /// The route that matched.
    pub fn route(&self) -> &str {
        &self.request.route.routed().route.name
    }

    /// This attempt's timeout: its per-try timeout or what is left of the
    /// request's, whichever ends first (`None`: no limit).
    pub fn timeout(&self) -> Option<Duration> {
        let until = match &self.retries {
            Retries::Policy(state) => state.per_try_deadline(self.started),
            Retries::None(_) => self.request.deadline,
        };
        until.map(|until| until.saturating_duration_since(self.started))
    }

    /// How long to wait before sending this attempt (a retry's backoff;
    /// zero for the first attempt).
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// This attempt's number, 1 for the first.
    pub fn attempt(&self) -> u32 {
        self.number
    }

    /// The most attempts the route allows (1 + its retries).
    pub fn max_attempts(&self) -> u32 {
        self.request.max_attempts
    }

    /// Headers to set on this attempt's request: for a caller that sent
    /// `grpc-timeout`, the time left for this attempt.
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        match self.timeout() {
            Some(left) if self.request.grpc_timeout => {
                vec![(GRPC_TIMEOUT, format_grpc_timeout(left))]
            }
            _ => Vec::new(),
        }
    }

    /// Reports how this attempt went (at `now`) and decides the next:
    /// another attempt, or the end. The outcome feeds the cluster's
    /// outlier detector; at the end it is recorded by the route's breaker.
    /// Errors only when a retry is due but cannot start: no endpoint left
    /// ([`ErrorKind::NoHealthyEndpoint`]) or the cluster's `max_requests`
    /// reached ([`ErrorKind::Overloaded`]).
    pub fn report(
        self,
        outcome: &Outcome,
        now: Instant,
        rng: &mut dyn MeshRng,
    ) -> Result<Next, Error> {
        let Self {
            request,
            mut retries,
            attempt,
            number,
            ..
        } = self;
        {
            let routed = request.route.routed();
            if routed.resilience.detects_outliers()
                && let Some(result) = CallResult::of(outcome)
            {
                routed
                    .resilience
                    .record(attempt.in_cluster, result, now, rng);
            }
        }
        let host = HostId::of(&attempt.slot);
        drop(attempt);
        let delay = match &mut retries {
            Retries::Policy(state) => match state.on_outcome(outcome, Some(host), now, rng) {
                RetryNext::RetryAfter(delay) => Some(delay),
                RetryNext::Done(_) | RetryNext::Pending => None,
            },
            Retries::None(_) => None,
        };
        let Some(delay) = delay else {
            finish(request, outcome, now);
            return Ok(Next::Done);
        };
        let excluded = match &retries {
            Retries::Policy(state) => state.excluded_hosts(),
            Retries::None(_) => &[],
        };
        let attempt = Attempt::start(&request, excluded, rng)?;
        Ok(Next::Retry(Self {
            request,
            retries,
            attempt,
            number: number + 1,
            delay,
            started: now + delay,
        }))
    }
}

/// Records the request's final outcome with its route's breaker.
fn finish(mut request: RequestState, outcome: &Outcome, now: Instant) {
    if let Some(permit) = request.breaker.take()
        && let Some(breaker) = &request.route.routed().route.action.breaker
    {
        breaker.record(permit, outcome.is_error(), now);
    }
}
