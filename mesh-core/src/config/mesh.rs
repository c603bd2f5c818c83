//! The whole validated configuration: listeners, route tables, clusters.
//!
//! [`MeshConfig`] checks what no single resource can: unique names, every
//! listener's route table present, every route's clusters present. Static
//! sources build one at once; the xDS client builds one when the whole
//! LDS→RDS→CDS→EDS tree it needs is resolved. Either way the engine only
//! ever sees a complete, consistent configuration.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Cluster, ConfigError, Listener, RouteTable};

/// A complete, cross-checked configuration.
#[derive(Debug, Clone, Default)]
pub struct MeshConfig {
    listeners: HashMap<Arc<str>, Listener>,
    route_tables: HashMap<Arc<str>, Arc<RouteTable>>,
    clusters: HashMap<Arc<str>, Arc<Cluster>>,
}

impl MeshConfig {
    /// Starts an empty configuration.
    pub fn builder() -> MeshConfigBuilder {
        MeshConfigBuilder::default()
    }

    /// The listener for target `host:port`.
    pub fn listener(&self, target: &str) -> Option<&Listener> {
        self.listeners.get(target)
    }

    /// All listeners.
    pub fn listeners(&self) -> impl Iterator<Item = &Listener> {
        self.listeners.values()
    }

    /// The route table called `name`.
    pub fn route_table(&self, name: &str) -> Option<&Arc<RouteTable>> {
        self.route_tables.get(name)
    }

    /// All route tables.
    pub fn route_tables(&self) -> impl Iterator<Item = &Arc<RouteTable>> {
        self.route_tables.values()
    }

    /// The cluster called `name`.
    pub fn cluster(&self, name: &str) -> Option<&Arc<Cluster>> {
        self.clusters.get(name)
    }

    /// All clusters.
    pub fn clusters(&self) -> impl Iterator<Item = &Arc<Cluster>> {
        self.clusters.values()
    }
}

/// Collects resources, then validates them together.
#[derive(Debug, Default)]
pub struct MeshConfigBuilder {
    listeners: Vec<Listener>,
    route_tables: Vec<Arc<RouteTable>>,
    clusters: Vec<Arc<Cluster>>,
}

impl MeshConfigBuilder {
    /// Adds a listener.
    pub fn listener(mut self, listener: Listener) -> Self {
        self.listeners.push(listener);
        self
    }

    /// Adds a route table.
    pub fn route_table(self, table: RouteTable) -> Self {
        self.shared_route_table(Arc::new(table))
    }

    /// Adds a route table another configuration may share (the xDS
    /// client reuses unchanged resources across updates).
    pub fn shared_route_table(mut self, table: Arc<RouteTable>) -> Self {
        self.route_tables.push(table);
        self
    }

    /// Adds a cluster.
    pub fn cluster(self, cluster: Cluster) -> Self {
        self.shared_cluster(Arc::new(cluster))
    }

    /// Adds a cluster another configuration may share.
    pub fn shared_cluster(mut self, cluster: Arc<Cluster>) -> Self {
        self.clusters.push(cluster);
        self
    }

    /// Adds everything of `other`.
    pub fn merge(mut self, other: MeshConfigBuilder) -> Self {
        self.listeners.extend(other.listeners);
        self.route_tables.extend(other.route_tables);
        self.clusters.extend(other.clusters);
        self
    }

    /// The listeners added so far.
    pub fn listeners(&self) -> &[Listener] {
        &self.listeners
    }

    /// Mutable access to the route tables, for sources that adjust routes
    /// after loading (the policy JSON).
    pub fn route_tables_mut(&mut self) -> impl Iterator<Item = &mut RouteTable> {
        self.route_tables.iter_mut().map(Arc::make_mut)
    }

    /// Mutable access to the clusters, for sources that fill in endpoints.
    pub fn clusters_mut(&mut self) -> impl Iterator<Item = &mut Cluster> {
        self.clusters.iter_mut().map(Arc::make_mut)
    }

    /// Validates names and references and freezes the configuration.
    pub fn build(self) -> Result<MeshConfig, ConfigError> {
        let mut clusters = HashMap::new();
        for cluster in self.clusters {
            cluster.validate()?;
            let name = cluster.name.clone();
            if clusters.insert(name.clone(), cluster).is_some() {
                return Err(duplicate("Cluster", &name));
            }
        }
        let mut route_tables = HashMap::new();
        for table in self.route_tables {
            check_references(&table, &clusters)?;
            let name = table.name().clone();
            if route_tables.insert(name.clone(), table).is_some() {
                return Err(duplicate("RouteConfiguration", &name));
            }
        }
        let mut listeners = HashMap::new();
        for listener in self.listeners {
            if !route_tables.contains_key(&listener.route_table) {
                return Err(ConfigError::new(
                    format!("Listener {:?}", listener.name),
                    "route_config_name",
                    format!("unknown route configuration {:?}", listener.route_table),
                ));
            }
            let name = listener.name.clone();
            if listeners.insert(name.clone(), listener).is_some() {
                return Err(duplicate("Listener", &name));
            }
        }
        Ok(MeshConfig {
            listeners,
            route_tables,
            clusters,
        })
    }
}

fn duplicate(kind: &str, name: &str) -> ConfigError {
    ConfigError::new(format!("{kind} {name:?}"), "name", "duplicate name")
}

/// Every cluster a route names must exist, and a named subset must be one
/// the cluster declares (when it declares any).
fn check_references(
    table: &RouteTable,
    clusters: &HashMap<Arc<str>, Arc<Cluster>>,
) -> Result<(), ConfigError> {
    for (v, vh) in table.virtual_hosts().iter().enumerate() {
        for (r, route) in vh.routes.iter().enumerate() {
            for backend in route.action.all_backends() {
                let field = || format!("virtual_hosts[{v}].routes[{r}].route");
                let resource = || format!("RouteConfiguration {:?}", table.name());
                let Some(cluster) = clusters.get(&backend.cluster) else {
                    return Err(ConfigError::new(
                        resource(),
                        field(),
                        format!("unknown cluster {:?}", backend.cluster),
                    ));
                };
                if let Some(subset) = &backend.subset
                    && !cluster.subsets.is_empty()
                    && cluster.subset(&subset.name).is_none()
                {
                    return Err(ConfigError::new(
                        resource(),
                        field(),
                        format!(
                            "unknown subset {:?} of cluster {:?}",
                            subset.name, cluster.name
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
