//! State of the world (`StreamAggregatedResources`): each response of a
//! type carries every subscribed resource of that type.
//!
//! Per stream and type the server keeps the subscription (explicit names,
//! plus the wildcard for LDS/CDS) and the last nonce it sent. A request:
//!
//! - whose `response_nonce` is set but is not the last nonce sent for its
//!   type on this stream is stale and ignored, as the xDS protocol says
//!   (the first request of a type on a new stream is never stale);
//! - otherwise replaces the subscription with its `resource_names` (`*`
//!   or, for LDS/CDS, empty names on the first request or while already
//!   wildcard, mean wildcard);
//! - gets a response when it is the first of its type on the stream or
//!   changed the subscription, unless it is a NACK (`error_detail` set).
//!   An ACK (same names, current nonce, no error) gets none.
//!
//! A response carries the type's current version. For LDS/CDS it is
//! always sent, even empty (absence means deletion); for RDS/EDS an empty
//! one says nothing and is not sent.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};

use super::state::{OpenStream, Outbox, State, Store, is_wildcard_type};

/// An open state-of-the-world stream.
pub(super) type Stream = OpenStream<DiscoveryResponse, Subscription>;

/// One type's subscription on one stream.
#[derive(Debug, Default)]
pub(super) struct Subscription {
    wildcard: bool,
    names: BTreeSet<String>,
    pub(super) last_nonce: Option<String>,
}

impl Subscription {
    fn covers(&self, name: &str) -> bool {
        self.wildcard || self.names.contains(name)
    }
}

/// Handles a request received on stream `id`.
pub(super) fn on_request(state: &mut State, id: u64, req: &DiscoveryRequest) {
    let State {
        store, out, sotw, ..
    } = state;
    let Some(stream) = sotw.get_mut(&id) else {
        return;
    };
    let ty = req.type_url.as_str();
    let first = !stream.types.contains_key(ty);
    let sub = stream.types.entry(ty.to_owned()).or_default();
    if !first
        && !req.response_nonce.is_empty()
        && sub.last_nonce.as_deref() != Some(req.response_nonce.as_str())
    {
        return;
    }
    let names: BTreeSet<String> = req
        .resource_names
        .iter()
        .filter(|n| *n != "*")
        .cloned()
        .collect();
    let wildcard = req.resource_names.iter().any(|n| n == "*")
        || (req.resource_names.is_empty() && is_wildcard_type(ty) && (first || sub.wildcard));
    let changed = first || wildcard != sub.wildcard || names != sub.names;
    sub.wildcard = wildcard;
    sub.names = names;
    if changed && req.error_detail.is_none() {
        respond(store, out, id, stream, ty);
    }
}

/// After `name` of `type_url` was set: a response to every stream whose
/// subscription covers it.
pub(super) fn push_set(state: &mut State, type_url: &str, name: &str) {
    push(state, type_url, |sub| sub.covers(name));
}

/// After `name` of `type_url` was removed: for LDS/CDS, a response without
/// it to every stream whose subscription covered it; for RDS/EDS nothing
/// (later responses simply leave it out).
pub(super) fn push_removed(state: &mut State, type_url: &str, name: &str) {
    if is_wildcard_type(type_url) {
        push(state, type_url, |sub| sub.covers(name));
    }
}

fn push(state: &mut State, ty: &str, wanted: impl Fn(&Subscription) -> bool) {
    let State {
        store, out, sotw, ..
    } = state;
    for (id, stream) in sotw.iter_mut() {
        if stream.types.get(ty).is_some_and(&wanted) {
            respond(store, out, *id, stream, ty);
        }
    }
}

/// Sends the current state of `ty` for the stream's subscription.
fn respond(store: &Store, out: &mut Outbox, id: u64, stream: &mut Stream, ty: &str) {
    let Some(sub) = stream.types.get(ty) else {
        return;
    };
    let resources: Vec<_> = store
        .resources(ty)
        .filter(|(name, _)| sub.covers(name))
        .map(|(_, v)| v.resource.clone())
        .collect();
    if resources.is_empty() && !is_wildcard_type(ty) {
        return;
    }
    let response = DiscoveryResponse {
        version_info: store.version(ty),
        resources,
        type_url: ty.to_owned(),
        ..Default::default()
    };
    out.sotw(id, stream, response);
}
