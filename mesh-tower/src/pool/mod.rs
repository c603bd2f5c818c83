//! Connection pools per endpoint, shaped by each cluster's settings.
//!
//! Envoy pools connections per cluster and host, with the cluster's
//! connect timeout, idle timeout, connection lifetime, requests per
//! connection, HTTP/2 concurrency, keepalive and connection limits; a
//! generic pooled client keys by authority with one global setting and no
//! limits. So the mesh keeps its own pools: one per endpoint (the
//! [`EndpointSlot`] the balancer picked, kept across configuration updates
//! while the endpoint stays), built from its cluster's [`ConnectionPool`]
//! and replaced when those settings change (the old pool's connections
//! finish their requests and close). Connections count against the
//! cluster's `max_connections` breaker, and requests waiting for one
//! against `max_pending_requests`.
//!
//! Finding the pool is a read lock and a pointer-keyed lookup; a pool is
//! created under the write lock the first time its endpoint is used, which
//! is also when pools of endpoints no configuration holds any more, with
//! nothing open, are dropped.
//!
//! [`ConnectionPool`]: mesh_core::config::ConnectionPool

mod endpoint;
mod executor;
mod lease;
mod lifecycle;

use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use http::{Request, Response};
use mesh_core::fast_hash::FastMap;
use mesh_core::lb::EndpointSlot;

use self::endpoint::{EndpointPool, Settings};
use crate::{BoxError, Target};

pub use lease::UpstreamBody;

/// A request body hyper can send on a pooled connection.
pub(crate) trait OutgoingBody:
    http_body::Body<Data: Send, Error: Into<BoxError>> + Send + Unpin + 'static
{
}

impl<B> OutgoingBody for B where
    B: http_body::Body<Data: Send, Error: Into<BoxError>> + Send + Unpin + 'static
{
}

/// The pools of every endpoint a transport has sent to.
pub(crate) struct Pools<B> {
    by_endpoint: RwLock<FastMap<usize, Entry<B>>>,
}

impl<B> Default for Pools<B> {
    fn default() -> Self {
        Self {
            by_endpoint: RwLock::default(),
        }
    }
}

impl<B> std::fmt::Debug for Pools<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pools = self.by_endpoint.read().map_or(0, |pools| pools.len());
        f.debug_struct("Pools").field("endpoints", &pools).finish()
    }
}

impl<B: OutgoingBody> Pools<B> {
    /// Sends `request` to `target`'s endpoint, over HTTP/2 when `http2`.
    /// The future is boxed by its protocol alone, so it carries no more
    /// than one protocol's exchange.
    pub(crate) fn send(
        &self,
        target: &Target,
        request: Request<B>,
        http2: bool,
    ) -> Pin<Box<dyn Future<Output = Result<Response<UpstreamBody>, BoxError>> + Send>> {
        let pool = self.pool(target);
        let limits = target.limits().clone();
        if http2 {
            Box::pin(pool.send_http2(request, limits))
        } else {
            Box::pin(pool.send_http1(request, limits))
        }
    }

    fn pool(&self, target: &Target) -> Arc<EndpointPool<B>> {
        let cluster = target.cluster();
        let slot = target.endpoint();
        // Keyed by the slot's address: no reference count is taken to look.
        let address = Arc::as_ptr(slot) as usize;
        {
            let pools = self
                .by_endpoint
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = pools.get(&address)
                && entry.pool.settings().match_cluster(cluster)
            {
                return entry.pool.clone();
            }
        }
        let mut pools = self
            .by_endpoint
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = pools.get(&address)
            && entry.pool.settings().match_cluster(cluster)
        {
            return entry.pool.clone();
        }
        // The map holds the only reference to the slot of an endpoint no
        // snapshot has any more.
        pools.retain(|_, entry| Arc::strong_count(&entry.slot) > 1 || !entry.pool.is_unused());
        let authority = slot.endpoint().uri_authority().clone();
        let pool = EndpointPool::new(authority, Settings::of(cluster));
        let entry = Entry {
            slot: slot.clone(),
            pool: pool.clone(),
        };
        pools.insert(address, entry);
        pool
    }
}

/// An endpoint's pool, and its slot: holding the slot keeps its address,
/// the map's key, from being reused while the entry lives.
struct Entry<B> {
    slot: Arc<EndpointSlot>,
    pool: Arc<EndpointPool<B>>,
}
