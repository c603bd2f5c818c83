//! A scriptable xDS control plane for tests and demos: a real tonic gRPC
//! server on loopback speaking Envoy's Aggregated Discovery Service, both
//! state of the world (`StreamAggregatedResources`) and incremental
//! (`DeltaAggregatedResources`).
//!
//! It exists to prove the xDS client's protocol behaviour against the
//! wire, not against a mock of it: a test [`set`](ControlPlane::set)s and
//! [`remove`](ControlPlane::remove)s resources (each change bumps the
//! type's version and is pushed at once to every stream subscribed to
//! it), pushes hand-made responses for bad-input cases
//! ([`send_raw_sotw`](ControlPlane::send_raw_sotw)), breaks streams and
//! the server ([`drop_streams`](ControlPlane::drop_streams),
//! [`refuse_connections`](ControlPlane::refuse_connections),
//! [`shutdown`](ControlPlane::shutdown)), and reads back every request the
//! client sent, in order and by stream ([`requests`](ControlPlane::requests),
//! [`cursor`](ControlPlane::cursor)).
//!
//! The protocol rules it follows (subscriptions, when to answer, nonces,
//! versions) are in the docs of the `sotw` and `delta` modules; in short,
//! it answers subscriptions and their changes, never ACKs or NACKs, and
//! ignores stale nonces in state of the world. It is a test fixture, not
//! a product: one mutex, unbounded queues, no xdstp, no TTLs, no
//! resource errors unless a test sends them by hand.
//!
//! It serves plaintext ([`start`](ControlPlane::start)) or TLS, mutual
//! when given a client CA ([`start_tls`](ControlPlane::start_tls)).
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use mesh_tests::control_plane::ControlPlane;
//! use mesh_tests::xds_resources::{LISTENER_TYPE, api_listener};
//!
//! let cp = ControlPlane::start().await;
//! cp.set(api_listener("order-service:80", "order-service:80"));
//! // ... point a client at cp.uri() ...
//! let ack = cp
//!     .wait_for_request(|r| r.type_url() == LISTENER_TYPE && !r.response_nonce().is_empty(),
//!                       Duration::from_secs(5))
//!     .await;
//! # }
//! ```

mod delta;
mod recorder;
mod service;
mod sotw;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryResponse, DiscoveryResponse};
use envoy_types::pb::google::protobuf::Any;
use tonic::Status;

pub use recorder::{Recorded, RequestCursor, Sent};
use service::Server;
use state::Shared;

/// A running test control plane; dropping it stops the server.
#[derive(Debug)]
pub struct ControlPlane {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Mutex<Option<Server>>,
    /// Set when serving TLS (kept for [`restart`](Self::restart)).
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl ControlPlane {
    /// Starts on an ephemeral loopback port.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub async fn start() -> Self {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("a loopback port for the control plane")
    }

    /// Starts on `addr`, e.g. the address of one that was shut down, with
    /// no resources and an empty log.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Self> {
        Self::serve(addr, None).await
    }

    /// Starts on an ephemeral loopback port serving TLS (ring, ALPN `h2`)
    /// with the given PEM certificate chain and key; with `client_ca_pem`,
    /// mutual TLS: clients must present a certificate that CA signed.
    /// Handshakes that fail just close their connection.
    ///
    /// # Panics
    ///
    /// When the PEM does not make a TLS configuration, or no loopback port
    /// can be bound.
    pub async fn start_tls(
        server_cert_pem: &str,
        server_key_pem: &str,
        client_ca_pem: Option<&str>,
    ) -> Self {
        let config = service::server_tls_config(server_cert_pem, server_key_pem, client_ca_pem)
            .unwrap_or_else(|e| panic!("ControlPlane::start_tls: {e}"));
        Self::serve(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Some(Arc::new(config)),
        )
        .await
        .expect("a loopback port for the control plane")
    }

    async fn serve(
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new());
        let (listener, addr) = service::bind(addr).await?;
        let server = Server::spawn(shared.clone(), listener, tls.clone());
        Ok(Self {
            shared,
            addr,
            server: Mutex::new(Some(server)),
            tls,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https` when serving TLS), for a gRPC
    /// channel.
    pub fn uri(&self) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Whether it serves TLS ([`start_tls`](Self::start_tls)).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    // --- resources ------------------------------------------------------

    /// Adds or replaces a Listener, RouteConfiguration, Cluster or
    /// ClusterLoadAssignment, named by its `name` (`cluster_name` for the
    /// last), and pushes it; see [`set_named`](Self::set_named).
    ///
    /// # Panics
    ///
    /// On another type, or a body that does not decode: use `set_named`
    /// for those.
    pub fn set(&self, resource: Any) {
        let name = state::resource_name(&resource)
            .unwrap_or_else(|e| panic!("ControlPlane::set: {e}; use set_named"));
        let type_url = resource.type_url.clone();
        self.set_named(&type_url, &name, resource);
    }

    /// [`set`](Self::set) for each.
    pub fn set_all(&self, resources: impl IntoIterator<Item = Any>) {
        for r in resources {
            self.set(r);
        }
    }

    /// Adds or replaces the resource `name` of `type_url` (the body is
    /// taken as is), bumps the type's version and pushes it to every open
    /// stream that subscribes to it: state of the world resends the type's
    /// full response for the stream's subscription; delta sends just this
    /// resource.
    pub fn set_named(&self, type_url: &str, name: &str, resource: Any) {
        let mut state = self.shared.lock();
        state.store.set(type_url, name, resource);
        sotw::push_set(&mut state, type_url, name);
        delta::push_set(&mut state, type_url, name);
    }

    /// Deletes a resource, bumping the type's version; state of the world
    /// pushes a response without it for LDS/CDS (RDS/EDS responses simply
    /// stop including it), delta sends `removed_resources` to clients that
    /// have it. False when there was no such resource (nothing is sent).
    pub fn remove(&self, type_url: &str, name: &str) -> bool {
        let mut state = self.shared.lock();
        if !state.store.remove(type_url, name) {
            return false;
        }
        sotw::push_removed(&mut state, type_url, name);
        delta::push_removed(&mut state, type_url, name);
        true
    }

    /// The current version of a type: `"0"` before any change.
    pub fn version(&self, type_url: &str) -> String {
        self.shared.lock().store.version(type_url)
    }

    // --- hand-made responses and failures ------------------------------

    /// Sends `response` as is to every open state-of-the-world stream,
    /// with a fresh nonce if it has none; returns how many streams got it.
    pub fn send_raw_sotw(&self, response: DiscoveryResponse) -> usize {
        let mut state = self.shared.lock();
        let state::State { out, sotw, .. } = &mut *state;
        for (id, stream) in sotw.iter_mut() {
            out.sotw(*id, stream, response.clone());
        }
        sotw.len()
    }

    /// The same for delta streams.
    pub fn send_raw_delta(&self, response: DeltaDiscoveryResponse) -> usize {
        let mut state = self.shared.lock();
        let state::State { out, delta, .. } = &mut *state;
        for (id, stream) in delta.iter_mut() {
            out.delta(*id, stream, response.clone());
        }
        delta.len()
    }

    /// Ends every open stream with UNAVAILABLE, as a control plane going
    /// away would; the client must reconnect. Returns how many ended.
    pub fn drop_streams(&self) -> usize {
        let status = Status::unavailable("the test control plane dropped the stream");
        self.shared.lock().end_streams(&status)
    }

    /// While true, new streams fail at once with UNAVAILABLE (a dead
    /// server whose port still accepts); open streams are left alone.
    pub fn refuse_connections(&self, refuse: bool) {
        self.shared.lock().refuse = refuse;
    }

    /// Stops the server: open streams end with UNAVAILABLE and the port is
    /// closed. Resources and the log are kept for [`restart`](Self::restart).
    pub async fn shutdown(&self) {
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        {
            let mut state = self.shared.lock();
            state.stopped = true;
            state.end_streams(&Status::unavailable("the test control plane shut down"));
        }
        if let Some(server) = server {
            server.stop().await;
        }
    }

    /// Serves again on the same address after [`shutdown`](Self::shutdown),
    /// with the same resources (and TLS, if it had it); stream ids and the log carry on. Does
    /// nothing when running.
    pub async fn restart(&self) -> std::io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let (listener, _) = service::bind(self.addr).await?;
        self.shared.lock().stopped = false;
        let server = Server::spawn(self.shared.clone(), listener, self.tls.clone());
        *self.server.lock().unwrap_or_else(PoisonError::into_inner) = Some(server);
        Ok(())
    }

    /// Whether the server is up (not shut down).
    pub fn is_running(&self) -> bool {
        self.server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    // --- what happened -------------------------------------------------

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().log.clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.shared.lock().log.len()
    }

    /// Waits up to `timeout` for a request matching `pred`, counting those
    /// already received; the first match.
    pub async fn wait_for_request(
        &self,
        pred: impl Fn(&Recorded) -> bool,
        timeout: Duration,
    ) -> Option<Recorded> {
        recorder::wait_from(&self.shared, 0, pred, timeout)
            .await
            .map(|(_, r)| r)
    }

    /// Waits up to `timeout` for a request matching `pred` at index `from`
    /// or later; the match and its index (search from `index + 1` for the
    /// one after it).
    pub async fn wait_for_request_from(
        &self,
        from: usize,
        pred: impl Fn(&Recorded) -> bool,
        timeout: Duration,
    ) -> Option<(usize, Recorded)> {
        recorder::wait_from(&self.shared, from, pred, timeout).await
    }

    /// A cursor past every request received so far: its
    /// [`next`](RequestCursor::next) finds only newer ones.
    pub fn cursor(&self) -> RequestCursor {
        RequestCursor::new(self.shared.clone(), self.request_count())
    }

    /// A cursor at the first request ever received.
    pub fn cursor_from_start(&self) -> RequestCursor {
        RequestCursor::new(self.shared.clone(), 0)
    }

    /// Every response sent so far, in order.
    pub fn responses(&self) -> Vec<Sent> {
        self.shared.lock().out.sent.clone()
    }

    /// Streams accepted so far (both kinds); also the id of the latest.
    pub fn stream_count(&self) -> u64 {
        self.shared.lock().opened
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        let state = self.shared.lock();
        state.sotw.len() + state.delta.len()
    }

    /// Streams failed at once by [`refuse_connections`](Self::refuse_connections)
    /// or during a shutdown.
    pub fn refused_count(&self) -> u64 {
        self.shared.lock().refused
    }

    /// The last nonce sent on stream `stream` for `type_url`, while that
    /// stream is open.
    pub fn last_nonce(&self, stream: u64, type_url: &str) -> Option<String> {
        let state = self.shared.lock();
        let sotw = state
            .sotw
            .get(&stream)
            .and_then(|s| s.types.get(type_url)?.last_nonce.clone());
        sotw.or_else(|| {
            state
                .delta
                .get(&stream)
                .and_then(|s| s.types.get(type_url)?.last_nonce.clone())
        })
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.shared
            .lock()
            .end_streams(&Status::unavailable("the test control plane stopped"));
        let server = self
            .server
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(server) = server {
            server.abort();
        }
    }
}
