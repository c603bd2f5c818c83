//! The gRPC side: the `AggregatedDiscoveryService` implementation, which
//! registers each new stream and spawns the task that reads its requests,
//! and the tonic server running it.

use std::net::SocketAddr;
use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::recorder::Recorded;
use super::state::{OpenStream, Shared, State};
use super::{delta, sotw};

/// A running tonic server.
#[derive(Debug)]
pub(super) struct Server {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Server {
    /// Serves ADS over `shared` on `listener` until stopped.
    pub(super) fn spawn(shared: Arc<Shared>, listener: TcpListener) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let service = AggregatedDiscoveryServiceServer::new(Ads { shared })
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let task = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { stop, task }
    }

    /// Closes the port and waits (briefly) for connections to wind down;
    /// the streams must have been ended already, or they would hold the
    /// graceful shutdown open.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
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
        self.task.abort();
    }
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
