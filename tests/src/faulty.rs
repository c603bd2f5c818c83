//! A real HTTP backend on loopback whose misbehaviour a test scripts.
//!
//! The resilience features of the mesh (retries, outlier detection,
//! timeouts, mirroring) only show their worth against a backend that
//! fails: answers errors, never answers, answers late or drops the
//! connection. [`FaultyBackend`] is such a backend. Like
//! `mesh_examples::backend::Backend` it is a real hyper server speaking
//! HTTP/1.1 and HTTP/2 (prior knowledge, auto-detected) on an ephemeral
//! loopback port, with a task per connection, and stops when its handle
//! drops; but what it does with each request is a [`Behavior`] the test
//! picks at start and can change while it runs ([`FaultyBackend::set`]).
//!
//! Every answer carries `x-backend: <name>` and has the name as its body;
//! failing answers can also carry extra headers such as `retry-after: 0`
//! ([`FaultyBackend::with_failure_header`]). The backend counts the
//! requests it received and those it answered with 200, so a test can
//! check how many attempts reached it.
//!
//! [`Behavior::Reset`] makes the client see a transport error, never a
//! response: the request's connection is closed with a TCP reset (abortive
//! close) right after the request head was read. For HTTP/2 this kills the
//! whole connection, so the other requests in flight on it fail too.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};

/// At most this many connections are served at once; more wait in the
/// listener's backlog.
const MAX_CONNECTIONS: usize = 256;

/// At most this many bytes of a request body are read; the rest is left
/// unread.
const MAX_BODY: usize = 1 << 20;

/// Pause after a failed `accept` (e.g. out of file descriptors), so the
/// accept loop never spins.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// What a [`FaultyBackend`] does with each request.
///
/// The behaviour is read when a request arrives: changing it affects the
/// requests that arrive afterwards, not those already being handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// Answers 200.
    Ok,
    /// Answers every request with this status. A status that is not a
    /// final one (below 200 or above 999) is answered as 500.
    Status(u16),
    /// Deterministic failures: of each window of `of` requests, the first
    /// `fail` are answered with `status` and the rest with 200. The
    /// requests are counted per backend, from the moment this behaviour was
    /// set, so `FailEvery { status: 503, fail: 1, of: 3 }` answers
    /// 503, 200, 200, 503, 200, 200... An `of` of 0 counts as 1; a `fail`
    /// at least `of` fails every request.
    FailEvery {
        /// The status of the failing answers.
        status: u16,
        /// How many requests of each window fail.
        fail: u32,
        /// The size of the window.
        of: u32,
    },
    /// Reads the request and never answers: the request stays pending until
    /// the client gives up (closes the connection) or the backend drops.
    Hang,
    /// Closes the request's connection abruptly (TCP reset) after reading
    /// the request head, without answering. With HTTP/2 the other requests
    /// on that connection fail as well.
    Reset,
    /// Answers 200 after this delay.
    Delay(Duration),
}

/// A running backend misbehaving as told; dropping it stops the server,
/// closes its connections and releases the requests it holds.
#[derive(Debug)]
pub struct FaultyBackend {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl FaultyBackend {
    /// Starts a backend called `name` behaving as `behavior`, on an
    /// ephemeral port of 127.0.0.1. Fails if `name` cannot be a header
    /// value or the port cannot be bound.
    pub async fn start(name: &str, behavior: Behavior) -> std::io::Result<Self> {
        let name_header = HeaderValue::from_str(name).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("backend name {name:?} is not a valid header value"),
            )
        })?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            name: name.into(),
            name_header,
            state: Mutex::new(State {
                behavior,
                seen: 0,
                failure_headers: Vec::new(),
                last_headers: None,
            }),
            requests: AtomicU64::new(0),
            answered_ok: AtomicU64::new(0),
            connections_accepted: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Self { shared, addr, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The backend's name, as it answers in `x-backend` and the body.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Changes the behaviour, for the requests that arrive from now on.
    /// Restarts the count of [`Behavior::FailEvery`] windows.
    pub fn set(&self, behavior: Behavior) {
        let mut state = self.shared.lock();
        state.behavior = behavior;
        state.seen = 0;
    }

    /// The current behaviour.
    pub fn behavior(&self) -> Behavior {
        self.shared.lock().behavior.clone()
    }

    /// Adds a header to every answer whose status is not 200 (e.g.
    /// `retry-after: 0` on the failures), from now on.
    ///
    /// # Panics
    ///
    /// If `name` is not a valid (lowercase) header name or `value` not a
    /// valid header value.
    pub fn with_failure_header(self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|_| panic!("{name:?} is not a valid header name"));
        let value = HeaderValue::from_str(value)
            .unwrap_or_else(|_| panic!("{value:?} is not a valid header value"));
        self.shared.lock().failure_headers.push((name, value));
        self
    }

    /// Requests received so far, however they ended (answered, failed,
    /// hung or reset). A request counts once its head has been read.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Requests answered with status 200 so far.
    pub fn answered_ok(&self) -> u64 {
        self.shared.answered_ok.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections_accepted.load(Ordering::Relaxed)
    }

    /// Connections open now (closed ones count out once their task ends).
    pub fn connections_open(&self) -> u64 {
        self.shared.connections_open.load(Ordering::Relaxed)
    }

    /// The headers of the last request received, if any.
    pub fn last_request_headers(&self) -> Option<http::HeaderMap> {
        self.shared.lock().last_headers.clone()
    }
}

impl Drop for FaultyBackend {
    fn drop(&mut self) {
        // The accept loop owns the connection tasks (a `JoinSet`): aborting
        // it aborts them, which closes the sockets and wakes the requests
        // that hang or wait.
        self.task.abort();
    }
}

/// What the server side shares with the handle.
#[derive(Debug)]
struct Shared {
    name: Arc<str>,
    name_header: HeaderValue,
    state: Mutex<State>,
    requests: AtomicU64,
    answered_ok: AtomicU64,
    connections_accepted: AtomicU64,
    connections_open: AtomicU64,
}

/// The mutable part: the behaviour and what depends on it.
#[derive(Debug)]
struct State {
    behavior: Behavior,
    /// Requests seen since `behavior` was set (for `FailEvery`).
    seen: u64,
    failure_headers: Vec<(HeaderName, HeaderValue)>,
    last_headers: Option<http::HeaderMap>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a request, keeps its headers and decides its fate.
    fn next_action(&self, headers: &http::HeaderMap) -> Action {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        state.last_headers = Some(headers.clone());
        let seen = state.seen;
        state.seen += 1;
        match state.behavior {
            Behavior::Ok => Action::Answer(StatusCode::OK, None),
            Behavior::Status(status) => Action::Answer(status_code(status), None),
            Behavior::FailEvery { status, fail, of } => {
                if seen % u64::from(of.max(1)) < u64::from(fail) {
                    Action::Answer(status_code(status), None)
                } else {
                    Action::Answer(StatusCode::OK, None)
                }
            }
            Behavior::Hang => Action::Hang,
            Behavior::Reset => Action::Reset,
            Behavior::Delay(delay) => Action::Answer(StatusCode::OK, Some(delay)),
        }
    }

    /// The answer with `status`, counted if it is a 200.
    fn response(&self, status: StatusCode) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.name.to_string())));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert("x-backend", self.name_header.clone());
        if status == StatusCode::OK {
            self.answered_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            for (name, value) in &self.lock().failure_headers {
                headers.append(name.clone(), value.clone());
            }
        }
        response
    }
}

/// The fate of one request.
enum Action {
    /// Answer with this status, after this delay.
    Answer(StatusCode, Option<Duration>),
    Hang,
    Reset,
}

/// `status` if it is a final status, else 500.
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| !s.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The service's error: the request's connection went away (or is being
/// reset) before it was answered.
#[derive(Debug)]
struct ConnectionGone;

impl fmt::Display for ConnectionGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the connection closed before the answer")
    }
}

impl std::error::Error for ConnectionGone {}

/// What a request's handler knows of its connection.
#[derive(Clone)]
struct ConnectionControl {
    /// Asks the connection task to reset the connection.
    reset: Arc<Notify>,
    /// Never written: `changed` fails once the connection task ended.
    closed: watch::Receiver<()>,
}

impl ConnectionControl {
    /// Waits until the connection task ended. With HTTP/2 the handlers run
    /// in their own tasks, which this releases.
    async fn closed(&self) {
        let mut closed = self.closed.clone();
        while closed.changed().await.is_ok() {}
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Dropping the set (when this task is aborted) aborts the connections.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    shared.connections_accepted.fetch_add(1, Ordering::Relaxed);
                    shared.connections_open.fetch_add(1, Ordering::Relaxed);
                    let shared = shared.clone();
                    connections.spawn(async move {
                        serve_connection(stream, shared.clone()).await;
                        shared.connections_open.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves one connection until it ends or a handler asks for a reset.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let (closed_tx, closed) = watch::channel(());
    let control = ConnectionControl {
        reset: Arc::new(Notify::new()),
        closed,
    };
    // A second handle on the socket, to make its close abortive on reset
    // (the stream itself is owned by hyper's connection).
    let Ok((stream, twin)) = split_twin(stream) else {
        return;
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let service = {
        let control = control.clone();
        service_fn(move |request| handle(request, shared.clone(), control.clone()))
    };
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        () = control.reset.notified() => {
            if let Some(twin) = &twin {
                // A zero linger turns the close into a TCP reset.
                let _ = twin.set_zero_linger();
            }
        }
    }
    // The connection (and so its stream) is dropped by now; dropping the
    // twin closes the socket for good.
    drop(twin);
    drop(closed_tx);
}

/// The stream back, and a second handle on the same socket if one could be
/// made.
fn split_twin(stream: TcpStream) -> std::io::Result<(TcpStream, Option<TcpSocket>)> {
    let std_stream = stream.into_std()?;
    let twin = std_stream.try_clone().ok().map(TcpSocket::from_std_stream);
    Ok((TcpStream::from_std(std_stream)?, twin))
}

async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    control: ConnectionControl,
) -> Result<Response<Full<Bytes>>, ConnectionGone> {
    match shared.next_action(request.headers()) {
        Action::Reset => {
            control.reset.notify_one();
            control.closed().await;
            Err(ConnectionGone)
        }
        Action::Hang => {
            tokio::select! {
                () = read_body(request) => {}
                () = control.closed() => return Err(ConnectionGone),
            }
            control.closed().await;
            Err(ConnectionGone)
        }
        Action::Answer(status, delay) => {
            let wait = async {
                read_body(request).await;
                if let Some(delay) = delay {
                    tokio::time::sleep(delay).await;
                }
            };
            tokio::select! {
                () = wait => Ok(shared.response(status)),
                () = control.closed() => Err(ConnectionGone),
            }
        }
    }
}

/// Reads (and discards) the request body, up to [`MAX_BODY`] bytes.
async fn read_body(request: Request<Incoming>) {
    let _ = Limited::new(request.into_body(), MAX_BODY).collect().await;
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A generous guard so that a broken backend fails a test instead of
    /// hanging it; never used to assert on timing.
    const GUARD: Duration = Duration::from_secs(10);

    type TestClient = Client<HttpConnector, Full<Bytes>>;

    fn http1() -> TestClient {
        Client::builder(TokioExecutor::new()).build_http()
    }

    fn http2() -> TestClient {
        Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http()
    }

    async fn send(
        client: &TestClient,
        backend: &FaultyBackend,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        let request = Request::get(format!("http://{}/", backend.addr()))
            .body(Full::default())
            .expect("valid request");
        tokio::time::timeout(GUARD, client.request(request))
            .await
            .expect("the backend answers or fails within the guard")
    }

    /// Status, `x-backend` and body of a successful exchange.
    async fn exchange(client: &TestClient, backend: &FaultyBackend) -> (u16, String, String) {
        let response = send(client, backend).await.expect("a response");
        let status = response.status().as_u16();
        let header = response.headers()["x-backend"]
            .to_str()
            .expect("text")
            .to_owned();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, header, String::from_utf8_lossy(&body).into_owned())
    }

    async fn wait_for_requests(backend: &FaultyBackend, n: u64) {
        let deadline = Instant::now() + GUARD;
        while backend.requests() < n {
            assert!(Instant::now() < deadline, "{n} requests never arrived");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn ok_answers_with_the_name() {
        let backend = FaultyBackend::start("alpha", Behavior::Ok).await.unwrap();
        assert_eq!(backend.name(), "alpha");
        for client in [http1(), http2()] {
            let (status, header, body) = exchange(&client, &backend).await;
            assert_eq!((status, &*header, &*body), (200, "alpha", "alpha"));
        }
        assert_eq!(backend.requests(), 2);
        assert_eq!(backend.answered_ok(), 2);
    }

    #[tokio::test]
    async fn status_answers_every_request_with_it() {
        let backend = FaultyBackend::start("s", Behavior::Status(500))
            .await
            .unwrap();
        let client = http1();
        for _ in 0..3 {
            let (status, header, body) = exchange(&client, &backend).await;
            assert_eq!((status, &*header, &*body), (500, "s", "s"));
        }
        assert_eq!(backend.requests(), 3);
        assert_eq!(backend.answered_ok(), 0);
    }

    #[tokio::test]
    async fn fail_every_follows_its_pattern_with_failure_headers() {
        let backend = FaultyBackend::start(
            "f",
            Behavior::FailEvery {
                status: 503,
                fail: 1,
                of: 3,
            },
        )
        .await
        .unwrap()
        .with_failure_header("retry-after", "0");
        let client = http1();
        let mut statuses = Vec::new();
        for _ in 0..9 {
            let response = send(&client, &backend).await.expect("a response");
            let retry_after = response.headers().get("retry-after").cloned();
            assert_eq!(retry_after.is_some(), response.status() != StatusCode::OK);
            statuses.push(response.status().as_u16());
        }
        assert_eq!(statuses, [503, 200, 200, 503, 200, 200, 503, 200, 200]);
        assert_eq!(backend.requests(), 9);
        assert_eq!(backend.answered_ok(), 6);
    }

    #[tokio::test]
    async fn set_changes_the_behavior_and_restarts_windows() {
        let backend = FaultyBackend::start("c", Behavior::Status(500))
            .await
            .unwrap();
        let client = http2();
        assert_eq!(exchange(&client, &backend).await.0, 500);
        backend.set(Behavior::Ok);
        assert_eq!(backend.behavior(), Behavior::Ok);
        assert_eq!(exchange(&client, &backend).await.0, 200);
        backend.set(Behavior::FailEvery {
            status: 502,
            fail: 2,
            of: 3,
        });
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(exchange(&client, &backend).await.0);
        }
        assert_eq!(statuses, [502, 502, 200, 502]);
        assert_eq!(backend.requests(), 6);
        assert_eq!(backend.answered_ok(), 2);
    }

    #[tokio::test]
    async fn reset_is_a_transport_error_over_http1() {
        let backend = FaultyBackend::start("r", Behavior::Reset).await.unwrap();
        let client = http1();
        let error = send(&client, &backend).await.expect_err("no response");
        assert!(!error.is_connect(), "the connection was made: {error:?}");
        assert_eq!(backend.requests(), 1);
        assert_eq!(backend.answered_ok(), 0);
        // The backend recovers, on a new connection.
        backend.set(Behavior::Ok);
        assert_eq!(exchange(&client, &backend).await.0, 200);
    }

    #[tokio::test]
    async fn reset_is_a_transport_error_over_http2() {
        let backend = FaultyBackend::start("r2", Behavior::Reset).await.unwrap();
        let client = http2();
        send(&client, &backend).await.expect_err("no response");
        assert_eq!(backend.requests(), 1);
        backend.set(Behavior::Ok);
        assert_eq!(exchange(&client, &backend).await.0, 200);
    }

    #[tokio::test]
    async fn reset_sends_no_byte_of_a_response() {
        let backend = FaultyBackend::start("raw", Behavior::Reset).await.unwrap();
        let mut stream = TcpStream::connect(backend.addr()).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: raw\r\n\r\n")
            .await
            .unwrap();
        let mut received = Vec::new();
        let read = tokio::time::timeout(GUARD, stream.read_to_end(&mut received))
            .await
            .expect("the connection closes");
        assert!(received.is_empty(), "got {received:?}");
        let error = read.expect_err("an abortive close");
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn hang_never_answers_but_counts() {
        let backend = FaultyBackend::start("h", Behavior::Hang).await.unwrap();
        let client = http1();
        let request = Request::get(format!("http://{}/", backend.addr()))
            .body(Full::default())
            .unwrap();
        let outcome =
            tokio::time::timeout(Duration::from_millis(200), client.request(request)).await;
        assert!(outcome.is_err(), "no answer: {outcome:?}");
        wait_for_requests(&backend, 1).await;
        assert_eq!(backend.answered_ok(), 0);
    }

    #[tokio::test]
    async fn dropping_the_backend_releases_hung_requests() {
        let backend = FaultyBackend::start("d", Behavior::Hang).await.unwrap();
        let mut pending = Vec::new();
        for (sent, client) in (1..).zip([http1(), http2()]) {
            let request = Request::get(format!("http://{}/", backend.addr()))
                .body(Full::default())
                .unwrap();
            pending.push(tokio::spawn(async move { client.request(request).await }));
            wait_for_requests(&backend, sent).await;
        }
        assert!(pending.iter().all(|p| !p.is_finished()));
        drop(backend);
        for request in pending {
            let outcome = tokio::time::timeout(GUARD, request)
                .await
                .expect("released by the drop")
                .expect("the task ran");
            assert!(outcome.is_err(), "no answer: {outcome:?}");
        }
    }

    #[tokio::test]
    async fn delay_answers_after_the_delay() {
        let delay = Duration::from_millis(50);
        let backend = FaultyBackend::start("slow", Behavior::Delay(delay))
            .await
            .unwrap();
        let client = http1();
        let started = Instant::now();
        let (status, _, body) = exchange(&client, &backend).await;
        assert!(started.elapsed() >= delay);
        assert_eq!((status, &*body), (200, "slow"));
        assert_eq!(backend.answered_ok(), 1);
    }
}
