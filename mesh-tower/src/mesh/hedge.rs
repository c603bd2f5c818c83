//! The attempt loop with hedging: attempts run side by side.
//!
//! Envoy's `hedge_on_per_try_timeout`: an attempt that reaches the
//! per-try timeout is not cancelled; a hedge goes out beside it (to
//! another host) and the first answer that ends the request wins, the
//! others are cancelled. A retriable failure before the per-try timeout is
//! retried as usual, while the other attempts keep running. Every
//! decision (when a hedge is due, whether an outcome ends the request,
//! the budget each hedge holds) is mesh-core's [`RetryState`]; this loop
//! only waits on the attempts in flight and the next due time.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use http::Response;
use http::request::Parts;
use mesh_core::config::RetryPolicy;
use mesh_core::resilience::retry::{Hedge, HostId, Next, RetryState};
use mesh_core::rng::ThreadRng;
use mesh_core::telemetry::RetryReason;
use mesh_core::{Error, ErrorKind, Routed};
use tokio::time::Sleep;

use super::attempt::{Attempt, Head, RequestFacts, Sent};
use super::body::MeshBody;
use super::bounds::{RequestBody, ResponseBody, Transport};
use super::call::{next_body, now as clock};
use super::report::{AttemptSpan, Report};
use crate::retry::{ReplayBody, ReplayHead, Replayer};

/// One attempt in flight: its place, and its outcome when it ends.
type InFlight<'s, R> =
    Pin<Box<dyn Future<Output = (Attempt<'s>, Result<Sent<R>, Error>)> + Send + 's>>;

/// What the loop woke up for.
enum Wake<'s, R> {
    Ended(Attempt<'s>, Result<Sent<R>, Error>),
    Due,
}

/// Everything a hedged request needs, borrowed from [`super::call`].
pub(super) struct Hedged<'a, 's, 'p, S> {
    pub(super) routed: &'a Routed<'s>,
    pub(super) transport: S,
    /// The head for every attempt after the first.
    pub(super) head: &'a ReplayHead,
    pub(super) facts: &'a RequestFacts,
    pub(super) report: &'a mut Report<'p>,
}

impl<'a, 's, 'p, S> Hedged<'a, 's, 'p, S> {
    /// Runs attempts side by side until one ends the request.
    pub(super) async fn run<B, R>(
        self,
        mut retry: RetryState<&RetryPolicy>,
        first_head: &'a mut Parts,
        first: ReplayBody<B>,
        replayer: Replayer,
    ) -> Result<Response<MeshBody<R>>, Error>
    where
        S: Transport<B, R>,
        B: RequestBody,
        R: ResponseBody,
        'a: 's,
    {
        let span = self.report.attempt_span();
        let head = Head::Owned(first_head);
        let mut in_flight: Vec<(HostId, InFlight<'s, R>)> =
            vec![self.launch(&retry, &[], head, first, span)?];
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        // A retry waiting out its backoff, and when it may go.
        let mut retry_at: Option<Instant> = None;
        loop {
            let now = clock();
            if retry_at.is_some_and(|at| at <= now) {
                retry_at = None;
                // The retry's reason was counted when it was decided.
                let busy = hosts(&in_flight);
                let span = self.report.attempt_span();
                let (head, body) = (Head::Packed(self.head), next_body(&replayer)?);
                in_flight.push(self.launch(&retry, &busy, head, body, span)?);
            }
            let hedge_at = match retry.poll_hedge(now) {
                Hedge::Send => {
                    self.routed.resilience.stats().retried(RetryReason::Hedge);
                    let busy = hosts(&in_flight);
                    let span = self.report.attempt_span();
                    let (head, body) = (Head::Packed(self.head), next_body(&replayer)?);
                    in_flight.push(self.launch(&retry, &busy, head, body, span)?);
                    continue;
                }
                Hedge::At(at) => Some(at),
                Hedge::None => None,
            };
            let wake_at = [hedge_at, retry_at].into_iter().flatten().min();
            timer = wake_at.map(|at| match timer.take() {
                Some(mut sleep) => {
                    sleep.as_mut().reset(at.into());
                    sleep
                }
                None => Box::pin(tokio::time::sleep_until(at.into())),
            });
            if in_flight.is_empty() && timer.is_none() {
                return Err(Error::new(
                    ErrorKind::Internal,
                    "hedging: no attempt in flight and none due",
                ));
            }
            let wake = poll_fn(|cx| {
                for i in 0..in_flight.len() {
                    if let Poll::Ready((attempt, sent)) = in_flight[i].1.as_mut().poll(cx) {
                        drop(in_flight.swap_remove(i));
                        return Poll::Ready(Wake::Ended(attempt, sent));
                    }
                }
                match timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(Wake::Due),
                    _ => Poll::Pending,
                }
            })
            .await;
            let Wake::Ended(mut attempt, sent) = wake else {
                timer = None;
                continue;
            };
            let sent = sent?;
            let now = clock();
            let outcome = sent.outcome(self.facts.grpc);
            attempt.report(self.routed, &outcome, || now);
            self.report.tried(attempt.pick.slot, sent.failure());
            retry.set_body_replayable(replayer.is_replayable());
            let host = HostId::of(attempt.pick.slot);
            let next = retry.on_outcome(&outcome, Some(host), now, &mut ThreadRng);
            let retried = match next {
                Next::RetryAfter(delay) => Some((RetryReason::of(&outcome), delay)),
                _ => None,
            };
            self.report
                .attempt_ended(attempt.span.take(), &attempt, &outcome, retried);
            match next {
                Next::Done(reason) => {
                    self.report.stopped(reason, outcome.is_error());
                    return attempt.finish(sent);
                }
                Next::Pending => {}
                Next::RetryAfter(delay) => {
                    self.routed
                        .resilience
                        .stats()
                        .retried(RetryReason::of(&outcome));
                    retry_at = Some(now + delay);
                }
            }
        }
    }

    /// Starts an attempt on a host neither tried nor `busy` with another
    /// attempt, if there is one; it runs until the request's deadline
    /// (never cut at the per-try timeout: that is when the next hedge goes).
    fn launch<B, R>(
        &self,
        retry: &RetryState<&RetryPolicy>,
        busy: &[HostId],
        head: Head<'a>,
        body: ReplayBody<B>,
        span: Option<AttemptSpan>,
    ) -> Result<(HostId, InFlight<'s, R>), Error>
    where
        S: Transport<B, R>,
        B: RequestBody,
        R: ResponseBody,
        'a: 's,
    {
        let excluded = retry.excluded_hosts();
        let pick = self.routed.pick_avoiding(&mut ThreadRng, &|slot| {
            let host = HostId::of(slot);
            excluded.contains(&host) || busy.contains(&host)
        })?;
        let mut attempt = Attempt::start(self.routed, pick)?;
        attempt.span = span;
        let host = HostId::of(attempt.pick.slot);
        let mut transport = self.transport.clone();
        let facts = self.facts;
        let in_flight: InFlight<'s, R> = Box::pin(async move {
            let sent = attempt
                .send(&mut transport, head, body, facts.deadline, facts)
                .await;
            (attempt, sent)
        });
        Ok((host, in_flight))
    }
}

/// The hosts of the attempts in flight.
fn hosts<R>(in_flight: &[(HostId, InFlight<'_, R>)]) -> Vec<HostId> {
    in_flight.iter().map(|(host, _)| *host).collect()
}
