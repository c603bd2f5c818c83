//! From cached resources to one complete [`MeshConfig`] (gRFC A74).
//!
//! A listener enters the configuration only when its whole tree is
//! resolved: its route table, every cluster the table names and every
//! EDS cluster's endpoints, each either received or known not to exist.
//! While a listener's new tree is still arriving (a route that names a
//! cluster the server has not sent yet), the listener keeps its previous
//! tree from the configuration in use, so a request never sees half of
//! an update.
//!
//! A cluster known not to exist becomes a cluster without endpoints:
//! requests routed to it fail with `NoHealthyEndpoint` naming it, as
//! gRPC fails them with `UNAVAILABLE`, while other routes keep serving.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::cache::{ResourceStatus, TypeCache};
use super::resource::{ClusterValue, ResourceValue};
use super::watch::referenced_clusters;
use crate::config::{Cluster, ConfigError, Endpoint, Listener, MeshConfig, RouteTable};

/// A cluster with its endpoints, kept between assemblies so unchanged
/// clusters are not rebuilt (and stay pointer-equal).
#[derive(Debug)]
struct Assembled {
    from: Arc<ClusterValue>,
    endpoints: Option<Arc<Vec<Endpoint>>>,
    cluster: Arc<Cluster>,
}

/// Builds configurations out of the caches.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    clusters: HashMap<String, Assembled>,
    /// Stand-ins for clusters known not to exist.
    missing: HashMap<String, Arc<Cluster>>,
}

/// One resolved listener tree.
struct Tree {
    listener: Listener,
    table: Arc<RouteTable>,
    clusters: Vec<(String, Arc<Cluster>)>,
}

/// Why a listener's tree is not complete yet.
struct Pending;

impl Assembler {
    /// The configuration the caches describe, and the names it uses per
    /// type; `previous` lends trees to listeners whose new tree is pending.
    pub(crate) fn assemble(
        &mut self,
        roots: &[String],
        caches: &[TypeCache; 4],
        previous: Option<&MeshConfig>,
    ) -> Result<MeshConfig, ConfigError> {
        let mut builder = MeshConfig::builder();
        let mut tables = BTreeSet::new();
        let mut clusters: HashMap<String, Arc<Cluster>> = HashMap::new();
        let mut used = HashMap::new();
        for root in roots {
            match self.tree(root, caches) {
                Ok(Some(tree)) => {
                    for (name, cluster) in tree.clusters {
                        clusters.insert(name, cluster);
                    }
                    if tables.insert(tree.table.name().clone()) {
                        builder = builder.shared_route_table(tree.table);
                    }
                    builder = builder.listener(tree.listener);
                }
                Ok(None) => {}
                Err(Pending) => {
                    let Some((listener, table)) = previous.and_then(|p| {
                        let listener = p.listener(root)?;
                        Some((listener.clone(), p.route_table(&listener.route_table)?))
                    }) else {
                        continue;
                    };
                    for name in referenced_clusters(table) {
                        if let Some(c) = previous.and_then(|p| p.cluster(&name)) {
                            used.entry(name).or_insert_with(|| c.clone());
                        }
                    }
                    if tables.insert(table.name().clone()) {
                        builder = builder.shared_route_table(table.clone());
                    }
                    builder = builder.listener(listener);
                }
            }
        }
        for (name, cluster) in used {
            clusters.entry(name).or_insert(cluster);
        }
        self.clusters.retain(|name, _| clusters.contains_key(name));
        self.missing.retain(|name, _| clusters.contains_key(name));
        for cluster in clusters.into_values() {
            builder = builder.shared_cluster(cluster);
        }
        builder.build()
    }

    /// The tree of listener `name`: `Ok(None)` when the listener does not
    /// exist (or its route table does not), `Err(Pending)` while some part
    /// is still unheard of.
    fn tree(&mut self, name: &str, caches: &[TypeCache; 4]) -> Result<Option<Tree>, Pending> {
        let [lds, rds, cds, eds] = caches;
        let Some(ResourceValue::Listener(l)) = resolved(lds, name)? else {
            return Ok(None);
        };
        let table = match &l.inline_routes {
            Some(table) => table.clone(),
            None => match resolved(rds, &l.listener.route_table)? {
                Some(ResourceValue::RouteConfiguration(t)) => t.clone(),
                _ => return Ok(None),
            },
        };
        let mut clusters = Vec::new();
        let names: BTreeSet<String> = referenced_clusters(&table).collect();
        for cluster_name in names {
            let cluster = match resolved(cds, &cluster_name)? {
                Some(ResourceValue::Cluster(value)) => {
                    let endpoints = match &value.eds_name {
                        Some(eds_name) => match resolved(eds, eds_name)? {
                            Some(ResourceValue::Endpoints(e)) => Some(e.clone()),
                            _ => Some(Arc::new(Vec::new())),
                        },
                        None => None,
                    };
                    self.cluster(&cluster_name, value, endpoints)
                }
                _ => {
                    let stand_in = self.missing.entry(cluster_name.clone()).or_insert_with(|| {
                        Arc::new(Cluster::new(cluster_name.as_str(), Vec::new()))
                    });
                    stand_in.clone()
                }
            };
            clusters.push((cluster_name, cluster));
        }
        Ok(Some(Tree {
            listener: l.listener.clone(),
            table,
            clusters,
        }))
    }

    /// The cluster `value` with `endpoints` (EDS) filled in, reused when
    /// neither changed since the last assembly.
    fn cluster(
        &mut self,
        name: &str,
        value: &Arc<ClusterValue>,
        endpoints: Option<Arc<Vec<Endpoint>>>,
    ) -> Arc<Cluster> {
        if let Some(a) = self.clusters.get(name)
            && Arc::ptr_eq(&a.from, value)
            && match (&a.endpoints, &endpoints) {
                (Some(x), Some(y)) => Arc::ptr_eq(x, y),
                (None, None) => true,
                _ => false,
            }
        {
            return a.cluster.clone();
        }
        let cluster = match &endpoints {
            Some(e) => {
                let mut c = Cluster::clone(&value.cluster);
                c.endpoints = Vec::clone(e);
                Arc::new(c)
            }
            None => value.cluster.clone(),
        };
        self.clusters.insert(
            name.to_owned(),
            Assembled {
                from: value.clone(),
                endpoints,
                cluster: cluster.clone(),
            },
        );
        cluster
    }
}

/// The value of `name` if it has one; `Ok(None)` if it does not exist or
/// was refused before any value was accepted; `Err(Pending)` while
/// unheard of.
fn resolved<'c>(cache: &'c TypeCache, name: &str) -> Result<Option<&'c ResourceValue>, Pending> {
    match cache.entries.get(name) {
        Some(e) if e.value.is_some() => Ok(e.value.as_ref()),
        Some(e) if e.status != ResourceStatus::Requested => Ok(None),
        _ => Err(Pending),
    }
}

/// Whether two configurations hold the very same resources (an
/// assembly that changed nothing routing sees is not published).
pub(crate) fn same_config(a: &MeshConfig, b: &MeshConfig) -> bool {
    a.listeners().count() == b.listeners().count()
        && a.listeners().all(|l| b.listener(&l.name) == Some(l))
        && a.route_tables().count() == b.route_tables().count()
        && a.route_tables()
            .all(|t| b.route_table(t.name()).is_some_and(|u| Arc::ptr_eq(t, u)))
        && a.clusters().count() == b.clusters().count()
        && a.clusters()
            .all(|c| b.cluster(&c.name).is_some_and(|d| Arc::ptr_eq(c, d)))
}
