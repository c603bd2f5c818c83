//! Incremental xDS (`DeltaAggregatedResources`): responses carry only what
//! changed, each resource with its own version (the type version that last
//! set it), and deletions as `removed_resources`.
//!
//! Per stream and type the server keeps the subscription (names, plus the
//! wildcard for LDS/CDS) and the version of every resource the client has.
//! The first request of a type seeds the latter from
//! `initial_resource_versions`, so after a reconnect only resources whose
//! version differs are sent again, and ones the client has that no longer
//! exist come back as removed. `*` subscribes to everything; for LDS/CDS
//! an empty first subscription does too.
//!
//! A request gets a response when it is the first of its type on the
//! stream or subscribes to something, unless it is a NACK; the response
//! holds the subscribed resources the client lacks (or has at another
//! version). It is skipped when empty, except for the first wildcard
//! request, which is answered even empty so the client learns the initial
//! state. ACKs and pure unsubscriptions get none. Nonces are not checked.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource,
};

use super::state::{OpenStream, State, Store, is_wildcard_type};

/// An open delta stream.
pub(super) type Stream = OpenStream<DeltaDiscoveryResponse, Subscription>;

/// One type's subscription on one stream.
#[derive(Debug, Default)]
pub(super) struct Subscription {
    wildcard: bool,
    names: BTreeSet<String>,
    /// What the client has: name → version.
    known: BTreeMap<String, String>,
    pub(super) last_nonce: Option<String>,
}

impl Subscription {
    fn covers(&self, name: &str) -> bool {
        self.wildcard || self.names.contains(name)
    }
}

/// Handles a request received on stream `id`.
pub(super) fn on_request(state: &mut State, id: u64, req: &DeltaDiscoveryRequest) {
    let State {
        store, out, delta, ..
    } = state;
    let Some(stream) = delta.get_mut(&id) else {
        return;
    };
    let ty = req.type_url.as_str();
    let first = !stream.types.contains_key(ty);
    let sub = stream.types.entry(ty.to_owned()).or_default();
    if first {
        sub.known = req
            .initial_resource_versions
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        sub.wildcard = req.resource_names_subscribe.is_empty() && is_wildcard_type(ty);
    }
    for name in &req.resource_names_subscribe {
        if name == "*" {
            sub.wildcard = true;
        } else {
            sub.names.insert(name.clone());
        }
    }
    for name in &req.resource_names_unsubscribe {
        if name == "*" {
            sub.wildcard = false;
        } else {
            sub.names.remove(name);
        }
    }
    let Subscription {
        wildcard,
        names,
        known,
        ..
    } = &mut *sub;
    known.retain(|name, _| *wildcard || names.contains(name));
    if req.error_detail.is_some() || (!first && req.resource_names_subscribe.is_empty()) {
        return;
    }
    let response = catch_up(store, ty, sub);
    if (first && sub.wildcard)
        || !response.resources.is_empty()
        || !response.removed_resources.is_empty()
    {
        out.delta(id, stream, response);
    }
}

/// What the client lacks of its subscription, and what it has that is
/// gone; `known` is updated as if the response were applied.
fn catch_up(store: &Store, ty: &str, sub: &mut Subscription) -> DeltaDiscoveryResponse {
    let mut response = response(store, ty);
    for (name, v) in store.resources(ty) {
        if sub.covers(name) && sub.known.get(name) != Some(&v.version) {
            response
                .resources
                .push(resource(name, &v.version, &v.resource));
            sub.known.insert(name.clone(), v.version.clone());
        }
    }
    let gone: Vec<String> = sub
        .known
        .keys()
        .filter(|name| store.get(ty, name).is_none())
        .cloned()
        .collect();
    for name in gone {
        sub.known.remove(&name);
        response.removed_resources.push(name);
    }
    response
}

/// After `name` of `type_url` was set: that one resource to every stream
/// whose subscription covers it.
pub(super) fn push_set(state: &mut State, type_url: &str, name: &str) {
    let State {
        store, out, delta, ..
    } = state;
    let Some(v) = store.get(type_url, name) else {
        return;
    };
    for (id, stream) in delta.iter_mut() {
        let Some(sub) = stream.types.get_mut(type_url) else {
            continue;
        };
        if !sub.covers(name) {
            continue;
        }
        sub.known.insert(name.to_owned(), v.version.clone());
        let mut r = response(store, type_url);
        r.resources.push(resource(name, &v.version, &v.resource));
        out.delta(*id, stream, r);
    }
}

/// After `name` of `type_url` was removed: `removed_resources` to every
/// stream whose client has it.
pub(super) fn push_removed(state: &mut State, type_url: &str, name: &str) {
    let State {
        store, out, delta, ..
    } = state;
    for (id, stream) in delta.iter_mut() {
        let Some(sub) = stream.types.get_mut(type_url) else {
            continue;
        };
        if sub.known.remove(name).is_none() {
            continue;
        }
        let mut r = response(store, type_url);
        r.removed_resources.push(name.to_owned());
        out.delta(*id, stream, r);
    }
}

fn response(store: &Store, ty: &str) -> DeltaDiscoveryResponse {
    DeltaDiscoveryResponse {
        system_version_info: store.version(ty),
        type_url: ty.to_owned(),
        ..Default::default()
    }
}

fn resource(name: &str, version: &str, any: &envoy_types::pb::google::protobuf::Any) -> Resource {
    Resource {
        name: name.to_owned(),
        version: version.to_owned(),
        resource: Some(any.clone()),
        ..Default::default()
    }
}
