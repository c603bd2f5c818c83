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

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use http::{Request, Response};
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
    by_endpoint: RwLock<HashMap<SlotKey, Arc<EndpointPool<B>>, BuildHasherDefault<PtrHasher>>>,
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
        let settings = Settings::of(target.cluster());
        let key = SlotKey(target.endpoint().clone());
        {
            let pools = self
                .by_endpoint
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(pool) = pools.get(&key)
                && *pool.settings() == settings
            {
                return pool.clone();
            }
        }
        let mut pools = self
            .by_endpoint
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pools.get(&key)
            && *pool.settings() == settings
        {
            return pool.clone();
        }
        // The map holds the only reference to the slot of an endpoint no
        // snapshot has any more.
        pools.retain(|key, pool| Arc::strong_count(&key.0) > 1 || !pool.is_unused());
        let authority = target.endpoint().endpoint().uri_authority().clone();
        let pool = EndpointPool::new(authority, settings);
        pools.insert(key, pool.clone());
        pool
    }
}

/// An endpoint slot, compared and hashed by address (the map holds it, so
/// the address cannot be reused while the entry lives).
struct SlotKey(Arc<EndpointSlot>);

impl PartialEq for SlotKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SlotKey {}

impl Hash for SlotKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(Arc::as_ptr(&self.0) as usize);
    }
}

/// A hasher for addresses: they are already unique, so one multiply
/// spreads them (Fibonacci hashing) where SipHash would cost more than
/// the lookup.
#[derive(Default)]
struct PtrHasher(u64);

impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
