//! The log of what the client sent (and what the server answered), and
//! bounded waits on it.
//!
//! Requests are numbered by arrival, across streams. A test that wants
//! "the next request after the ones I've seen" keeps a [`RequestCursor`]
//! (or the index returned by
//! [`ControlPlane::wait_for_request_from`](super::ControlPlane::wait_for_request_from))
//! and searches from there; requests already recorded count, so there is
//! no race between acting and starting to wait.

use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::rpc::Status;

use super::state::Shared;

/// A request the client sent, with the id of the stream it came on
/// (streams are numbered 1, 2, ... in the order they were accepted).
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// On a state-of-the-world stream.
    Sotw(u64, DiscoveryRequest),
    /// On a delta stream.
    Delta(u64, DeltaDiscoveryRequest),
}

impl Recorded {
    /// The stream it came on.
    pub fn stream(&self) -> u64 {
        match self {
            Self::Sotw(id, _) | Self::Delta(id, _) => *id,
        }
    }

    /// Its type URL.
    pub fn type_url(&self) -> &str {
        match self {
            Self::Sotw(_, r) => &r.type_url,
            Self::Delta(_, r) => &r.type_url,
        }
    }

    /// The nonce of the response it answers (empty for none).
    pub fn response_nonce(&self) -> &str {
        match self {
            Self::Sotw(_, r) => &r.response_nonce,
            Self::Delta(_, r) => &r.response_nonce,
        }
    }

    /// The error it reports, when it is a NACK.
    pub fn error_detail(&self) -> Option<&Status> {
        match self {
            Self::Sotw(_, r) => r.error_detail.as_ref(),
            Self::Delta(_, r) => r.error_detail.as_ref(),
        }
    }

    /// Whether it rejects the response it answers.
    pub fn is_nack(&self) -> bool {
        self.error_detail().is_some()
    }

    /// Whether it accepts the response with `nonce`.
    pub fn is_ack_of(&self, nonce: &str) -> bool {
        !nonce.is_empty() && self.response_nonce() == nonce && !self.is_nack()
    }

    /// The state-of-the-world request, if it is one.
    pub fn sotw(&self) -> Option<&DiscoveryRequest> {
        match self {
            Self::Sotw(_, r) => Some(r),
            Self::Delta(..) => None,
        }
    }

    /// The delta request, if it is one.
    pub fn delta(&self) -> Option<&DeltaDiscoveryRequest> {
        match self {
            Self::Delta(_, r) => Some(r),
            Self::Sotw(..) => None,
        }
    }
}

/// A response the server sent, with the stream it went to.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// On a state-of-the-world stream.
    Sotw(u64, DiscoveryResponse),
    /// On a delta stream.
    Delta(u64, DeltaDiscoveryResponse),
}

impl Sent {
    /// The stream it went to.
    pub fn stream(&self) -> u64 {
        match self {
            Self::Sotw(id, _) | Self::Delta(id, _) => *id,
        }
    }

    /// Its type URL.
    pub fn type_url(&self) -> &str {
        match self {
            Self::Sotw(_, r) => &r.type_url,
            Self::Delta(_, r) => &r.type_url,
        }
    }

    /// Its nonce.
    pub fn nonce(&self) -> &str {
        match self {
            Self::Sotw(_, r) => &r.nonce,
            Self::Delta(_, r) => &r.nonce,
        }
    }
}

/// A position in the request log: [`RequestCursor::next`] finds the first
/// matching request at or after it and moves past that one.
#[derive(Debug, Clone)]
pub struct RequestCursor {
    shared: Arc<Shared>,
    next: usize,
}

impl RequestCursor {
    pub(super) fn new(shared: Arc<Shared>, next: usize) -> Self {
        Self { shared, next }
    }

    /// The index of the next request it will look at.
    pub fn position(&self) -> usize {
        self.next
    }

    /// Waits up to `timeout` for a request matching `pred` at or after the
    /// cursor; on success the cursor moves just past it, otherwise it
    /// stays.
    pub async fn next(
        &mut self,
        pred: impl Fn(&Recorded) -> bool,
        timeout: Duration,
    ) -> Option<Recorded> {
        let (i, r) = wait_from(&self.shared, self.next, pred, timeout).await?;
        self.next = i + 1;
        Some(r)
    }

    /// Moves past every request recorded so far.
    pub fn skip_seen(&mut self) {
        self.next = self.shared.lock().log.len();
    }
}

/// The first request at index `from` or later matching `pred`, waiting up
/// to `timeout` for it to arrive; with its index.
pub(super) async fn wait_from(
    shared: &Shared,
    from: usize,
    pred: impl Fn(&Recorded) -> bool,
    timeout: Duration,
) -> Option<(usize, Recorded)> {
    // Subscribe before looking, so a request recorded in between still
    // wakes the wait.
    let mut changed = shared.recorded.subscribe();
    let search = async {
        let mut next = from;
        loop {
            let fresh: Vec<Recorded> = {
                let state = shared.lock();
                state.log.get(next..).unwrap_or_default().to_vec()
            };
            if let Some(i) = fresh.iter().position(&pred) {
                return Some((next + i, fresh[i].clone()));
            }
            next += fresh.len();
            changed.changed().await.ok()?;
        }
    };
    tokio::time::timeout(timeout, search).await.ok().flatten()
}
