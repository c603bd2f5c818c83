//! The xDS client as a state machine: events in, requests and
//! configurations out, no sockets and no clock of its own.
//!
//! The I/O task (or a test) feeds it what happens: a stream opened
//! ([`XdsState::stream_started`]), a response arrived
//! ([`XdsState::on_response`], [`XdsState::on_delta_response`]), a timer
//! fired ([`XdsState::on_timer`]), the stream broke
//! ([`XdsState::stream_lost`]). Each event returns the requests to send, in
//! order; [`XdsState::take_config`] hands out a new complete configuration
//! when one is ready. Time is always passed in, so paused-time tests drive
//! the does-not-exist timer exactly.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryRequest, DiscoveryRequest};

use super::assemble::{Assembler, same_config};
use super::cache::{ResourceStatus, TypeCache};
use super::resource::ResourceType;
use super::watch::{type_at, wanted};
use crate::config::MeshConfig;

/// Which variant of the protocol the stream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// State of the world: each response carries a type's whole
    /// subscribed set, versioned per type.
    #[default]
    StateOfTheWorld,
    /// Incremental: responses carry changed resources and removals,
    /// versioned per resource.
    Delta,
}

/// What the client subscribes to and how.
#[derive(Debug, Clone)]
pub struct XdsOptions {
    /// The `host:port` targets (API listener names) routing needs.
    pub targets: Vec<String>,
    /// Subscribe to every listener instead of the targets only.
    pub wildcard_listeners: bool,
    /// Subscribe to every cluster instead of those routes name.
    pub wildcard_clusters: bool,
    /// Keep resources the server deletes (gRFC A53's
    /// `ignore_resource_deletion` server feature).
    pub ignore_resource_deletion: bool,
    /// How long to wait for a subscribed resource before declaring it
    /// missing (gRFC A57: 15 s).
    pub resource_timeout: Duration,
    /// State of the world or delta.
    pub protocol: Protocol,
    /// Keep each accepted resource's bytes, for the on-disk snapshot.
    pub keep_raw: bool,
}

impl Default for XdsOptions {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            wildcard_listeners: false,
            wildcard_clusters: false,
            ignore_resource_deletion: false,
            resource_timeout: Duration::from_secs(15),
            protocol: Protocol::StateOfTheWorld,
            keep_raw: false,
        }
    }
}

/// A request to send on the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// On a state-of-the-world stream.
    Sotw(DiscoveryRequest),
    /// On a delta stream.
    Delta(DeltaDiscoveryRequest),
}

/// Counters of the client's life, for metrics and the config dump.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdsStats {
    /// Whether a stream is open now.
    pub connected: bool,
    /// Streams opened.
    pub streams_started: u64,
    /// Streams that broke or could not be opened.
    pub server_failures: u64,
    /// Responses accepted (ACKed).
    pub updates_accepted: u64,
    /// Responses refused, in whole or in part (NACKed).
    pub updates_rejected: u64,
    /// NACKs not sent again because they repeated the previous one.
    pub nacks_suppressed: u64,
    /// Resources declared missing by the does-not-exist timer.
    pub resources_timed_out: u64,
    /// Configurations handed out.
    pub configs_published: u64,
}

/// The client state machine.
#[derive(Debug)]
pub struct XdsState {
    pub(crate) options: XdsOptions,
    node: Node,
    targets: BTreeSet<String>,
    pub(crate) caches: [TypeCache; 4],
    assembler: Assembler,
    published: Option<Arc<MeshConfig>>,
    fresh: bool,
    /// Some value or resolution changed since the last assembly.
    pub(crate) dirty: bool,
    pub(crate) node_sent: bool,
    pub(crate) stats: XdsStats,
    assembly_error: Option<String>,
}

impl XdsState {
    /// A client for `options`, identifying itself as `node`.
    pub fn new(options: XdsOptions, node: Node) -> Self {
        let targets = options
            .targets
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        let mut state = Self {
            options,
            node,
            targets,
            caches: ResourceType::ALL.map(TypeCache::new),
            assembler: Assembler::default(),
            published: None,
            fresh: false,
            dirty: false,
            node_sent: false,
            stats: XdsStats::default(),
            assembly_error: None,
        };
        state.resubscribe(None);
        state
    }

    /// The protocol variant this client speaks.
    pub fn protocol(&self) -> Protocol {
        self.options.protocol
    }

    /// The counters.
    pub fn stats(&self) -> XdsStats {
        self.stats
    }

    /// The cache of one resource type.
    pub fn cache(&self, ty: ResourceType) -> &TypeCache {
        &self.caches[ty.index()]
    }

    /// The configuration in use (the last one handed out).
    pub fn current(&self) -> Option<&Arc<MeshConfig>> {
        self.published.as_ref()
    }

    /// Why the last assembly failed, if it did (the previous
    /// configuration keeps serving).
    pub fn assembly_error(&self) -> Option<&str> {
        self.assembly_error.as_deref()
    }

    /// A new complete configuration, once per change.
    pub fn take_config(&mut self) -> Option<Arc<MeshConfig>> {
        if std::mem::take(&mut self.fresh) {
            self.published.clone()
        } else {
            None
        }
    }

    /// Whether some subscribed resource has not been heard of yet (the
    /// condition for falling back to another server, gRFC A71).
    pub fn has_missing(&self) -> bool {
        self.caches.iter().any(TypeCache::has_missing)
    }

    /// A stream opened: the requests that subscribe to everything again,
    /// with the versions accepted so far.
    pub fn stream_started(&mut self, now: Instant) -> Vec<Outgoing> {
        self.stats.streams_started += 1;
        self.stats.connected = true;
        self.node_sent = false;
        let deadline = now + self.options.resource_timeout;
        let mut out = Vec::new();
        for ty in ResourceType::ALL {
            let cache = &mut self.caches[ty.index()];
            cache.stream_lost();
            if !cache.is_wanted() {
                continue;
            }
            cache.arm_timers(deadline);
            out.push(self.initial_request(ty));
        }
        out
    }

    /// The stream broke: timers stop, values keep serving.
    pub fn stream_lost(&mut self) {
        if self.stats.connected {
            self.stats.server_failures += 1;
        }
        self.stats.connected = false;
        for cache in &mut self.caches {
            cache.stream_lost();
        }
    }

    /// A stream could not be opened.
    pub fn connect_failed(&mut self) {
        self.stats.server_failures += 1;
    }

    /// When [`Self::on_timer`] must run next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.caches
            .iter()
            .flat_map(|c| c.entries.values())
            .filter_map(|e| e.deadline)
            .min()
    }

    /// Declares missing every resource whose timer ran out.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Outgoing> {
        for cache in &mut self.caches {
            for entry in cache.entries.values_mut() {
                if entry.deadline.is_some_and(|d| d <= now) {
                    entry.deadline = None;
                    if entry.value.is_none() && entry.status == ResourceStatus::Requested {
                        entry.remove(now);
                        self.stats.resources_timed_out += 1;
                        self.dirty = true;
                    }
                }
            }
        }
        let changed = self.settle(now);
        self.subscription_requests(&changed, None)
    }

    /// Brings subscriptions and the configuration up to date after a
    /// change; returns the types whose subscription changed.
    pub(crate) fn settle(&mut self, now: Instant) -> Vec<ResourceType> {
        let deadline = self
            .stats
            .connected
            .then(|| now + self.options.resource_timeout);
        let mut changed = self.resubscribe(deadline);
        if std::mem::take(&mut self.dirty) {
            self.publish();
            for ty in self.resubscribe(deadline) {
                if !changed.contains(&ty) {
                    changed.push(ty);
                }
            }
        }
        changed.sort();
        changed
    }

    /// Applies what the tree wants to the caches.
    fn resubscribe(&mut self, deadline: Option<Instant>) -> Vec<ResourceType> {
        let want = wanted(
            &self.targets,
            self.options.wildcard_listeners,
            self.options.wildcard_clusters,
            &self.caches,
            self.published.as_deref(),
        );
        let mut changed = Vec::new();
        for (i, want) in want.iter().enumerate() {
            if self.caches[i].subscribe(want.wildcard, &want.names, deadline) {
                changed.push(type_at(i));
            }
        }
        changed
    }

    fn publish(&mut self) {
        let roots: Vec<String> = if self.options.wildcard_listeners {
            self.caches[0].entries.keys().cloned().collect()
        } else {
            self.targets.iter().cloned().collect()
        };
        let previous = self.published.as_deref();
        match self.assembler.assemble(&roots, &self.caches, previous) {
            Ok(config) => {
                self.assembly_error = None;
                let unchanged = match previous {
                    Some(p) => same_config(p, &config),
                    None => config.listeners().next().is_none(),
                };
                if !unchanged {
                    self.published = Some(Arc::new(config));
                    self.fresh = true;
                    self.stats.configs_published += 1;
                }
            }
            Err(e) => self.assembly_error = Some(e.to_string()),
        }
    }

    /// Requests announcing new subscriptions for `types`, except `skip`
    /// (whose ACK carries them).
    pub(crate) fn subscription_requests(
        &mut self,
        types: &[ResourceType],
        skip: Option<ResourceType>,
    ) -> Vec<Outgoing> {
        if !self.stats.connected {
            return Vec::new();
        }
        let mut out = Vec::new();
        for &ty in types {
            if Some(ty) == skip {
                continue;
            }
            let request = match self.options.protocol {
                Protocol::StateOfTheWorld => {
                    let cache = &self.caches[ty.index()];
                    if !cache.is_wanted() && !cache.requested_on_stream {
                        continue;
                    }
                    Outgoing::Sotw(self.sotw_request(ty, None))
                }
                Protocol::Delta => match self.delta_subscription(ty) {
                    Some(r) => Outgoing::Delta(r),
                    None => continue,
                },
            };
            out.push(request);
        }
        out
    }

    fn initial_request(&mut self, ty: ResourceType) -> Outgoing {
        match self.options.protocol {
            Protocol::StateOfTheWorld => Outgoing::Sotw(self.sotw_request(ty, None)),
            Protocol::Delta => Outgoing::Delta(self.delta_initial(ty)),
        }
    }

    /// The node, on the first request of a stream only.
    pub(crate) fn node_once(&mut self) -> Option<Node> {
        (!std::mem::replace(&mut self.node_sent, true)).then(|| self.node.clone())
    }
}
