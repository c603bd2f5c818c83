//! A snapshot: one configuration, compiled for the request path, and the
//! handle that swaps snapshots atomically.
//!
//! Building a [`Snapshot`] resolves every route's backends to their
//! cluster and [`EndpointGroup`] once, so a request does two hash lookups
//! (the listener by authority, the virtual host by domain), a linear
//! route scan and a pick — no locks, no allocation on the common path. A request reads one snapshot from start
//! to end; a configuration change builds a new snapshot and swaps it into
//! the [`SnapshotHandle`] while in-flight requests keep the old one alive.
//! An endpoint that stays the same across an update keeps its slot, and so
//! its count of requests in flight ([`SnapshotHandle::update`]); a
//! cluster that did not change keeps its endpoint groups as they were.
//! Each cluster's live resilience state ([`ClusterResilience`]: retry
//! budget, breaker counters, outlier detector) passes to the successor
//! too, part by part, as far as the cluster's settings allow.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{
    Backend, Cluster, Endpoint, LbPolicy, MeshConfig, Route, RouteTable, strip_port,
};
use crate::fast_hash::FastMap;
use crate::lb::{EndpointGroup, EndpointSlot, Pick};
use crate::resilience::ClusterResilience;
use crate::resilience::breaker::{LimitPermit, Resource};
use crate::rng::MeshRng;
use crate::routing::{self, Unrouted};
use crate::telemetry::Telemetry;
use crate::{Error, ErrorKind, RequestHead};

/// One configuration, ready to route.
#[derive(Debug)]
pub struct Snapshot {
    config: Arc<MeshConfig>,
    /// Cluster name → its slots and live state.
    clusters: HashMap<Arc<str>, ClusterState>,
    /// Listener target (`host:port`, and `host` alone for port 80) → table.
    listeners: FastMap<Box<str>, Arc<CompiledTable>>,
}

/// A route table with each route's backends resolved, `[vh][route][arm]`:
/// the destination's arms, then one per mirror.
#[derive(Debug)]
struct CompiledTable {
    table: Arc<RouteTable>,
    arms: Vec<Vec<Vec<CompiledArm>>>,
}

/// One cluster's endpoints, one slot each in configuration order, and
/// its live resilience state.
#[derive(Debug, Clone)]
struct ClusterState {
    slots: Vec<Arc<EndpointSlot>>,
    resilience: Arc<ClusterResilience>,
}

/// One backend of a route, resolved: its endpoint group, and what
/// attempts there carry (the cluster and its live state among it).
#[derive(Debug, Clone)]
struct CompiledArm {
    group: Arc<EndpointGroup>,
    target: Arc<ArmTarget>,
}

/// Where an attempt on one backend of a route goes, shared by every
/// attempt there: built once per snapshot, so what an attempt carries to
/// its transport costs one reference count, not one per part.
#[derive(Debug)]
pub struct ArmTarget {
    /// The backend (cluster and subset).
    pub backend: Backend,
    /// Its cluster.
    pub cluster: Arc<Cluster>,
    /// The cluster's live state: retry budget, breakers (the transport
    /// counts its connections and waiting requests against their limits),
    /// outlier detector.
    pub resilience: Arc<ClusterResilience>,
    /// The name of the route.
    pub route: Arc<str>,
}

/// A routed request: the route, the chosen backend, and where to pick.
#[derive(Debug)]
pub struct Routed<'s> {
    /// The route that matched.
    pub route: &'s Route,
    /// The backend drawn (cluster and subset).
    pub backend: &'s Backend,
    /// The request's hash under the route's hash policy, when the cluster
    /// balances on a ring (`None` otherwise, or when no policy found input).
    pub hash: Option<u64>,
    /// The cluster's live state: retry budget, breakers, outlier detector.
    pub resilience: &'s Arc<ClusterResilience>,
    /// The backend, its cluster, breaker counters and route, shared.
    pub target: &'s Arc<ArmTarget>,
    group: &'s EndpointGroup,
    /// The route's mirrors, resolved, in `route.action.mirrors` order.
    mirrors: &'s [CompiledArm],
}

/// Where one shadow copy of a request goes (see [`Routed::mirrors`]).
#[derive(Debug, Clone)]
pub struct MirrorTarget {
    /// The shadow backend, its cluster and the cluster's live state (the
    /// shadow's connections count against its breakers).
    pub target: Arc<ArmTarget>,
    /// The endpoint picked.
    pub endpoint: Picked,
}

/// The endpoint chosen for an attempt.
pub type Picked = Arc<EndpointSlot>;

impl Snapshot {
    /// Compiles `config`: one endpoint slot per cluster endpoint, one
    /// group per distinct (cluster, subset) that a route uses.
    pub fn new(config: Arc<MeshConfig>) -> Self {
        Self::build(config, None)
    }

    /// Compiles `config` as the successor of `previous`: an endpoint equal
    /// to one of the same cluster in `previous` keeps its slot, so requests
    /// in flight still count against it (least request stays informed
    /// across configuration updates, as Envoy's hosts do).
    pub fn succeeding(config: Arc<MeshConfig>, previous: &Snapshot) -> Self {
        Self::build(config, Some(previous))
    }

    fn build(config: Arc<MeshConfig>, previous: Option<&Snapshot>) -> Self {
        let clusters: HashMap<Arc<str>, ClusterState> = config
            .clusters()
            .map(|c| {
                let kept = previous.and_then(|p| p.clusters.get(&c.name));
                let state = match kept {
                    // The very same cluster: its slots and state as they were.
                    Some(kept) if previous.is_some_and(|p| p.has_cluster(c)) => kept.clone(),
                    Some(kept) => ClusterState {
                        slots: cluster_slots(&c.endpoints, Some(&kept.slots)),
                        resilience: Arc::new(ClusterResilience::succeeding(c, &kept.resilience)),
                    },
                    None => ClusterState {
                        slots: cluster_slots(&c.endpoints, None),
                        resilience: Arc::new(ClusterResilience::new(c)),
                    },
                };
                (c.name.clone(), state)
            })
            .collect();
        // The groups of clusters that did not change are kept too (with
        // their pickers' state), so an update costs in proportion to what
        // it changed.
        let mut groups = previous
            .map(|p| p.unchanged_groups(&config))
            .unwrap_or_default();
        let mut tables: HashMap<&str, Arc<CompiledTable>> = HashMap::new();
        for table in config.route_tables() {
            let compiled = table
                .virtual_hosts()
                .iter()
                .map(|vh| {
                    vh.routes
                        .iter()
                        .map(|r| {
                            r.action
                                .all_backends()
                                .map(|b| compile_arm(r, b, &config, &clusters, &mut groups))
                                .collect()
                        })
                        .collect()
                })
                .collect();
            tables.insert(
                table.name(),
                Arc::new(CompiledTable {
                    table: table.clone(),
                    arms: compiled,
                }),
            );
        }
        let mut listeners = FastMap::default();
        for listener in config.listeners() {
            let Some(table) = tables.get(&*listener.route_table) else {
                continue;
            };
            if let Some(host) = listener.name.strip_suffix(":80") {
                listeners
                    .entry(host.into())
                    .or_insert_with(|| table.clone());
            }
            listeners.insert((*listener.name).into(), table.clone());
        }
        // The compiled tables are shared through `listeners`; the map of
        // them borrows `config`, which moves into the snapshot.
        drop(tables);
        Self {
            config,
            clusters,
            listeners,
        }
    }

    /// Whether `cluster` is this snapshot's cluster of that name (the
    /// same allocation, so nothing in it changed).
    fn has_cluster(&self, cluster: &Arc<Cluster>) -> bool {
        self.config
            .cluster(&cluster.name)
            .is_some_and(|c| Arc::ptr_eq(c, cluster))
    }

    /// The endpoint groups of this snapshot whose cluster `config` has
    /// unchanged.
    fn unchanged_groups(&self, config: &MeshConfig) -> HashMap<Backend, Arc<EndpointGroup>> {
        let mut groups = HashMap::new();
        for compiled in self.listeners.values() {
            let routes = compiled
                .table
                .virtual_hosts()
                .iter()
                .flat_map(|vh| &vh.routes);
            for (route, arms) in routes.zip(compiled.arms.iter().flatten()) {
                for (backend, arm) in route.action.all_backends().zip(arms) {
                    let unchanged = config
                        .cluster(&backend.cluster)
                        .is_some_and(|c| Arc::ptr_eq(c, &arm.target.cluster));
                    if unchanged && !groups.contains_key(backend) {
                        groups.insert(backend.clone(), arm.group.clone());
                    }
                }
            }
        }
        groups
    }

    /// Each cluster with its live resilience state (retry budget, breaker
    /// counters, outlier ejections), for metrics and dumps.
    pub fn cluster_states(&self) -> impl Iterator<Item = (&Arc<Cluster>, &Arc<ClusterResilience>)> {
        self.config.clusters().filter_map(|cluster| {
            self.clusters
                .get(&cluster.name)
                .map(|state| (cluster, &state.resilience))
        })
    }

    /// Requests in flight to the endpoints of cluster `name`.
    pub fn active_requests(&self, name: &str) -> u64 {
        self.clusters.get(name).map_or(0, |state| {
            state
                .slots
                .iter()
                .map(|slot| u64::from(slot.active()))
                .sum()
        })
    }

    /// The configuration this snapshot was built from.
    pub fn config(&self) -> &Arc<MeshConfig> {
        &self.config
    }

    /// Routes `request`: listener by authority, virtual host, first
    /// matching route, then a weighted draw among its backends.
    ///
    /// Errors are [`ErrorKind::NoRoute`] (no listener, virtual host or
    /// route) and [`ErrorKind::InvalidRequest`] (no authority).
    pub fn route<'s>(
        &'s self,
        request: &RequestHead<'_>,
        rng: &mut dyn MeshRng,
    ) -> Result<Routed<'s>, Error> {
        let compiled = self.listener_for(request)?;
        let at = route_in(compiled, request, rng)?;
        Ok(compiled.routed(at))
    }

    /// Routes `request` as [`Snapshot::route`] does, into a value that
    /// owns what it points at: for callers that keep a routed request
    /// across calls (the decide mode of the bindings, `crate::decide`).
    pub fn route_owned(
        &self,
        request: &RequestHead<'_>,
        rng: &mut dyn MeshRng,
    ) -> Result<RouteRef, Error> {
        let compiled = self.listener_for(request)?;
        let at = route_in(compiled, request, rng)?;
        Ok(RouteRef {
            table: compiled.clone(),
            at,
        })
    }

    fn listener_for(&self, request: &RequestHead<'_>) -> Result<&Arc<CompiledTable>, Error> {
        let authority = request.authority;
        if authority.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "the request has no authority (URI host or Host header)",
            ));
        }
        let found = if authority.bytes().any(|b| b.is_ascii_uppercase()) {
            self.find_listener(&authority.to_ascii_lowercase(), request.scheme)
        } else {
            self.find_listener(authority, request.scheme)
        };
        found.ok_or_else(|| {
            Error::new(
                ErrorKind::NoRoute,
                format!("no listener for target {authority:?}"),
            )
        })
    }

    fn find_listener(&self, authority: &str, scheme: &str) -> Option<&Arc<CompiledTable>> {
        if let Some(found) = self.listeners.get(authority) {
            return Some(found);
        }
        // A portless https authority means port 443.
        (scheme == "https" && strip_port(authority) == authority)
            .then(|| self.listeners.get(format!("{authority}:443").as_str()))
            .flatten()
    }
}

/// Slots for `endpoints`, reusing those of `previous` that hold an equal
/// endpoint.
fn cluster_slots(
    endpoints: &[Endpoint],
    previous: Option<&Vec<Arc<EndpointSlot>>>,
) -> Vec<Arc<EndpointSlot>> {
    let by_authority: HashMap<&str, &Arc<EndpointSlot>> = previous
        .into_iter()
        .flatten()
        .map(|slot| (slot.endpoint().authority(), slot))
        .collect();
    endpoints
        .iter()
        .map(|endpoint| match by_authority.get(endpoint.authority()) {
            Some(slot) if slot.endpoint() == endpoint => Arc::clone(slot),
            _ => EndpointSlot::new(endpoint.clone()),
        })
        .collect()
}

/// Resolves `backend` of `route`; its endpoint group is shared by every
/// route that names the same backend. (A cluster missing from the
/// configuration, which `MeshConfig` validation rules out, resolves to an
/// empty one.)
fn compile_arm(
    route: &Route,
    backend: &Backend,
    config: &MeshConfig,
    clusters: &HashMap<Arc<str>, ClusterState>,
    groups: &mut HashMap<Backend, Arc<EndpointGroup>>,
) -> CompiledArm {
    let cluster = config
        .cluster(&backend.cluster)
        .cloned()
        .unwrap_or_else(|| Arc::new(Cluster::new(backend.cluster.clone(), Vec::new())));
    let state = clusters.get(&backend.cluster);
    let resilience = state.map_or_else(
        || Arc::new(ClusterResilience::new(&cluster)),
        |s| s.resilience.clone(),
    );
    let group = groups
        .entry(backend.clone())
        .or_insert_with(|| {
            let candidates = state
                .into_iter()
                .flat_map(|s| s.slots.iter().enumerate())
                .filter(|(_, s)| {
                    backend
                        .subset
                        .as_ref()
                        .is_none_or(|sub| s.endpoint().has_labels(&sub.labels))
                })
                .map(|(i, s)| (i, s.clone()));
            Arc::new(EndpointGroup::for_cluster(
                &cluster.lb_policy,
                cluster.locality_weighted_lb,
                candidates,
                resilience.ejections(),
            ))
        })
        .clone();
    let target = Arc::new(ArmTarget {
        backend: backend.clone(),
        cluster,
        resilience,
        route: route.name.clone(),
    });
    CompiledArm { group, target }
}

/// Where in a compiled table a request was routed: virtual host, route,
/// the arm drawn, and the request's hash when its cluster needs one.
#[derive(Debug, Clone, Copy)]
struct RouteAt {
    virtual_host: usize,
    route: usize,
    arm: usize,
    hash: Option<u64>,
}

/// Selects the route of `request` in `compiled` and draws its backend.
fn route_in(
    compiled: &CompiledTable,
    request: &RequestHead<'_>,
    rng: &mut dyn MeshRng,
) -> Result<RouteAt, Error> {
    let index = routing::select_route(&compiled.table, request, rng).map_err(|why| {
        let what = match why {
            Unrouted::NoVirtualHost => "no virtual host serves",
            Unrouted::NoRoute => "no route matches",
        };
        Error::new(
            ErrorKind::NoRoute,
            format!(
                "{what} {} {}{} (route table {:?})",
                request.method,
                request.authority,
                request.path,
                compiled.table.name()
            ),
        )
    })?;
    let route = &compiled.table.virtual_hosts()[index.virtual_host].routes[index.route];
    let (arm, _) = routing::choose_backend(&route.action.destination, rng);
    let cluster = &compiled.arms[index.virtual_host][index.route][arm]
        .target
        .cluster;
    // Only a ring needs the hash: skip the work for other policies.
    let hash = match cluster.lb_policy {
        LbPolicy::RingHash { .. } => routing::request_hash(&route.action.hash_policy, request),
        _ => None,
    };
    Ok(RouteAt {
        virtual_host: index.virtual_host,
        route: index.route,
        arm,
        hash,
    })
}

impl CompiledTable {
    fn routed(&self, at: RouteAt) -> Routed<'_> {
        let route = &self.table.virtual_hosts()[at.virtual_host].routes[at.route];
        let arms = &self.arms[at.virtual_host][at.route];
        let mirrors = &arms[arms.len() - route.action.mirrors.len()..];
        let arm = &arms[at.arm];
        Routed {
            route,
            backend: route.action.destination.backend_at(at.arm),
            hash: at.hash,
            resilience: &arm.target.resilience,
            target: &arm.target,
            group: &arm.group,
            mirrors,
        }
    }
}

/// A routed request that owns its route table: [`RouteRef::routed`] gives
/// the same view as [`Snapshot::route`] for as long as the value lives,
/// whatever snapshot has replaced the one it came from since.
#[derive(Debug, Clone)]
pub struct RouteRef {
    table: Arc<CompiledTable>,
    at: RouteAt,
}

impl RouteRef {
    /// The routed view.
    pub fn routed(&self) -> Routed<'_> {
        self.table.routed(self.at)
    }
}

impl<'s> Routed<'s> {
    /// Picks an endpoint of the routed backend (one in service, when
    /// outlier detection has ejected some).
    pub fn pick(&self, rng: &mut dyn MeshRng) -> Result<Picked, Error> {
        self.pick_avoiding(rng, &|_| false)
            .map(|pick| pick.slot.clone())
    }

    /// Picks an endpoint for which `avoid` is false if there is one (a
    /// retry avoids the hosts it tried), else any in service.
    pub fn pick_avoiding(
        &self,
        rng: &mut dyn MeshRng,
        avoid: &dyn Fn(&Arc<EndpointSlot>) -> bool,
    ) -> Result<Pick<'s>, Error> {
        self.group
            .pick_avoiding(self.hash, rng, avoid)
            .ok_or_else(|| {
                let subset = self
                    .backend
                    .subset
                    .as_ref()
                    .map(|s| format!(" subset {:?}", s.name))
                    .unwrap_or_default();
                Error::new(
                    ErrorKind::NoHealthyEndpoint,
                    format!(
                        "cluster {:?}{subset} has no healthy endpoint",
                        self.target.cluster.name
                    ),
                )
            })
    }

    /// A place among the cluster's requests in flight (its `max_requests`
    /// breaker), for one attempt; refused, an [`ErrorKind::Overloaded`]
    /// error naming the cluster (never retried: a retry would add load
    /// exactly where the breaker says there is too much).
    pub fn acquire_request(&self) -> Result<LimitPermit, Error> {
        self.resilience
            .limits()
            .try_acquire(Resource::Requests)
            .map_err(|overflow| {
                Error::new(
                    ErrorKind::Overloaded,
                    format!("cluster {:?}: {overflow}", self.target.cluster.name),
                )
            })
    }

    /// The endpoints the pick chooses among.
    pub fn endpoints(&self) -> &[Arc<EndpointSlot>] {
        self.group.endpoints()
    }

    /// The shadow copies to make of this request: each mirror is drawn
    /// at its fraction and its endpoint picked; mirrors whose cluster has
    /// no endpoint in service are left out (a shadow never fails the
    /// request). Allocates only when a copy is drawn.
    pub fn mirrors(&self, rng: &mut dyn MeshRng) -> Vec<MirrorTarget> {
        let mut targets = Vec::new();
        for (policy, arm) in self.route.action.mirrors.iter().zip(self.mirrors) {
            if !policy.fraction.drawn(rng) {
                continue;
            }
            if let Some(endpoint) = arm.group.pick(None, rng) {
                targets.push(MirrorTarget {
                    target: arm.target.clone(),
                    endpoint: endpoint.clone(),
                });
            }
        }
        targets
    }
}

/// The current snapshot, swapped atomically; readers never block.
#[derive(Debug)]
pub struct SnapshotHandle {
    current: ArcSwap<Snapshot>,
    telemetry: Arc<Telemetry>,
}

impl SnapshotHandle {
    /// A handle serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        Self {
            current: ArcSwap::from_pointee(snapshot),
            telemetry: Arc::default(),
        }
    }

    /// The handle, with its metrics recorded into `telemetry` (which says
    /// who this workload is).
    #[must_use]
    pub fn with_telemetry(mut self, telemetry: Arc<Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Where requests through this handle's snapshots are counted.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// A handle serving a snapshot of `config`.
    pub fn from_config(config: MeshConfig) -> Self {
        Self::new(Snapshot::new(Arc::new(config)))
    }

    /// The current snapshot, kept alive for as long as the caller holds it
    /// (a request that must outlive a synchronous call).
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Runs `f` on the current snapshot without touching its reference
    /// count: the cheap read for decisions made synchronously.
    pub fn with<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> R {
        f(&self.current.load())
    }

    /// Replaces the snapshot; requests in flight keep the old one.
    pub fn store(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }

    /// Swaps in a snapshot of `config` that succeeds the current one
    /// ([`Snapshot::succeeding`]). Updates are meant to come from one
    /// writer (the configuration source); concurrent updates are safe but
    /// the last one wins.
    pub fn update(&self, config: MeshConfig) {
        self.update_shared(Arc::new(config));
    }

    /// [`Self::update`] with a configuration the caller keeps too (the
    /// xDS client holds the one in use, without a second copy).
    pub fn update_shared(&self, config: Arc<MeshConfig>) {
        let next = Snapshot::succeeding(config, &self.current.load());
        self.store(next);
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
