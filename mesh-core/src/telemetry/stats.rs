//! The engine's own counters for one cluster: what its retries, limits,
//! faults and outlier detection did.
//!
//! They live with the cluster's live state and move to its successor on
//! every configuration update, so an update never resets them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::resilience::retry::{FailureKind, Outcome};

/// Why a request was retried (or hedged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    /// A 5xx response.
    Status5xx,
    /// Another status `retriable_status_codes` lists.
    RetriableStatus,
    /// A gRPC status `retry_on` lists.
    Grpc,
    /// The connection could not be made.
    ConnectFailure,
    /// The endpoint refused the stream (HTTP/2 `REFUSED_STREAM`).
    RefusedStream,
    /// The stream was reset.
    Reset,
    /// The try timed out.
    PerTryTimeout,
    /// A hedge: no answer yet after the hedging delay.
    Hedge,
}

impl RetryReason {
    /// Every reason, in exposition order.
    pub const ALL: [Self; 8] = [
        Self::Status5xx,
        Self::RetriableStatus,
        Self::Grpc,
        Self::ConnectFailure,
        Self::RefusedStream,
        Self::Reset,
        Self::PerTryTimeout,
        Self::Hedge,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Status5xx => "5xx",
            Self::RetriableStatus => "retriable_status",
            Self::Grpc => "grpc",
            Self::ConnectFailure => "connect_failure",
            Self::RefusedStream => "refused_stream",
            Self::Reset => "reset",
            Self::PerTryTimeout => "per_try_timeout",
            Self::Hedge => "hedge",
        }
    }

    /// The reason a retry after `outcome` is made for.
    pub fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Failure(FailureKind::ConnectFailure) => Self::ConnectFailure,
            Outcome::Failure(FailureKind::RefusedStream) => Self::RefusedStream,
            Outcome::Failure(FailureKind::Timeout) => Self::PerTryTimeout,
            Outcome::Failure(_) => Self::Reset,
            Outcome::Response(facts) if facts.grpc_status.is_some_and(|s| s != 0) => Self::Grpc,
            Outcome::Response(facts) if facts.status >= 500 => Self::Status5xx,
            Outcome::Response(_) => Self::RetriableStatus,
        }
    }
}

/// Counts of one cluster.
#[derive(Debug, Default)]
pub struct ClusterStats {
    retries: [AtomicU64; RetryReason::ALL.len()],
    /// Retries the budget (or `max_retries`) refused.
    pub budget_exhausted: AtomicU64,
    /// Requests that failed after all their retries.
    pub retries_exhausted: AtomicU64,
    /// Requests the route's local rate limit refused.
    pub rate_limited: AtomicU64,
    /// Requests delayed by fault injection.
    pub faults_delayed: AtomicU64,
    /// Requests aborted by fault injection.
    pub faults_aborted: AtomicU64,
    /// Requests a route's open circuit breaker refused.
    pub breaker_refused: AtomicU64,
    /// Endpoints outlier detection ejected.
    pub ejections: AtomicU64,
}

impl ClusterStats {
    /// Counts one retry for `reason`.
    pub fn retried(&self, reason: RetryReason) {
        bump(&self.retries[reason as usize]);
    }

    /// Retries made for `reason`.
    pub fn retries(&self, reason: RetryReason) -> u64 {
        self.retries[reason as usize].load(Ordering::Relaxed)
    }
}

/// Adds one.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::retry::Response;

    #[test]
    fn reasons_follow_the_outcome() {
        assert_eq!(
            RetryReason::of(&Outcome::status(503)),
            RetryReason::Status5xx
        );
        assert_eq!(
            RetryReason::of(&Outcome::status(409)),
            RetryReason::RetriableStatus
        );
        assert_eq!(
            RetryReason::of(&Outcome::Failure(FailureKind::ConnectFailure)),
            RetryReason::ConnectFailure
        );
        assert_eq!(
            RetryReason::of(&Outcome::Failure(FailureKind::Timeout)),
            RetryReason::PerTryTimeout
        );
        let grpc = Response {
            grpc_status: Some(14),
            ..Response::new(200)
        };
        assert_eq!(RetryReason::of(&Outcome::Response(grpc)), RetryReason::Grpc);
        let stats = ClusterStats::default();
        stats.retried(RetryReason::Reset);
        assert_eq!(stats.retries(RetryReason::Reset), 1);
    }
}
