//! Delta (incremental) xDS: responses carry changed resources, each with
//! its own version, and the names of removed ones.
//!
//! Subscriptions are told as differences (`resource_names_subscribe` /
//! `unsubscribe`); a new stream subscribes to everything again and lists
//! the versions the client holds (`initial_resource_versions`), so the
//! server sends only what changed meanwhile. ACKs and NACKs carry just
//! the nonce (and the error). The partial-acceptance, duplicate-NACK and
//! deletion rules are those of the state-of-the-world variant.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};

use super::resource::{DecodeError, Decoded, ResourceType, decode};
use super::sotw::{nack_message, nack_status};
use super::state::{Outgoing, XdsState};

/// The delta spelling of a wildcard subscription.
const WILDCARD: &str = "*";

impl XdsState {
    /// Handles a delta response.
    pub fn on_delta_response(
        &mut self,
        response: DeltaDiscoveryResponse,
        now: Instant,
    ) -> Vec<Outgoing> {
        let Some(ty) = ResourceType::from_type_url(&response.type_url) else {
            self.stats.updates_rejected += 1;
            return vec![Outgoing::Delta(DeltaDiscoveryRequest {
                type_url: response.type_url.clone(),
                response_nonce: response.nonce,
                error_detail: Some(nack_status(format!(
                    "unsupported resource type {:?}",
                    response.type_url
                ))),
                ..Default::default()
            })];
        };
        self.caches[ty.index()].nonce = response.nonce.clone();
        let (valid, errors) = decode_delta(ty, &response, self.options.keep_raw);
        self.apply_delta(ty, valid, &errors, &response.removed_resources, now);
        let changed = self.settle(now);
        let mut out = Vec::new();
        let cache = &mut self.caches[ty.index()];
        let mut reply = DeltaDiscoveryRequest {
            type_url: ty.type_url().to_owned(),
            response_nonce: response.nonce.clone(),
            ..Default::default()
        };
        if errors.is_empty() {
            self.stats.updates_accepted += 1;
            cache.last_nack = None;
            out.push(reply);
        } else {
            self.stats.updates_rejected += 1;
            let message = nack_message(ty, &response.system_version_info, &errors);
            let key = (response.system_version_info, message);
            tracing::warn!(type_url = ty.type_url(), error = %key.1, "xDS update refused");
            if cache.last_nack.as_ref() == Some(&key) {
                self.stats.nacks_suppressed += 1;
            } else {
                reply.error_detail = Some(nack_status(key.1.clone()));
                cache.last_nack = Some(key);
                out.push(reply);
            }
        }
        let mut out: Vec<Outgoing> = out
            .into_iter()
            .map(|mut r| {
                r.node = self.node_once();
                Outgoing::Delta(r)
            })
            .collect();
        out.extend(self.subscription_requests(&changed, None));
        out
    }

    fn apply_delta(
        &mut self,
        ty: ResourceType,
        valid: Vec<(Decoded, String)>,
        errors: &[DecodeError],
        removed: &[String],
        now: Instant,
    ) {
        let keep_deleted = self.options.ignore_resource_deletion;
        let cache = &mut self.caches[ty.index()];
        let mut dirty = false;
        for (decoded, version) in valid {
            if let Some(entry) = cache.entry_for(&decoded.name) {
                dirty |= entry.accept(decoded, &Arc::from(version), now);
            }
        }
        for error in errors {
            let Some(name) = &error.name else { continue };
            if let Some(entry) = cache.entry_for(name) {
                dirty |= entry.value.is_none();
                entry.refuse(error.reason.clone(), now);
            }
        }
        for name in removed {
            let Some(entry) = cache.entries.get_mut(name) else {
                continue;
            };
            if entry.value.is_some() && keep_deleted {
                continue;
            }
            dirty |= entry.remove(now) || !cache.wildcard;
            if cache.wildcard {
                cache.entries.remove(name);
            }
        }
        self.dirty |= dirty;
    }

    /// The first request of `ty` on a new stream: everything subscribed,
    /// with the versions held.
    pub(crate) fn delta_initial(&mut self, ty: ResourceType) -> DeltaDiscoveryRequest {
        let node = self.node_once();
        let cache = &mut self.caches[ty.index()];
        cache.requested_on_stream = true;
        let mut subscribe: Vec<String> = Vec::new();
        if cache.wildcard {
            subscribe.push(WILDCARD.to_owned());
        } else {
            subscribe.extend(cache.entries.keys().cloned());
        }
        let initial: HashMap<String, String> = cache
            .entries
            .iter()
            .filter(|(_, e)| e.value.is_some())
            .filter_map(|(name, e)| Some((name.clone(), e.version.as_deref()?.to_owned())))
            .filter(|(_, version)| !version.is_empty())
            .collect();
        cache.told_wildcard = cache.wildcard;
        cache.told_server = if cache.wildcard {
            BTreeSet::new()
        } else {
            cache.entries.keys().cloned().collect()
        };
        DeltaDiscoveryRequest {
            node,
            type_url: ty.type_url().to_owned(),
            resource_names_subscribe: subscribe,
            initial_resource_versions: initial,
            ..Default::default()
        }
    }

    /// The request telling the server how the subscription of `ty`
    /// changed, if it did.
    pub(crate) fn delta_subscription(&mut self, ty: ResourceType) -> Option<DeltaDiscoveryRequest> {
        let cache = &self.caches[ty.index()];
        if !cache.requested_on_stream {
            return cache.is_wanted().then(|| self.delta_initial(ty));
        }
        let current: BTreeSet<String> = if cache.wildcard {
            BTreeSet::new()
        } else {
            cache.entries.keys().cloned().collect()
        };
        let mut subscribe: Vec<String> = current.difference(&cache.told_server).cloned().collect();
        let mut unsubscribe: Vec<String> =
            cache.told_server.difference(&current).cloned().collect();
        match (cache.told_wildcard, cache.wildcard) {
            (false, true) => subscribe.push(WILDCARD.to_owned()),
            (true, false) => unsubscribe.push(WILDCARD.to_owned()),
            _ => {}
        }
        if subscribe.is_empty() && unsubscribe.is_empty() {
            return None;
        }
        let node = self.node_once();
        let cache = &mut self.caches[ty.index()];
        cache.told_wildcard = cache.wildcard;
        cache.told_server = current;
        Some(DeltaDiscoveryRequest {
            node,
            type_url: ty.type_url().to_owned(),
            resource_names_subscribe: subscribe,
            resource_names_unsubscribe: unsubscribe,
            ..Default::default()
        })
    }
}

/// Decodes every resource of a delta response, with its version; a
/// resource whose body names another resource, or a name seen twice, is
/// refused.
fn decode_delta(
    ty: ResourceType,
    response: &DeltaDiscoveryResponse,
    keep_raw: bool,
) -> (Vec<(Decoded, String)>, Vec<DecodeError>) {
    let mut errors = Vec::new();
    let mut by_name: BTreeMap<String, (Decoded, String)> = BTreeMap::new();
    let mut duplicates = BTreeSet::new();
    for resource in &response.resources {
        let named = |reason: String| DecodeError {
            name: Some(resource.name.clone()).filter(|n| !n.is_empty()),
            reason,
        };
        let Some(any) = &resource.resource else {
            errors.push(named("a resource without a body".to_owned()));
            continue;
        };
        match decode(ty, any) {
            Ok(d) if !resource.name.is_empty() && d.name != resource.name => {
                errors.push(named(format!(
                    "the body names another resource, {:?}",
                    d.name
                )));
            }
            Ok(mut d) => {
                d.raw = keep_raw.then(|| any.clone());
                if by_name.contains_key(&d.name) {
                    duplicates.insert(d.name.clone());
                } else {
                    by_name.insert(d.name.clone(), (d, resource.version.clone()));
                }
            }
            Err(mut e) => {
                if e.name.is_none() && !resource.name.is_empty() {
                    e.name = Some(resource.name.clone());
                }
                errors.push(e);
            }
        }
    }
    for name in duplicates {
        by_name.remove(&name);
        errors.push(DecodeError {
            name: Some(name),
            reason: "the resource appears more than once in the response".to_owned(),
        });
    }
    (by_name.into_values().collect(), errors)
}
