//! The gRPC side: the `AggregatedDiscoveryService` implementation, which
//! registers each new stream and spawns the task that reads its requests,
//! and the tonic server running it.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status, Streaming};

use super::recorder::Recorded;
use super::state::{OpenStream, Shared, State};
use super::{delta, sotw};

/// A running tonic server.
#[derive(Debug)]
pub(super) struct Server {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    /// The TLS accept loop, which owns the listener when serving TLS.
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves ADS over `shared` on `listener` until stopped: plaintext, or
    /// TLS with `tls`.
    pub(super) fn spawn(
        shared: Arc<Shared>,
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let service = AggregatedDiscoveryServiceServer::new(Ads { shared })
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let router = tonic::transport::Server::builder().add_service(service);
        let shutdown = async move {
            let _ = stopped.await;
        };
        let (task, acceptor) = match tls {
            None => {
                let incoming = tonic::transport::server::TcpIncoming::from(listener);
                let task = tokio::spawn(async move {
                    let _ = router
                        .serve_with_incoming_shutdown(incoming, shutdown)
                        .await;
                });
                (task, None)
            }
            Some(config) => {
                let (incoming, acceptor) = tls_incoming(listener, config);
                let task = tokio::spawn(async move {
                    let _ = router
                        .serve_with_incoming_shutdown(incoming, shutdown)
                        .await;
                });
                (task, Some(acceptor))
            }
        };
        Self {
            stop,
            task,
            acceptor,
        }
    }

    /// Closes the port and waits (briefly) for connections to wind down;
    /// the streams must have been ended already, or they would hold the
    /// graceful shutdown open.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        if let Some(acceptor) = self.acceptor {
            acceptor.abort();
            let _ = acceptor.await;
        }
        let mut task = self.task;
        if tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }

    /// Stops without waiting (for `Drop`).
    pub(super) fn abort(self) {
        let _ = self.stop.send(());
        if let Some(acceptor) = self.acceptor {
            acceptor.abort();
        }
        self.task.abort();
    }
}

/// Accepts TCP on `listener` and runs each TLS handshake on its own task
/// (a slow or failing client holds up no one); only completed handshakes
/// reach tonic. A failed handshake just closes that connection, as a real
/// server would. The task returned owns the listener: aborting it closes
/// the port.
fn tls_incoming(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
) -> (
    UnboundedReceiverStream<std::io::Result<TlsIo>>,
    JoinHandle<()>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                // E.g. out of file descriptors: do not spin.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            if tx.is_closed() {
                return;
            }
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp));
                if let Ok(Ok(stream)) = handshake.await {
                    let _ = tx.send(Ok(TlsIo(stream)));
                }
            });
        }
    });
    (UnboundedReceiverStream::new(rx), task)
}

/// A server-side TLS stream that tonic accepts: tonic implements its
/// `Connected` for rustls streams only with a TLS feature, which the
/// workspace keeps off.
#[derive(Debug)]
pub(super) struct TlsIo(tokio_rustls::server::TlsStream<TcpStream>);

impl Connected for TlsIo {
    type ConnectInfo = <TcpStream as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.0.get_ref().0.connect_info()
    }
}

impl AsyncRead for TlsIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The TLS configuration of a test control plane: ring, the given
/// certificate chain and key (PEM), ALPN `h2`, and, with `client_ca_pem`,
/// client certificates required and verified against it (mutual TLS).
pub(super) fn server_tls_config(
    cert_pem: &str,
    key_pem: &str,
    client_ca_pem: Option<&str>,
) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("server certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("server key: {e}"))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                let cert = cert.map_err(|e| format!("client CA: {e}"))?;
                roots.add(cert).map_err(|e| format!("client CA: {e}"))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| format!("client CA: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("server certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Binds `addr` (port 0 for any).
pub(super) async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

#[derive(Debug)]
struct Ads {
    shared: Arc<Shared>,
}

impl Ads {
    /// Accepts a stream (or refuses it): registers it under a fresh id and
    /// spawns the reader of its requests.
    fn open<Req, Resp, Sub>(
        &self,
        inbound: Streaming<Req>,
        streams: fn(&mut State) -> &mut std::collections::BTreeMap<u64, OpenStream<Resp, Sub>>,
        on_request: fn(&mut State, u64, Req),
    ) -> Result<Response<UnboundedReceiverStream<Result<Resp, Status>>>, Status>
    where
        Req: Send + 'static,
        Resp: 'static,
        Sub: 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = self.shared.lock();
        if state.refuse || state.stopped {
            state.refused += 1;
            return Err(Status::unavailable(
                "the test control plane refuses streams",
            ));
        }
        state.opened += 1;
        let id = state.opened;
        // The reader blocks on the lock until this stream is registered.
        let reader = tokio::spawn(read(
            self.shared.clone(),
            id,
            inbound,
            on_request,
            move |state: &mut State| {
                streams(state).remove(&id);
            },
        ));
        streams(&mut state).insert(id, OpenStream::new(tx, reader.abort_handle()));
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }
}

/// Feeds each request of a stream to `on_request`, under the lock, then
/// wakes the waiters; when the client ends the stream (or it breaks),
/// `on_close` forgets it, which ends the response stream too.
async fn read<Req>(
    shared: Arc<Shared>,
    id: u64,
    mut inbound: Streaming<Req>,
    on_request: fn(&mut State, u64, Req),
    on_close: impl FnOnce(&mut State),
) {
    while let Ok(Some(request)) = inbound.message().await {
        let recorded = {
            let mut state = shared.lock();
            on_request(&mut state, id, request);
            state.log.len()
        };
        shared.recorded.send_replace(recorded);
    }
    on_close(&mut shared.lock());
}

fn on_sotw(state: &mut State, id: u64, request: DiscoveryRequest) {
    sotw::on_request(state, id, &request);
    state.log.push(Recorded::Sotw(id, request));
}

fn on_delta(state: &mut State, id: u64, request: DeltaDiscoveryRequest) {
    delta::on_request(state, id, &request);
    state.log.push(Recorded::Delta(id, request));
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for Ads {
    type StreamAggregatedResourcesStream =
        UnboundedReceiverStream<Result<DiscoveryResponse, Status>>;
    type DeltaAggregatedResourcesStream =
        UnboundedReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        self.open(request.into_inner(), |s| &mut s.sotw, on_sotw)
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        self.open(request.into_inner(), |s| &mut s.delta, on_delta)
    }
}
