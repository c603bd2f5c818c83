//! Which resources the client needs: the tree that routing walks.
//!
//! From the targets (`host:port` listener names) down: each listener's
//! route table (inline or by RDS name), every cluster a route or mirror
//! names, every EDS cluster's load assignment. What the tree no longer
//! reaches is unsubscribed, except what the configuration in use still
//! references: as gRFC A74 asks, a cluster stays subscribed until the
//! configuration that replaces it is complete and published.

use std::collections::BTreeSet;

use super::cache::TypeCache;
use super::resource::{ResourceType, ResourceValue};
use crate::config::{MeshConfig, RouteTable};

/// What to subscribe to, for one type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Want {
    pub wildcard: bool,
    pub names: BTreeSet<String>,
}

/// What the tree needs, given the values cached so far.
pub(crate) fn wanted(
    targets: &BTreeSet<String>,
    wildcard_listeners: bool,
    wildcard_clusters: bool,
    caches: &[TypeCache; 4],
    in_use: Option<&MeshConfig>,
) -> [Want; 4] {
    let [lds, rds, cds, _] = caches;
    let mut want: [Want; 4] = Default::default();
    want[0] = Want {
        wildcard: wildcard_listeners,
        names: if wildcard_listeners {
            BTreeSet::new()
        } else {
            targets.clone()
        },
    };

    let listener_names: Vec<&String> = if wildcard_listeners {
        lds.entries.keys().collect()
    } else {
        targets.iter().collect()
    };
    let mut tables: Vec<&RouteTable> = Vec::new();
    for name in listener_names {
        if let Some(ResourceValue::Listener(l)) = lds.value(name) {
            match &l.inline_routes {
                Some(table) => tables.push(table),
                None => {
                    want[1].names.insert(l.listener.route_table.to_string());
                }
            }
        }
    }
    // The route tables the configuration in use reads over RDS.
    for listener in in_use.iter().flat_map(|c| c.listeners()) {
        let inline = match lds.value(&listener.name) {
            Some(ResourceValue::Listener(l)) => l.inline_routes.is_some(),
            _ => false,
        };
        if !inline {
            want[1].names.insert(listener.route_table.to_string());
        }
    }
    for name in &want[1].names {
        if let Some(ResourceValue::RouteConfiguration(table)) = rds.value(name) {
            tables.push(table);
        }
    }

    want[2].wildcard = wildcard_clusters;
    if !wildcard_clusters {
        for table in tables {
            want[2].names.extend(referenced_clusters(table));
        }
        let in_use = in_use.iter().flat_map(|c| c.clusters());
        want[2].names.extend(in_use.map(|c| c.name.to_string()));
    }
    let cluster_names = if wildcard_clusters {
        &cds.entries.keys().cloned().collect()
    } else {
        &want[2].names
    };
    let eds_name = |name: &str| match cds.value(name) {
        Some(ResourceValue::Cluster(c)) => c.eds_name.as_deref().map(str::to_owned),
        _ => None,
    };
    let in_use = in_use.iter().flat_map(|c| c.clusters());
    want[3].names = cluster_names
        .iter()
        .filter_map(|name| eds_name(name))
        .chain(in_use.filter_map(|c| eds_name(&c.name)))
        .collect();
    want
}

/// Every cluster a table's routes and mirrors name.
pub(crate) fn referenced_clusters(table: &RouteTable) -> impl Iterator<Item = String> + '_ {
    table.virtual_hosts().iter().flat_map(|vh| {
        vh.routes
            .iter()
            .flat_map(|route| route.action.all_backends().map(|b| b.cluster.to_string()))
    })
}

/// The type at `index` of the arrays above.
pub(crate) fn type_at(index: usize) -> ResourceType {
    ResourceType::ALL[index]
}
