//! The attempt loop of one request, as a state machine.
//!
//! The transport runs attempts; after each it reports the [`Outcome`] and
//! gets back what to do next: retry after a delay, wait for attempts still
//! in flight (hedging), or stop, with the reason. All rules meet here, in
//! Envoy's order: the `retry_on` conditions and pushback, the replayable
//! body, `num_retries`, the route deadline, then the cluster's retry
//! budget. Time and randomness come from the caller.
//!
//! The common case, a first attempt that succeeds, costs one atomic
//! increment and decrement on the budget (none under a fixed
//! `max_retries` cap), a few compares, and no allocation: the state is a
//! plain struct with the tried hosts in an inline array, and the policy is
//! borrowed (any `Borrow<RetryPolicy>`: a reference, an `Arc`, or a handle
//! into the snapshot).

use std::borrow::Borrow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::RetryPolicy;
use crate::rng::MeshRng;

use super::backoff::{backoff_delay, retry_after_delay};
use super::budget::RetryBudgetState;
use super::condition::{forbids_retry, matches_condition};
use super::hedge::{HedgeDecision, HedgePolicy, next_hedge};
use super::hosts::{HostId, PreviousHosts};
use super::outcome::Outcome;
use super::pushback::PushBack;

/// What the transport does after an attempt's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Start another attempt after this delay (zero: at once), on a host
    /// outside [`RetryState::excluded_hosts`] if possible.
    RetryAfter(Duration),
    /// Other attempts of this request (hedges) are still in flight: wait
    /// for their outcomes, and keep polling [`RetryState::poll_hedge`].
    Pending,
    /// Stop: the outcome just reported is the request's answer.
    Done(DoneReason),
}

/// Why the attempt loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoneReason {
    /// A response the policy does not retry and that is not an error.
    Success,
    /// An error (5xx, gRPC failure, transport failure) no `retry_on`
    /// condition covers, or a local overload.
    NotRetriable,
    /// `num_retries` (or, hedging, `max_hedges`) extra attempts were made.
    RetriesExhausted,
    /// The cluster's retry budget (or `max_retries`) had no room.
    BudgetExhausted,
    /// The next attempt could not start before the route deadline.
    DeadlineWouldPass,
    /// The server's `grpc-retry-pushback-ms` said not to retry.
    PushbackStop,
    /// The request body can no longer be replayed (too large to buffer).
    BodyNotReplayable,
}

impl DoneReason {
    /// A stable label for metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::NotRetriable => "not_retriable",
            Self::RetriesExhausted => "retries_exhausted",
            Self::BudgetExhausted => "budget_exhausted",
            Self::DeadlineWouldPass => "deadline",
            Self::PushbackStop => "pushback",
            Self::BodyNotReplayable => "body_not_replayable",
        }
    }
}

/// What [`RetryState::poll_hedge`] says about the next hedge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hedge {
    /// Send a hedge now (it is already counted and holds a budget permit).
    Send,
    /// Poll again at this instant.
    At(Instant),
    /// No (more) hedges for this request.
    None,
}

/// The retry decisions of one request.
#[derive(Debug)]
pub struct RetryState<P: Borrow<RetryPolicy>> {
    policy: P,
    budget: Arc<RetryBudgetState>,
    hedge: Option<HedgePolicy>,
    deadline: Option<Instant>,
    /// When the latest attempt was (or is to be) sent.
    last_sent: Instant,
    hosts: PreviousHosts,
    /// Extra attempts started: retries and hedges.
    retries: u32,
    hedges: u32,
    /// Retries since the last pushback: the backoff exponent.
    backoff_index: u32,
    in_flight: u32,
    /// Budget slots held by this request's retries and hedges.
    permits: u32,
    counted: bool,
    body_replayable: bool,
    budget_exhausted: bool,
    done: Option<DoneReason>,
}

impl<P: Borrow<RetryPolicy>> RetryState<P> {
    /// The state of a request whose first attempt starts at `started`;
    /// the request counts as active in `budget` until the state drops.
    pub fn new(
        policy: P,
        budget: Arc<RetryBudgetState>,
        hedge: Option<HedgePolicy>,
        started: Instant,
        route_timeout: Option<Duration>,
    ) -> Self {
        let counted = budget.enter_request();
        Self {
            policy,
            budget,
            hedge,
            deadline: route_timeout.and_then(|t| started.checked_add(t)),
            last_sent: started,
            hosts: PreviousHosts::default(),
            retries: 0,
            hedges: 0,
            backoff_index: 0,
            in_flight: 1,
            permits: 0,
            counted,
            body_replayable: true,
            budget_exhausted: false,
            done: None,
        }
    }

    /// Reports how an attempt ended, on which host if known, and decides
    /// what comes next. After a `Done`, every later report returns the same
    /// `Done`.
    pub fn on_outcome(
        &mut self,
        outcome: &Outcome,
        host: Option<HostId>,
        now: Instant,
        rng: &mut (impl MeshRng + ?Sized),
    ) -> Next {
        if let Some(reason) = self.done {
            return Next::Done(reason);
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        // Attempts still out keep at most one slot each.
        let excess = self.permits.saturating_sub(self.in_flight);
        self.budget.release(excess);
        self.permits -= excess;

        let policy = self.policy.borrow();
        if !matches_condition(policy, outcome) {
            let reason = if outcome.is_error() {
                DoneReason::NotRetriable
            } else {
                DoneReason::Success
            };
            return self.finish(reason);
        }
        if let Some(host) = host {
            self.hosts.record(host);
        }
        if forbids_retry(outcome) {
            return self.finish(DoneReason::PushbackStop);
        }
        if !self.body_replayable {
            return self.finish(DoneReason::BodyNotReplayable);
        }
        if self.retries >= policy.num_retries
            || self.hedge.is_some_and(|h| self.hedges >= h.max_hedges)
        {
            return self.stop_or_wait(DoneReason::RetriesExhausted);
        }
        let (delay, backoff_index) = self.delay_for(outcome, rng);
        let start = now.checked_add(delay);
        if let Some(deadline) = self.deadline
            && start.is_none_or(|start| start >= deadline)
        {
            return self.stop_or_wait(DoneReason::DeadlineWouldPass);
        }
        if !self.budget.acquire() {
            self.budget_exhausted = true;
            return self.stop_or_wait(DoneReason::BudgetExhausted);
        }
        self.backoff_index = backoff_index;
        self.permits += 1;
        self.retries += 1;
        self.in_flight += 1;
        if self.hedge.is_some() {
            self.hedges += 1;
        }
        self.last_sent = start.unwrap_or(now);
        Next::RetryAfter(delay)
    }

    /// Whether a hedge is due (hedging only). On [`Hedge::Send`] the hedge
    /// is counted as an attempt in flight and holds a budget permit.
    pub fn poll_hedge(&mut self, now: Instant) -> Hedge {
        let Some(policy) = self.hedge else {
            return Hedge::None;
        };
        if self.done.is_some()
            || !self.body_replayable
            || self.retries >= self.policy.borrow().num_retries
        {
            return Hedge::None;
        }
        let since = now.saturating_duration_since(self.last_sent);
        let wait = match next_hedge(&policy, self.hedges, since) {
            HedgeDecision::Never => return Hedge::None,
            HedgeDecision::Now => Duration::ZERO,
            HedgeDecision::In(wait) => wait,
        };
        // `last_sent` is in the future when a pushback delayed the latest
        // attempt; the hedge counts from when that attempt goes out.
        let Some(due) = self.last_sent.max(now).checked_add(wait) else {
            return Hedge::None;
        };
        if self.deadline.is_some_and(|deadline| due >= deadline) {
            return Hedge::None;
        }
        if due > now {
            return Hedge::At(due);
        }
        if !self.budget.acquire() {
            self.budget_exhausted = true;
            return Hedge::None;
        }
        self.permits += 1;
        self.retries += 1;
        self.hedges += 1;
        self.in_flight += 1;
        self.last_sent = now;
        Hedge::Send
    }

    /// Tells whether the request body can still be replayed; once it
    /// cannot (it outgrew the retry buffer), no retry or hedge is made.
    pub fn set_body_replayable(&mut self, replayable: bool) {
        self.body_replayable = replayable;
    }

    /// The deadline of an attempt starting at `now`: the per-try timeout,
    /// bounded by the route deadline.
    pub fn per_try_deadline(&self, now: Instant) -> Option<Instant> {
        let per_try = self
            .policy
            .borrow()
            .per_try_timeout
            .and_then(|t| now.checked_add(t));
        match (per_try, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The route deadline (start + route timeout).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Hosts tried by attempts that failed retriably: the picker should
    /// avoid them (Envoy's `previous_hosts` predicate).
    pub fn excluded_hosts(&self) -> &[HostId] {
        self.hosts.as_slice()
    }

    /// Attempts started, the first included.
    pub fn attempts(&self) -> u32 {
        self.retries + 1
    }

    /// Extra attempts started: retries and hedges (Envoy's
    /// `upstream_rq_retry`).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Hedges started.
    pub fn hedges(&self) -> u32 {
        self.hedges
    }

    /// Attempts started whose outcome was not reported yet.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Whether a retry or hedge was refused by the budget (Envoy's
    /// `upstream_rq_retry_overflow`).
    pub fn budget_exhausted(&self) -> bool {
        self.budget_exhausted
    }

    /// Why the loop stopped, once it has.
    pub fn done(&self) -> Option<DoneReason> {
        self.done
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        self.policy.borrow()
    }

    /// The wait before the next attempt and the backoff index after it:
    /// gRPC pushback (which restarts the backoff sequence, gRFC A6), else
    /// `Retry-After`, else the computed backoff (none between hedges).
    fn delay_for(&self, outcome: &Outcome, rng: &mut (impl MeshRng + ?Sized)) -> (Duration, u32) {
        let index = self.backoff_index;
        if let Some(r) = outcome.response() {
            if let Some(PushBack::Delay(d)) = r.grpc_pushback {
                return (d, 0);
            }
            let jitter = self.policy.borrow().backoff.jitter;
            if let Some(d) = r
                .retry_after
                .and_then(|d| retry_after_delay(d, jitter, rng))
            {
                return (d, index);
            }
        }
        if self.hedge.is_some() {
            return (Duration::ZERO, index);
        }
        let delay = backoff_delay(&self.policy.borrow().backoff, index, rng);
        (delay, index.saturating_add(1))
    }

    /// Stops unless other attempts may still answer.
    fn stop_or_wait(&mut self, reason: DoneReason) -> Next {
        if self.in_flight > 0 {
            Next::Pending
        } else {
            self.finish(reason)
        }
    }

    fn finish(&mut self, reason: DoneReason) -> Next {
        self.done = Some(reason);
        self.budget.release(self.permits);
        self.permits = 0;
        Next::Done(reason)
    }
}

impl<P: Borrow<RetryPolicy>> Drop for RetryState<P> {
    fn drop(&mut self) {
        self.budget.release(self.permits);
        if self.counted {
            self.budget.exit_request();
        }
    }
}
