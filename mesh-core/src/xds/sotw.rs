//! State of the world: one response per type carries the whole
//! subscribed set, under one `version_info`.
//!
//! The rules, from Envoy's xDS protocol docs and gRPC's client:
//! - every response is answered with its nonce: an ACK carries the new
//!   version, a NACK the last accepted one and an `error_detail` that
//!   names each refused resource;
//! - the valid resources of a partly bad response are applied anyway, the
//!   bad ones keep their last good value (gRFC A46);
//! - a NACK identical to the previous one (same version, same errors) is
//!   not sent again, so a server resending a bad snapshot cannot make the
//!   client chatter;
//! - in LDS and CDS responses a subscribed resource that is absent is
//!   deleted (unless the server asked to ignore deletions, gRFC A53), but
//!   only when every resource of the response could at least be named (an
//!   unreadable one might be the "absent" one); in RDS and EDS responses
//!   absence means nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::rpc::Status;

use super::cache::ResourceStatus;
use super::resource::{DecodeError, Decoded, ResourceType, decode};
use super::state::{Outgoing, XdsState};

/// gRPC's `INVALID_ARGUMENT`, the code of a NACK's `error_detail`.
const INVALID_ARGUMENT: i32 = 3;

impl XdsState {
    /// Handles a state-of-the-world response.
    pub fn on_response(&mut self, response: DiscoveryResponse, now: Instant) -> Vec<Outgoing> {
        let Some(ty) = ResourceType::from_type_url(&response.type_url) else {
            self.stats.updates_rejected += 1;
            return vec![Outgoing::Sotw(DiscoveryRequest {
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
        let (valid, errors) = decode_all(ty, &response, self.options.keep_raw);
        self.apply_sotw(ty, &response.version_info, valid, &errors, now);
        let changed = self.settle(now);
        let mut out = Vec::new();
        if errors.is_empty() {
            self.stats.updates_accepted += 1;
            let cache = &mut self.caches[ty.index()];
            cache.version_info = response.version_info;
            cache.last_nack = None;
            out.push(Outgoing::Sotw(self.sotw_request(ty, None)));
        } else {
            self.stats.updates_rejected += 1;
            let message = nack_message(ty, &response.version_info, &errors);
            let cache = &mut self.caches[ty.index()];
            let key = (response.version_info, message);
            tracing::warn!(type_url = ty.type_url(), error = %key.1, "xDS update refused");
            if cache.last_nack.as_ref() == Some(&key) {
                self.stats.nacks_suppressed += 1;
            } else {
                let message = key.1.clone();
                cache.last_nack = Some(key);
                out.push(Outgoing::Sotw(self.sotw_request(ty, Some(message))));
            }
        }
        out.extend(self.subscription_requests(&changed, Some(ty)));
        out
    }

    /// Applies the valid resources and the deletions a response implies.
    pub(crate) fn apply_sotw(
        &mut self,
        ty: ResourceType,
        version: &str,
        valid: Vec<Decoded>,
        errors: &[DecodeError],
        now: Instant,
    ) {
        let keep_deleted = self.options.ignore_resource_deletion;
        let cache = &mut self.caches[ty.index()];
        let version: Arc<str> = version.into();
        let mut present: BTreeSet<String> = BTreeSet::new();
        let mut dirty = false;
        for decoded in valid {
            present.insert(decoded.name.clone());
            if let Some(entry) = cache.entry_for(&decoded.name) {
                dirty |= entry.accept(decoded, &version, now);
            }
        }
        for error in errors {
            let Some(name) = &error.name else { continue };
            present.insert(name.clone());
            if let Some(entry) = cache.entry_for(name) {
                dirty |= entry.value.is_none();
                entry.refuse(error.reason.clone(), now);
            }
        }
        // A resource that could not even be named may be any of them: only
        // a response where every resource was read can say who is gone.
        let all_named = errors.iter().all(|e| e.name.is_some());
        if ty.is_full_state() && all_named {
            for (name, entry) in cache.entries.iter_mut() {
                if present.contains(name) {
                    continue;
                }
                let already_gone =
                    entry.value.is_none() && entry.status == ResourceStatus::DoesNotExist;
                if already_gone || (entry.value.is_some() && keep_deleted) {
                    continue;
                }
                entry.remove(now);
                dirty = true;
            }
            if cache.wildcard {
                cache
                    .entries
                    .retain(|name, _| present.contains(name) || keep_deleted);
            }
        }
        self.dirty |= dirty;
    }

    /// Applies resources read back from the on-disk snapshot: accepted,
    /// but with no version to claim towards the server.
    pub(crate) fn apply_restored(&mut self, ty: ResourceType, valid: Vec<Decoded>, now: Instant) {
        let cache = &mut self.caches[ty.index()];
        let unversioned: Arc<str> = Arc::from("");
        for decoded in valid {
            if let Some(entry) = cache.entry_for(&decoded.name) {
                self.dirty |= entry.accept(decoded, &unversioned, now);
            }
        }
    }

    /// A request for `ty` with the accepted version, the last nonce and the
    /// subscribed names; a NACK when `error` is given.
    pub(crate) fn sotw_request(
        &mut self,
        ty: ResourceType,
        error: Option<String>,
    ) -> DiscoveryRequest {
        let node = self.node_once();
        let cache = &mut self.caches[ty.index()];
        cache.requested_on_stream = true;
        DiscoveryRequest {
            version_info: cache.version_info.clone(),
            node,
            resource_names: cache.request_names(),
            type_url: ty.type_url().to_owned(),
            response_nonce: cache.nonce.clone(),
            error_detail: error.map(nack_status),
            ..Default::default()
        }
    }
}

/// Decodes every resource; a name seen twice is refused as a whole.
pub(crate) fn decode_all(
    ty: ResourceType,
    response: &DiscoveryResponse,
    keep_raw: bool,
) -> (Vec<Decoded>, Vec<DecodeError>) {
    let mut errors = Vec::new();
    let mut by_name: BTreeMap<String, Decoded> = BTreeMap::new();
    let mut duplicates = BTreeSet::new();
    for any in &response.resources {
        match decode(ty, any) {
            Ok(mut d) => {
                d.raw = keep_raw.then(|| any.clone());
                if by_name.contains_key(&d.name) {
                    duplicates.insert(d.name.clone());
                } else {
                    by_name.insert(d.name.clone(), d);
                }
            }
            Err(e) => errors.push(e),
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

/// The `error_detail` text: which response, then each refused resource.
pub(crate) fn nack_message(ty: ResourceType, version: &str, errors: &[DecodeError]) -> String {
    let details: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!(
        "{ty} update (version {version:?}) refused for {} resource(s): {}",
        errors.len(),
        details.join("; ")
    )
}

pub(crate) fn nack_status(message: String) -> Status {
    Status {
        code: INVALID_ARGUMENT,
        message,
        details: Vec::new(),
    }
}
