//! What the control plane knows: the resources of each type with their
//! versions, the open streams and their subscriptions, the nonces handed
//! out and the log of requests and responses. One mutex guards it all, so
//! a change and the pushes it causes are a single step that no request can
//! interleave with; it is never held across an `.await`.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryResponse, DiscoveryResponse};
use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tonic::Status;

use super::recorder::{Recorded, Sent};
use super::{delta, sotw};
use crate::xds_resources::{CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE};

/// The state and the signal that a request was recorded.
#[derive(Debug)]
pub(super) struct Shared {
    state: Mutex<State>,
    /// How many requests are in the log; bumped after each one.
    pub(super) recorded: watch::Sender<usize>,
}

impl Shared {
    pub(super) fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            recorded: watch::Sender::new(0),
        }
    }

    /// The state; a panic elsewhere (a failed assertion in a test) does not
    /// make it unusable.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Everything behind the lock.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) store: Store,
    pub(super) out: Outbox,
    pub(super) sotw: BTreeMap<u64, sotw::Stream>,
    pub(super) delta: BTreeMap<u64, delta::Stream>,
    /// Streams accepted so far; the last one's id.
    pub(super) opened: u64,
    /// Streams failed at once because of `refuse` or a shutdown.
    pub(super) refused: u64,
    pub(super) refuse: bool,
    pub(super) stopped: bool,
    /// Every request received, in order.
    pub(super) log: Vec<Recorded>,
}

impl State {
    /// Ends every open stream with `status`; returns how many there were.
    pub(super) fn end_streams(&mut self, status: &Status) -> usize {
        let n = self.sotw.len() + self.delta.len();
        for (_, s) in std::mem::take(&mut self.sotw) {
            s.end(status.clone());
        }
        for (_, s) in std::mem::take(&mut self.delta) {
            s.end(status.clone());
        }
        n
    }
}

/// One open stream: where its responses go, the task reading its
/// requests, and a subscription per type URL.
#[derive(Debug)]
pub(super) struct OpenStream<Resp, Sub> {
    tx: mpsc::UnboundedSender<Result<Resp, Status>>,
    reader: AbortHandle,
    pub(super) types: BTreeMap<String, Sub>,
}

impl<Resp, Sub> OpenStream<Resp, Sub> {
    pub(super) fn new(
        tx: mpsc::UnboundedSender<Result<Resp, Status>>,
        reader: AbortHandle,
    ) -> Self {
        Self {
            tx,
            reader,
            types: BTreeMap::new(),
        }
    }

    /// Queues a response; a stream the client already left drops it.
    pub(super) fn send(&self, response: Resp) {
        let _ = self.tx.send(Ok(response));
    }

    /// Ends the stream with `status` and stops reading its requests.
    fn end(self, status: Status) {
        let _ = self.tx.send(Err(status));
        self.reader.abort();
    }
}

/// The nonce counter and the log of responses sent.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    last_nonce: u64,
    pub(super) sent: Vec<Sent>,
}

impl Outbox {
    /// A fresh nonce: `n1`, `n2`, ... unique across streams and types.
    pub(super) fn nonce(&mut self) -> String {
        self.last_nonce += 1;
        format!("n{}", self.last_nonce)
    }

    /// Fills in the nonce when empty, logs the response and queues it.
    pub(super) fn sotw(&mut self, id: u64, stream: &mut sotw::Stream, mut r: DiscoveryResponse) {
        if r.nonce.is_empty() {
            r.nonce = self.nonce();
        }
        if let Some(sub) = stream.types.get_mut(&r.type_url) {
            sub.last_nonce = Some(r.nonce.clone());
        }
        self.sent.push(Sent::Sotw(id, r.clone()));
        stream.send(r);
    }

    /// The same for delta.
    pub(super) fn delta(
        &mut self,
        id: u64,
        stream: &mut delta::Stream,
        mut r: DeltaDiscoveryResponse,
    ) {
        if r.nonce.is_empty() {
            r.nonce = self.nonce();
        }
        if let Some(sub) = stream.types.get_mut(&r.type_url) {
            sub.last_nonce = Some(r.nonce.clone());
        }
        self.sent.push(Sent::Delta(id, r.clone()));
        stream.send(r);
    }
}

/// The resources, by type URL then name.
#[derive(Debug, Default)]
pub(super) struct Store {
    types: BTreeMap<String, TypeState>,
}

/// One type's resources and version.
#[derive(Debug, Default)]
pub(super) struct TypeState {
    /// Bumped by every change of this type; `0` before the first.
    version: u64,
    resources: BTreeMap<String, Versioned>,
}

/// A resource and the type version that last set it (its delta version).
#[derive(Debug, Clone)]
pub(super) struct Versioned {
    pub(super) version: String,
    pub(super) resource: Any,
}

impl Store {
    /// The type's version as sent in `version_info`: `"0"` before any
    /// change, then `"1"`, `"2"`, ...
    pub(super) fn version(&self, type_url: &str) -> String {
        self.types
            .get(type_url)
            .map_or(0, |t| t.version)
            .to_string()
    }

    /// The type's resources, in name order.
    pub(super) fn resources<'a>(
        &'a self,
        type_url: &str,
    ) -> impl Iterator<Item = (&'a String, &'a Versioned)> + 'a {
        self.types
            .get(type_url)
            .into_iter()
            .flat_map(|t| t.resources.iter())
    }

    pub(super) fn get(&self, type_url: &str, name: &str) -> Option<&Versioned> {
        self.types.get(type_url)?.resources.get(name)
    }

    /// Adds or replaces a resource, bumping the type's version.
    pub(super) fn set(&mut self, type_url: &str, name: &str, resource: Any) {
        let t = self.types.entry(type_url.to_owned()).or_default();
        t.version += 1;
        let version = t.version.to_string();
        t.resources
            .insert(name.to_owned(), Versioned { version, resource });
    }

    /// Deletes a resource, bumping the type's version; false (and no bump)
    /// when there was none.
    pub(super) fn remove(&mut self, type_url: &str, name: &str) -> bool {
        let Some(t) = self.types.get_mut(type_url) else {
            return false;
        };
        let removed = t.resources.remove(name).is_some();
        if removed {
            t.version += 1;
        }
        removed
    }
}

/// Whether a type is one whose state-of-the-world responses carry every
/// subscribed resource (LDS, CDS): an empty first request subscribes to
/// all of them and a resource missing from a response is deleted.
pub(super) fn is_wildcard_type(type_url: &str) -> bool {
    type_url == LISTENER_TYPE || type_url == CLUSTER_TYPE
}

/// The name a resource goes by in xDS, from its decoded body.
pub(super) fn resource_name(any: &Any) -> Result<String, String> {
    fn decode<M: Message + Default>(any: &Any) -> Result<M, String> {
        M::decode(any.value.as_slice()).map_err(|e| format!("cannot decode {}: {e}", any.type_url))
    }
    match any.type_url.as_str() {
        LISTENER_TYPE => decode::<Listener>(any).map(|l| l.name),
        ROUTE_TYPE => decode::<RouteConfiguration>(any).map(|r| r.name),
        CLUSTER_TYPE => decode::<Cluster>(any).map(|c| c.name),
        ENDPOINT_TYPE => decode::<ClusterLoadAssignment>(any).map(|c| c.cluster_name),
        other => Err(format!("no known name field in {other:?}")),
    }
}
