//! The attempt loop ([`RetryState`]), rule by rule, with a fixed seed and
//! explicit instants; shared helpers live here.

mod attempts;
mod budget;
mod hedging;
mod props;

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::{Backoff, RetryOn, RetryPolicy};

pub(super) const MS: Duration = Duration::from_millis(1);

pub(super) fn policy(retry_on: RetryOn, num_retries: u32) -> RetryPolicy {
    RetryPolicy {
        retry_on,
        num_retries,
        ..RetryPolicy::default()
    }
}

/// A policy whose backoff is exactly `base·2ⁿ` (no jitter).
pub(super) fn fixed_backoff(num_retries: u32, base: Duration) -> RetryPolicy {
    RetryPolicy {
        backoff: Backoff {
            jitter: false,
            ..Backoff::envoy(base)
        },
        ..policy(RetryOn::FIVE_XX, num_retries)
    }
}

pub(super) fn budget() -> Arc<RetryBudgetState> {
    Arc::new(RetryBudgetState::default())
}

pub(super) fn unlimited() -> Arc<RetryBudgetState> {
    Arc::new(RetryBudgetState::new(RetryLimit::MaxRetries(u32::MAX)))
}

pub(super) fn fail() -> Outcome {
    Outcome::status(503)
}
