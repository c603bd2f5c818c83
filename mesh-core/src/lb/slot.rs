//! An endpoint together with its live load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::config::Endpoint;
use crate::telemetry::DestinationCache;

/// An endpoint and the number of requests in flight to it. One slot is
/// shared by every group that contains the endpoint (the whole cluster and
/// each subset), so least-request sees the same load from every route.
/// The endpoint itself is shared with the configuration (an [`Endpoint`]
/// is a handle), so a slot adds only the pointer and the counter.
#[derive(Debug)]
pub struct EndpointSlot {
    endpoint: Endpoint,
    active: AtomicU32,
    telemetry: DestinationCache,
}

impl EndpointSlot {
    /// A slot with no request in flight.
    pub fn new(endpoint: Endpoint) -> Arc<Self> {
        Arc::new(Self {
            endpoint,
            active: AtomicU32::new(0),
            telemetry: DestinationCache::new(),
        })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Where requests to this endpoint are counted (see
    /// [`Telemetry`](crate::telemetry::Telemetry)).
    pub fn telemetry(&self) -> &DestinationCache {
        &self.telemetry
    }

    /// Requests in flight right now.
    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    /// Counts a request as in flight until the returned guard drops.
    pub fn start_request(self: &Arc<Self>) -> ActiveRequest {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveRequest(Arc::clone(self))
    }
}

/// A request in flight to an endpoint; dropping it ends the request.
#[derive(Debug)]
pub struct ActiveRequest(Arc<EndpointSlot>);

impl ActiveRequest {
    /// The endpoint the request went to.
    pub fn slot(&self) -> &Arc<EndpointSlot> {
        &self.0
    }
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}
