//! What the client knows of each resource: its last good value, its
//! status towards the server and the does-not-exist timer (gRFC A57).
//!
//! One [`TypeCache`] per resource type holds the entries for exactly the
//! names the client subscribes to (all it was sent, under a wildcard).
//! A refused update never replaces a value: the entry keeps serving what
//! was last accepted and records the error beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use envoy_types::pb::google::protobuf::Any;

use super::resource::{Decoded, ResourceType, ResourceValue};

/// Where a resource stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceStatus {
    /// Subscribed, nothing received yet.
    Requested,
    /// The last update of it was accepted.
    Acked,
    /// The last update of it was refused; any earlier value still serves.
    Nacked,
    /// The server said it does not exist, or the timer ran out waiting.
    DoesNotExist,
}

impl ResourceStatus {
    /// The name used in the config dump (CSDS's `ClientResourceStatus`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Acked => "ACKED",
            Self::Nacked => "NACKED",
            Self::DoesNotExist => "DOES_NOT_EXIST",
        }
    }
}

/// One subscribed resource.
#[derive(Debug, Clone)]
pub struct ResourceEntry {
    /// Where it stands.
    pub status: ResourceStatus,
    /// The last accepted value, if any.
    pub value: Option<ResourceValue>,
    /// The version that delivered the value: the response's `version_info`
    /// (state of the world) or the resource's own version (delta).
    pub version: Option<Arc<str>>,
    /// Why the last update was refused, while `status` is `Nacked`.
    pub error: Option<Box<str>>,
    /// When the value or status last changed.
    pub updated: Option<Instant>,
    /// When the resource is declared missing if still unheard of.
    pub(crate) deadline: Option<Instant>,
    /// The accepted bytes, kept only for the on-disk snapshot.
    pub(crate) raw: Option<Box<Any>>,
    /// The hash of the accepted bytes.
    digest: u64,
}

impl ResourceEntry {
    fn requested() -> Self {
        Self {
            status: ResourceStatus::Requested,
            value: None,
            version: None,
            error: None,
            updated: None,
            deadline: None,
            raw: None,
            digest: 0,
        }
    }

    /// Whether routing can use this entry as resolved: it has a value, or
    /// it is known not to exist.
    pub fn is_resolved(&self) -> bool {
        self.value.is_some() || self.status == ResourceStatus::DoesNotExist
    }

    /// Takes a new value; returns whether routing sees a change (the same
    /// bytes again only refresh the version and status).
    pub(crate) fn accept(&mut self, decoded: Decoded, version: &Arc<str>, now: Instant) -> bool {
        let unchanged = self.value.is_some() && self.digest == decoded.digest;
        if !unchanged {
            self.value = Some(decoded.value);
            self.digest = decoded.digest;
            self.updated = Some(now);
        }
        if let Some(raw) = decoded.raw {
            self.raw = Some(Box::new(raw));
        }
        self.status = ResourceStatus::Acked;
        self.version = Some(version.clone());
        self.error = None;
        self.deadline = None;
        !unchanged
    }

    pub(crate) fn refuse(&mut self, error: String, now: Instant) {
        self.status = ResourceStatus::Nacked;
        self.error = Some(error.into_boxed_str());
        self.updated = Some(now);
        self.deadline = None;
    }

    /// Marks it missing; returns whether a value was dropped.
    pub(crate) fn remove(&mut self, now: Instant) -> bool {
        let had = self.value.take().is_some();
        self.raw = None;
        self.status = ResourceStatus::DoesNotExist;
        self.version = None;
        self.error = None;
        self.updated = Some(now);
        self.deadline = None;
        had
    }
}

/// Everything about one resource type.
#[derive(Debug)]
pub struct TypeCache {
    pub(crate) ty: ResourceType,
    /// Subscribed to every resource of the type.
    pub(crate) wildcard: bool,
    /// The subscribed names and what is known of each.
    pub(crate) entries: BTreeMap<String, ResourceEntry>,
    /// State of the world: the last accepted `version_info`.
    pub(crate) version_info: String,
    /// The nonce of the last response on the current stream.
    pub(crate) nonce: String,
    /// The last NACK sent (version, message), to suppress repeats.
    pub(crate) last_nack: Option<(String, String)>,
    /// Delta: the names the server was told of on the current stream.
    pub(crate) told_server: BTreeSet<String>,
    /// Delta: whether the wildcard was told on the current stream.
    pub(crate) told_wildcard: bool,
    /// Whether a request of this type went out on the current stream.
    pub(crate) requested_on_stream: bool,
}

impl TypeCache {
    pub(crate) fn new(ty: ResourceType) -> Self {
        Self {
            ty,
            wildcard: false,
            entries: BTreeMap::new(),
            version_info: String::new(),
            nonce: String::new(),
            last_nack: None,
            told_server: BTreeSet::new(),
            told_wildcard: false,
            requested_on_stream: false,
        }
    }

    /// The resource type.
    pub fn resource_type(&self) -> ResourceType {
        self.ty
    }

    /// The entry of `name`, if subscribed.
    pub fn entry(&self, name: &str) -> Option<&ResourceEntry> {
        self.entries.get(name)
    }

    /// Every subscribed name and its entry.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &ResourceEntry)> {
        self.entries.iter().map(|(n, e)| (n.as_str(), e))
    }

    /// The last accepted state-of-the-world version.
    pub fn version_info(&self) -> &str {
        &self.version_info
    }

    /// Whether the subscription is a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Whether the client wants anything of this type.
    pub(crate) fn is_wanted(&self) -> bool {
        self.wildcard || !self.entries.is_empty()
    }

    /// Whether `name` belongs to the subscription.
    pub(crate) fn wants(&self, name: &str) -> bool {
        self.wildcard || self.entries.contains_key(name)
    }

    /// The entry for `name`, created (as requested) when a wildcard
    /// subscription receives it for the first time.
    pub(crate) fn entry_for(&mut self, name: &str) -> Option<&mut ResourceEntry> {
        if self.wildcard && !self.entries.contains_key(name) {
            self.entries
                .insert(name.to_owned(), ResourceEntry::requested());
        }
        self.entries.get_mut(name)
    }

    /// The entry's value, if it has one.
    pub(crate) fn value(&self, name: &str) -> Option<&ResourceValue> {
        self.entries.get(name).and_then(|e| e.value.as_ref())
    }

    /// Replaces the subscription; returns whether it changed. Names no
    /// longer wanted are dropped with their values; new ones start as
    /// requested, with a timer when `deadline` is given.
    pub(crate) fn subscribe(
        &mut self,
        wildcard: bool,
        names: &BTreeSet<String>,
        deadline: Option<Instant>,
    ) -> bool {
        let mut changed = wildcard != self.wildcard;
        self.wildcard = wildcard;
        if !wildcard {
            let before = self.entries.len();
            self.entries.retain(|name, _| names.contains(name));
            changed |= self.entries.len() != before;
        }
        for name in names {
            if !self.entries.contains_key(name) {
                let mut entry = ResourceEntry::requested();
                entry.deadline = deadline;
                self.entries.insert(name.clone(), entry);
                changed = true;
            }
        }
        changed
    }

    /// The names to put in a request (empty for the legacy wildcard).
    pub(crate) fn request_names(&self) -> Vec<String> {
        if self.wildcard {
            Vec::new()
        } else {
            self.entries.keys().cloned().collect()
        }
    }

    /// Starts the timers of every entry still unheard of.
    pub(crate) fn arm_timers(&mut self, deadline: Instant) {
        for entry in self.entries.values_mut() {
            if entry.status == ResourceStatus::Requested && entry.value.is_none() {
                entry.deadline = Some(deadline);
            }
        }
    }

    /// Forgets the stream: nonce, timers and what the server was told.
    pub(crate) fn stream_lost(&mut self) {
        self.nonce.clear();
        self.told_server.clear();
        self.told_wildcard = false;
        self.requested_on_stream = false;
        self.last_nack = None;
        for entry in self.entries.values_mut() {
            entry.deadline = None;
        }
    }

    /// Whether some subscribed resource is still unheard of.
    pub(crate) fn has_missing(&self) -> bool {
        self.entries
            .values()
            .any(|e| e.status == ResourceStatus::Requested && e.value.is_none())
    }
}
