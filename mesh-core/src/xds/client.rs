//! The one I/O task of the xDS client: an ADS stream over tonic that
//! feeds [`XdsState`] and swaps each new configuration into a
//! [`SnapshotHandle`].
//!
//! Everything protocol-shaped is decided by the state machine; this file
//! only moves messages, keeps time and picks the server:
//!
//! - **Reconnects** wait per gRPC's connection backoff (1 s × 1.6, ±20 %,
//!   capped at 120 s), reset once a stream has received a response. The
//!   configuration in use keeps serving meanwhile.
//! - **Fallback** (gRFC A71): when a server cannot be reached and some
//!   subscribed resource has never been received, the next server of the
//!   bootstrap is tried at once. While on a fallback server the primary is
//!   probed at each backoff interval; once it accepts a connection the
//!   client switches back to it.
//! - **On-disk snapshot**: with a path set, the accepted resources are
//!   written after each published update and restored at start-up, so a
//!   process can serve while the control plane is down.
//!
//! Requests never wait on this task: they read the snapshot handle.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Streaming;
use tonic::transport::{Channel, Endpoint};

use super::backoff::ReconnectBackoff;
use super::bootstrap::{Bootstrap, ChannelCreds, XdsServer};
use super::state::{Outgoing, Protocol, XdsOptions, XdsState, XdsStats};
use super::tls::TlsDialer;
use crate::config::MeshConfig;
use crate::rng::ThreadRng;
use crate::snapshot::SnapshotHandle;

/// Largest response accepted: big meshes send big snapshots (tonic's
/// default of 4 MiB is too small for 50 000 endpoints).
const MAX_RESPONSE_BYTES: usize = 256 << 20;

/// How the client reaches its servers, beyond what the bootstrap says.
#[derive(Debug, Clone)]
pub struct XdsClientOptions {
    /// What to subscribe to; `protocol` is overridden to delta when the
    /// server announces the `xds_delta` feature.
    pub xds: XdsOptions,
    /// Where to keep the last-good snapshot, if anywhere.
    pub snapshot_path: Option<PathBuf>,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
    /// User agent reported in the node.
    pub user_agent: String,
}

impl Default for XdsClientOptions {
    fn default() -> Self {
        Self {
            xds: XdsOptions::default(),
            snapshot_path: None,
            connect_timeout: Duration::from_secs(5),
            user_agent: "mesh".to_owned(),
        }
    }
}

/// Why the client could not start.
#[derive(Debug, thiserror::Error)]
pub enum XdsClientError {
    /// The bootstrap names no server.
    #[error("the bootstrap names no xDS server")]
    NoServer,
    /// A server URI tonic cannot use.
    #[error("xDS server {uri:?}: {reason}")]
    BadServer {
        /// The URI as given.
        uri: String,
        /// What is wrong.
        reason: String,
    },
    /// Called outside a tokio runtime.
    #[error("the xDS client must be started inside a tokio runtime")]
    NoRuntime,
}

/// State shared by the task and the handle.
#[derive(Debug)]
struct Shared {
    state: Mutex<XdsState>,
    snapshots: Arc<SnapshotHandle>,
    published: watch::Sender<u64>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, XdsState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running xDS client. Dropping it stops the stream; the snapshot handle
/// keeps serving the last configuration.
#[derive(Debug)]
pub struct XdsClient {
    shared: Arc<Shared>,
    published: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Drop for XdsClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl XdsClient {
    /// Starts the client on the current tokio runtime, serving into a new
    /// snapshot handle (empty until the first configuration).
    pub fn start(bootstrap: &Bootstrap, options: XdsClientOptions) -> Result<Self, XdsClientError> {
        Self::start_with(
            bootstrap,
            options,
            Arc::new(SnapshotHandle::from_config(MeshConfig::default())),
        )
    }

    /// Starts the client, serving into `snapshots`.
    pub fn start_with(
        bootstrap: &Bootstrap,
        mut options: XdsClientOptions,
        snapshots: Arc<SnapshotHandle>,
    ) -> Result<Self, XdsClientError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| XdsClientError::NoRuntime)?;
        let primary = bootstrap
            .xds_servers
            .first()
            .ok_or(XdsClientError::NoServer)?;
        let servers = bootstrap
            .xds_servers
            .iter()
            .map(|s| Server::new(s, options.connect_timeout))
            .collect::<Result<Vec<_>, _>>()?;
        if primary.delta() {
            options.xds.protocol = Protocol::Delta;
        }
        options.xds.ignore_resource_deletion |= primary.ignore_resource_deletion();
        options.xds.keep_raw |= options.snapshot_path.is_some();
        let node = bootstrap
            .node
            .to_proto(&options.user_agent, env!("CARGO_PKG_VERSION"));
        let mut state = XdsState::new(options.xds.clone(), node);
        let (published, receiver) = watch::channel(0);
        if let Some(path) = &options.snapshot_path
            && let Ok(bytes) = std::fs::read(path)
        {
            // A damaged file is no worse than none: the server fills in.
            match state.restore(&bytes, Instant::now().into_std()) {
                Ok(n) => {
                    tracing::info!(path = %path.display(), resources = n, "xDS snapshot restored")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "xDS snapshot ignored")
                }
            }
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            snapshots,
            published,
        });
        publish(&shared, None);
        let task = runtime.spawn(run(shared.clone(), servers, options.snapshot_path));
        Ok(Self {
            shared,
            published: receiver,
            task,
        })
    }

    /// The handle requests read.
    pub fn snapshots(&self) -> &Arc<SnapshotHandle> {
        &self.shared.snapshots
    }

    /// Waits until a configuration has been published (from the server or
    /// the on-disk snapshot); `false` if `timeout` passed first.
    pub async fn ready(&self, timeout: Duration) -> bool {
        let mut rx = self.published.clone();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n > 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits until a configuration newer than `generation` (see
    /// [`Self::generation`]) is published; `false` if `timeout` passed
    /// first. Read the generation before changing the control plane, so
    /// an update published in between is not missed.
    pub async fn published_after(&self, generation: u64, timeout: Duration) -> bool {
        let mut rx = self.published.clone();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n > generation))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// How many configurations were published so far.
    pub fn generation(&self) -> u64 {
        *self.published.borrow()
    }

    /// The counters.
    pub fn stats(&self) -> XdsStats {
        self.shared.state().stats()
    }

    /// The config dump (see [`XdsState::config_dump`]).
    pub fn config_dump(&self) -> serde_json::Value {
        self.shared
            .state()
            .config_dump(Instant::now().into_std(), SystemTime::now())
    }

    /// Runs `f` on the state machine (for introspection and tests).
    pub fn inspect<R>(&self, f: impl FnOnce(&XdsState) -> R) -> R {
        f(&self.shared.state())
    }
}

/// One server of the bootstrap, ready to connect to.
#[derive(Debug, Clone)]
struct Server {
    endpoint: Endpoint,
    /// The socket path of a `unix:` server (Istio's agent serves one).
    unix_path: Option<String>,
    /// How to dial a server with `tls` creds (the endpoint's URI is then
    /// plain `http`: the connector does the TLS).
    tls: Option<TlsDialer>,
}

impl Server {
    fn new(server: &XdsServer, connect_timeout: Duration) -> Result<Self, XdsClientError> {
        let bad = |reason: String| XdsClientError::BadServer {
            uri: server.server_uri.clone(),
            reason,
        };
        let uri = server.endpoint_uri();
        let (uri, unix_path, tls) = match &server.channel_creds {
            ChannelCreds::Tls(files) => {
                // The PEM files are read now: a bad one fails the start.
                let dialer = TlsDialer::new(files, &uri).map_err(|e| bad(e.to_string()))?;
                (dialer.plain_uri().to_owned(), None, Some(dialer))
            }
            ChannelCreds::Insecure => match uri.strip_prefix("unix:") {
                Some(path) => (
                    "http://localhost".to_owned(),
                    Some(path.trim_start_matches("//").to_owned()),
                    None,
                ),
                None => (uri, None, None),
            },
        };
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| bad(e.to_string()))?
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10));
        Ok(Self {
            endpoint,
            unix_path,
            tls,
        })
    }

    async fn connect(&self) -> Result<Channel, tonic::transport::Error> {
        if let Some(tls) = &self.tls {
            return self.endpoint.connect_with_connector(tls.connector()).await;
        }
        let Some(path) = self.unix_path.clone() else {
            return self.endpoint.connect().await;
        };
        let connector = tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        });
        self.endpoint.connect_with_connector(connector).await
    }
}

/// How a stream ended.
enum Ended {
    /// It broke; `heard` tells whether any response arrived first.
    Broke { heard: bool },
    /// The primary is back: leave the fallback server.
    PrimaryBack(Channel),
}

/// The task: connect, stream, reconnect, forever.
async fn run(shared: Arc<Shared>, servers: Vec<Server>, path: Option<PathBuf>) {
    let mut backoff = ReconnectBackoff::default();
    let mut rng = ThreadRng;
    let mut index = 0;
    let mut ready: Option<Channel> = None;
    loop {
        let channel = match ready.take() {
            Some(channel) => Ok(channel),
            None => servers[index].connect().await,
        };
        let ended = match channel {
            Ok(channel) => {
                let primary = (index > 0).then(|| &servers[0]);
                stream(
                    &shared,
                    channel,
                    primary,
                    &mut backoff,
                    &mut rng,
                    path.as_ref(),
                )
                .await
            }
            Err(e) => {
                tracing::warn!(server = index, error = %e, "xDS server unreachable");
                shared.state().connect_failed();
                Ended::Broke { heard: false }
            }
        };
        shared.state().stream_lost();
        match ended {
            Ended::PrimaryBack(channel) => {
                index = 0;
                ready = Some(channel);
                backoff.reset();
            }
            Ended::Broke { heard: true } => {
                // A healthy stream that ended: reconnect at once.
                backoff.reset();
            }
            Ended::Broke { heard: false } => {
                let missing = shared.state().has_missing();
                if missing && index + 1 < servers.len() {
                    index += 1;
                    continue;
                }
                index = 0;
                sleep(backoff.next_delay(&mut rng)).await;
            }
        }
    }
}

/// Runs one ADS stream until it breaks (or the primary returns).
async fn stream(
    shared: &Shared,
    channel: Channel,
    primary: Option<&Server>,
    backoff: &mut ReconnectBackoff,
    rng: &mut ThreadRng,
    path: Option<&PathBuf>,
) -> Ended {
    let mut client = AggregatedDiscoveryServiceClient::new(channel)
        .max_decoding_message_size(MAX_RESPONSE_BYTES);
    let protocol = shared.state().protocol();
    let (sotw_tx, sotw_rx) = mpsc::unbounded_channel::<DiscoveryRequest>();
    let (delta_tx, delta_rx) = mpsc::unbounded_channel::<DeltaDiscoveryRequest>();
    let first = shared.state().stream_started(Instant::now().into_std());
    send(&sotw_tx, &delta_tx, first);
    let mut inbound = match protocol {
        Protocol::StateOfTheWorld => {
            let requests = UnboundedReceiverStream::new(sotw_rx);
            match client.stream_aggregated_resources(requests).await {
                Ok(r) => Inbound::Sotw(r.into_inner()),
                Err(status) => return refused(&status),
            }
        }
        Protocol::Delta => {
            let requests = UnboundedReceiverStream::new(delta_rx);
            match client.delta_aggregated_resources(requests).await {
                Ok(r) => Inbound::Delta(r.into_inner()),
                Err(status) => return refused(&status),
            }
        }
    };
    let mut heard = false;
    let mut probe_at = Instant::now() + backoff.next_delay(rng);
    loop {
        let deadline = shared.state().next_deadline().map(Instant::from_std);
        tokio::select! {
            message = inbound.next() => {
                let now = Instant::now().into_std();
                let out = {
                    let mut state = shared.state();
                    match message {
                        Ok(Some(Response::Sotw(r))) => state.on_response(r, now),
                        Ok(Some(Response::Delta(r))) => state.on_delta_response(r, now),
                        Ok(None) => {
                            tracing::info!("xDS stream closed by the server");
                            return Ended::Broke { heard };
                        }
                        Err(status) => {
                            tracing::warn!(code = ?status.code(), message = status.message(), "xDS stream broke");
                            return Ended::Broke { heard };
                        }
                    }
                };
                if !heard {
                    heard = true;
                    backoff.reset();
                }
                send(&sotw_tx, &delta_tx, out);
                publish(shared, path);
            }
            _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                let out = shared.state().on_timer(Instant::now().into_std());
                send(&sotw_tx, &delta_tx, out);
                publish(shared, path);
            }
            _ = sleep_until(probe_at), if primary.is_some() => {
                if let Some(primary) = primary
                    && let Ok(channel) = primary.connect().await
                {
                    return Ended::PrimaryBack(channel);
                }
                probe_at = Instant::now() + backoff.next_delay(rng);
            }
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// Swaps in the newest configuration, if there is one, and saves it.
fn publish(shared: &Shared, path: Option<&PathBuf>) {
    let (config, bytes) = {
        let mut state = shared.state();
        let Some(config) = state.take_config() else {
            return;
        };
        let bytes = path.and_then(|_| state.persisted());
        (config, bytes)
    };
    shared.snapshots.update_shared(config);
    shared.published.send_modify(|n| *n += 1);
    if let (Some(path), Some(bytes)) = (path, bytes) {
        save(path, &bytes);
    }
}

/// A stream the server would not open.
fn refused(status: &tonic::Status) -> Ended {
    tracing::warn!(code = ?status.code(), message = status.message(), "xDS stream refused");
    Ended::Broke { heard: false }
}

/// Writes the snapshot file atomically (a temporary file, then a rename).
fn save(path: &PathBuf, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "xDS snapshot not saved");
    }
}

fn send(
    sotw: &mpsc::UnboundedSender<DiscoveryRequest>,
    delta: &mpsc::UnboundedSender<DeltaDiscoveryRequest>,
    out: Vec<Outgoing>,
) {
    for request in out {
        let _ = match request {
            Outgoing::Sotw(r) => sotw.send(r).is_ok(),
            Outgoing::Delta(r) => delta.send(r).is_ok(),
        };
    }
}

enum Inbound {
    Sotw(Streaming<DiscoveryResponse>),
    Delta(Streaming<DeltaDiscoveryResponse>),
}

enum Response {
    Sotw(DiscoveryResponse),
    Delta(DeltaDiscoveryResponse),
}

impl Inbound {
    async fn next(&mut self) -> Result<Option<Response>, tonic::Status> {
        Ok(match self {
            Self::Sotw(s) => s.message().await?.map(Response::Sotw),
            Self::Delta(s) => s.message().await?.map(Response::Delta),
        })
    }
}
