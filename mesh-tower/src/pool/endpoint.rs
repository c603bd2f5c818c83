//! The connections to one endpoint, and how a request gets one.
//!
//! HTTP/1.1 connections carry one request at a time: an idle one is
//! reused (most recently used first, so the others can time out), else a
//! new one is opened. HTTP/2 connections carry up to the cluster's
//! `max_concurrent_streams` requests each; another connection opens only
//! when all are full, and requests arriving while one is being opened
//! wait for it rather than each opening their own. A request that may
//! not open a connection (the endpoint's `max_connections_per_host` or
//! the cluster's `max_connections` reached) waits for one to come free,
//! counted against `max_pending_requests`; past that it fails fast with
//! `Overloaded`, as Envoy's pool overflow does. Its wait is bounded by the
//! attempt's timeout.

use std::fmt;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{Request, Response, Uri};
use hyper::client::conn::{TrySendError, http1, http2};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioIo, TokioTimer};
use mesh_core::config::{Cluster, ConnectionPool};
use mesh_core::resilience::breaker::{ClusterLimits, LimitPermit, Resource};
use mesh_core::{Error, ErrorKind};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tower_service::Service;

use super::OutgoingBody;
use super::executor::BoxingExecutor;
use super::lease::{Lease, Pooled};
use super::lifecycle::{Lifecycle, Timers, drive};
use crate::BoxError;

/// How many connections a request is handed before giving up, when each
/// closes before the request could leave.
const HANDOVERS: usize = 3;

/// What a pool was built for: a change makes a new pool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Settings {
    pool: ConnectionPool,
    connect_timeout: Duration,
}

impl Settings {
    pub(super) fn of(cluster: &Cluster) -> Self {
        Self {
            pool: *cluster.connection_pool,
            connect_timeout: cluster.connect_timeout,
        }
    }

    /// Whether `cluster` still asks for these settings (compared in
    /// place: this runs on every request).
    pub(super) fn match_cluster(&self, cluster: &Cluster) -> bool {
        self.pool == *cluster.connection_pool && self.connect_timeout == cluster.connect_timeout
    }
}

/// The pool of one endpoint.
pub(super) struct EndpointPool<B> {
    authority: Authority,
    settings: Settings,
    connector: HttpConnector,
    state: Mutex<State<B>>,
    /// A connection, a stream or the right to open a connection came free.
    freed: Notify,
}

struct State<B> {
    /// Idle HTTP/1.1 connections, most recently used last.
    idle: Vec<Arc<Http1<B>>>,
    /// HTTP/2 connections that may take streams.
    multiplexed: Vec<Arc<Http2<B>>>,
    /// Connections open or being opened.
    open: u32,
    /// An HTTP/2 connection is being opened.
    connecting_h2: bool,
}

/// An HTTP/1.1 connection. Its sender is locked only to send (a lease
/// holds the connection alone, so the lock is never contended).
struct Http1<B> {
    sender: Mutex<http1::SendRequest<B>>,
    life: Arc<Lifecycle>,
    pool: Weak<EndpointPool<B>>,
}

/// An HTTP/2 connection; its sender is cloned per stream.
struct Http2<B> {
    sender: http2::SendRequest<B>,
    life: Arc<Lifecycle>,
    pool: Weak<EndpointPool<B>>,
}

impl<B> fmt::Debug for EndpointPool<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointPool")
            .field("authority", &self.authority)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn overloaded(authority: &Authority, overflow: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::Overloaded,
        format!("no connection to {authority} free: {overflow}"),
    )
}

impl<B: OutgoingBody> EndpointPool<B> {
    pub(super) fn new(authority: Authority, settings: Settings) -> Arc<Self> {
        let pool = &settings.pool;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(settings.connect_timeout));
        if let Some(keepalive) = &pool.tcp_keepalive {
            // Envoy's defaults for what the keepalive leaves unset are the
            // system's; the connector needs a time to turn probes on.
            connector.set_keepalive(Some(keepalive.time.unwrap_or(Duration::from_secs(7200))));
            connector.set_keepalive_interval(keepalive.interval);
            connector.set_keepalive_retries(keepalive.probes);
        }
        Arc::new(Self {
            authority,
            settings,
            connector,
            state: Mutex::new(State {
                idle: Vec::new(),
                multiplexed: Vec::new(),
                open: 0,
                connecting_h2: false,
            }),
            freed: Notify::new(),
        })
    }

    pub(super) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether nothing is open or waiting: a pool its endpoint left can go.
    pub(super) fn is_unused(&self) -> bool {
        lock(&self.state).open == 0
    }

    /// Sends `request` over HTTP/1.1. A request that never left (its
    /// connection closed as it was handed over) is sent again on another
    /// connection, as hyper's own pool does. The common case, an idle
    /// connection, stays inline; waiting and connecting are boxed, so the
    /// future every request allocates stays small.
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` stores its arguments twice (rust-lang/rust#62958)"
    )]
    pub(super) fn send_http1(
        self: Arc<Self>,
        mut request: Request<B>,
        limits: Arc<ClusterLimits>,
    ) -> impl Future<Output = Result<Response<super::UpstreamBody>, BoxError>> + Send {
        async move {
            for _ in 0..HANDOVERS {
                let conn = match self.idle_connection() {
                    Some(conn) if conn.ready().await => conn,
                    _ => Box::pin(self.lease_http1(&limits)).await?,
                };
                let lease = Lease::new(conn.clone());
                let response = lock(&conn.sender).try_send_request(request);
                match response.await {
                    Ok(response) => return Ok(response.map(|b| super::UpstreamBody::new(b, lease))),
                    Err(e) => request = unsent(e)?,
                }
            }
            Err(self.kept_closing())
        }
    }

    /// Sends `request` on an HTTP/2 stream, as [`Self::send_http1`] does.
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` stores its arguments twice (rust-lang/rust#62958)"
    )]
    pub(super) fn send_http2(
        self: Arc<Self>,
        mut request: Request<B>,
        limits: Arc<ClusterLimits>,
    ) -> impl Future<Output = Result<Response<super::UpstreamBody>, BoxError>> + Send {
        async move {
            for _ in 0..HANDOVERS {
                let conn = match self.free_stream() {
                    Some(conn) => conn,
                    None => Box::pin(self.lease_http2(&limits)).await?,
                };
                let lease = Lease::new(conn.clone());
                match conn.sender.clone().try_send_request(request).await {
                    Ok(response) => return Ok(response.map(|b| super::UpstreamBody::new(b, lease))),
                    Err(e) => request = unsent(e)?,
                }
            }
            Err(self.kept_closing())
        }
    }

    fn kept_closing(&self) -> BoxError {
        Error::new(
            ErrorKind::Transport,
            format!("connections to {} kept closing", self.authority),
        )
        .into()
    }

    /// An idle HTTP/1.1 connection, taken for one request.
    fn idle_connection(&self) -> Option<Arc<Http1<B>>> {
        let mut state = lock(&self.state);
        std::iter::from_fn(|| state.idle.pop())
            .find(|conn| conn.life.try_begin(1, &self.settings.pool))
    }

    /// A stream on an HTTP/2 connection that has one free.
    fn free_stream(&self) -> Option<Arc<Http2<B>>> {
        let streams = self.settings.pool.max_concurrent_streams.get();
        let mut state = lock(&self.state);
        state
            .multiplexed
            .retain(|c| c.life.is_usable() && !c.sender.is_closed());
        state
            .multiplexed
            .iter()
            .find(|c| c.life.try_begin(streams, &self.settings.pool))
            .cloned()
    }

    /// An HTTP/1.1 connection: an idle one, a new one, or the first to
    /// come free.
    async fn lease_http1(
        self: &Arc<Self>,
        limits: &Arc<ClusterLimits>,
    ) -> Result<Arc<Http1<B>>, Error> {
        let mut pending: Option<LimitPermit> = None;
        loop {
            let mut freed = pin!(self.freed.notified());
            let step = match self.idle_connection() {
                Some(conn) => Step::Reuse(conn),
                None => {
                    let mut state = lock(&self.state);
                    match self.may_open(&mut state, limits) {
                        Some(permit) => Step::Open(permit),
                        None => {
                            self.wait(&mut pending, limits)?;
                            freed.as_mut().enable();
                            Step::Wait
                        }
                    }
                }
            };
            match step {
                Step::Reuse(conn) if conn.ready().await => return Ok(conn),
                Step::Reuse(_) => {}
                Step::Open(permit) => {
                    let opening = Opening::new(self, false);
                    return Box::pin(self.connect_http1(permit, opening)).await;
                }
                Step::Wait => freed.await,
            }
        }
    }

    /// A stream: on a connection with one free, on a new connection, or
    /// the first to come free.
    async fn lease_http2(
        self: &Arc<Self>,
        limits: &Arc<ClusterLimits>,
    ) -> Result<Arc<Http2<B>>, Error> {
        let mut pending: Option<LimitPermit> = None;
        loop {
            let mut freed = pin!(self.freed.notified());
            let step = match self.free_stream() {
                Some(conn) => Step::Reuse(conn),
                None => {
                    let mut state = lock(&self.state);
                    match (!state.connecting_h2)
                        .then(|| self.may_open(&mut state, limits))
                        .flatten()
                    {
                        Some(permit) => {
                            state.connecting_h2 = true;
                            Step::Open(permit)
                        }
                        None => {
                            self.wait(&mut pending, limits)?;
                            freed.as_mut().enable();
                            Step::Wait
                        }
                    }
                }
            };
            match step {
                Step::Reuse(conn) => return Ok(conn),
                Step::Open(permit) => {
                    let opening = Opening::new(self, true);
                    return Box::pin(self.connect_http2(permit, opening)).await;
                }
                Step::Wait => freed.await,
            }
        }
    }

    /// The right to open a connection, when the endpoint's and the
    /// cluster's limits allow one more; counted as open from here.
    fn may_open(&self, state: &mut State<B>, limits: &Arc<ClusterLimits>) -> Option<LimitPermit> {
        if let Some(max) = self.settings.pool.max_connections_per_host
            && state.open >= max.get()
        {
            return None;
        }
        let permit = limits.try_acquire(Resource::Connections).ok()?;
        state.open += 1;
        Some(permit)
    }

    /// Takes a place among the requests waiting for a connection, once.
    fn wait(
        &self,
        pending: &mut Option<LimitPermit>,
        limits: &Arc<ClusterLimits>,
    ) -> Result<(), Error> {
        if pending.is_none() {
            let permit = limits
                .try_acquire(Resource::PendingRequests)
                .map_err(|overflow| overloaded(&self.authority, overflow))?;
            *pending = Some(permit);
        }
        Ok(())
    }

    async fn connect(&self) -> Result<TokioIo<TcpStream>, Error> {
        let uri = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| Error::new(ErrorKind::Internal, "endpoint URI").with_source(e))?;
        self.connector.clone().call(uri).await.map_err(|e| {
            let reason = std::error::Error::source(&e)
                .map_or_else(|| e.to_string(), |source| format!("{e}: {source}"));
            Error::new(
                ErrorKind::Transport,
                format!("connect to {}: {reason}", self.authority),
            )
            .with_source(e)
        })
    }

    async fn connect_http1(
        self: &Arc<Self>,
        permit: LimitPermit,
        opening: Opening<'_, B>,
    ) -> Result<Arc<Http1<B>>, Error> {
        let io = self.connect().await?;
        let (sender, connection) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|e| handshake_failed(&self.authority, e))?;
        let life = Arc::new(Lifecycle::new());
        let began = life.try_begin(1, &self.settings.pool);
        debug_assert!(began, "a new connection takes its first request");
        self.spawn_driver(connection, life.clone(), permit, opening);
        Ok(Arc::new(Http1 {
            sender: Mutex::new(sender),
            life,
            pool: Arc::downgrade(self),
        }))
    }

    async fn connect_http2(
        self: &Arc<Self>,
        permit: LimitPermit,
        opening: Opening<'_, B>,
    ) -> Result<Arc<Http2<B>>, Error> {
        let io = self.connect().await?;
        let mut builder = http2::Builder::new(BoxingExecutor);
        builder.timer(TokioTimer::new());
        if let Some(keepalive) = &self.settings.pool.http2_keepalive {
            builder
                .keep_alive_interval(keepalive.interval)
                .keep_alive_timeout(keepalive.timeout)
                .keep_alive_while_idle(true);
        }
        let (sender, connection) = builder
            .handshake(io)
            .await
            .map_err(|e| handshake_failed(&self.authority, e))?;
        let life = Arc::new(Lifecycle::new());
        let began = life.try_begin(
            self.settings.pool.max_concurrent_streams.get(),
            &self.settings.pool,
        );
        debug_assert!(began, "a new connection takes its first request");
        let conn = Arc::new(Http2 {
            sender,
            life: life.clone(),
            pool: Arc::downgrade(self),
        });
        {
            let mut state = lock(&self.state);
            state.connecting_h2 = false;
            state.multiplexed.push(conn.clone());
        }
        self.spawn_driver(connection, life, permit, opening);
        // Everyone waiting may find a stream on it.
        self.freed.notify_waiters();
        Ok(conn)
    }

    /// Runs the connection in its own task until it ends; then it no
    /// longer counts as open, and whoever waits may open another.
    fn spawn_driver<F>(
        self: &Arc<Self>,
        connection: F,
        life: Arc<Lifecycle>,
        permit: LimitPermit,
        opening: Opening<'_, B>,
    ) where
        F: Future + Send + 'static,
    {
        opening.opened();
        let pool = Arc::downgrade(self);
        let timers = Timers::from(&self.settings.pool);
        tokio::spawn(async move {
            drive(connection, &life, timers).await;
            life.closed();
            drop(permit);
            if let Some(pool) = pool.upgrade() {
                pool.connection_closed();
            }
        });
    }

    fn connection_closed(&self) {
        let mut state = lock(&self.state);
        state.open = state.open.saturating_sub(1);
        state.idle.retain(|c| c.life.is_usable());
        state.multiplexed.retain(|c| c.life.is_usable());
        drop(state);
        self.freed.notify_one();
    }
}

/// What a request does next to get a connection.
enum Step<C> {
    /// Use this connection.
    Reuse(C),
    /// Open one, with this place in the cluster's connection limit.
    Open(LimitPermit),
    /// Wait for one to come free.
    Wait,
}

/// A connection being opened: if the opening fails or is abandoned (the
/// attempt timed out), its place is given back and a waiter woken.
struct Opening<'p, B: OutgoingBody> {
    pool: &'p EndpointPool<B>,
    http2: bool,
    done: bool,
}

impl<'p, B: OutgoingBody> Opening<'p, B> {
    fn new(pool: &'p EndpointPool<B>, http2: bool) -> Self {
        Self {
            pool,
            http2,
            done: false,
        }
    }

    fn opened(mut self) {
        self.done = true;
    }
}

impl<B: OutgoingBody> Drop for Opening<'_, B> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = lock(&self.pool.state);
        state.open = state.open.saturating_sub(1);
        if self.http2 {
            state.connecting_h2 = false;
        }
        drop(state);
        self.pool.freed.notify_waiters();
    }
}

fn handshake_failed(authority: &Authority, e: hyper::Error) -> Error {
    Error::new(
        ErrorKind::Transport,
        format!("connect to {authority}: handshake failed: {e}"),
    )
    .with_source(e)
}

/// The request back, when it never left; the error otherwise.
fn unsent<B>(mut e: TrySendError<Request<B>>) -> Result<Request<B>, BoxError> {
    e.take_message().ok_or_else(|| e.into_error().into())
}

impl<B: OutgoingBody> Http1<B> {
    /// Waits until the connection can take the request (it may still be
    /// finishing the response before); false when it closed meanwhile.
    async fn ready(&self) -> bool {
        let ready = std::future::poll_fn(|cx| lock(&self.sender).poll_ready(cx)).await;
        if ready.is_err() {
            self.life.closed();
        }
        ready.is_ok()
    }
}

impl<B: OutgoingBody> Pooled for Http1<B> {
    fn release(self: Arc<Self>, clean: bool) {
        if !clean {
            self.life.retire();
        }
        self.life.end();
        let Some(pool) = self.pool.upgrade() else {
            return;
        };
        if self.life.is_usable() {
            lock(&pool.state).idle.push(self);
        }
        pool.freed.notify_one();
    }
}

impl<B: OutgoingBody> Pooled for Http2<B> {
    /// An abandoned stream is reset by hyper alone: the connection stays.
    fn release(self: Arc<Self>, _clean: bool) {
        self.life.end();
        if let Some(pool) = self.pool.upgrade() {
            pool.freed.notify_one();
        }
    }
}
