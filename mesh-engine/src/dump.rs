//! The config dump: what the engine routes by, as JSON, for people and
//! for tools (the shape is stable in its keys, not in its `match`
//! descriptions).

use mesh_core::Snapshot;
use mesh_core::config::{Destination, MeshConfig};
use serde_json::{Value, json};

/// The snapshot's listeners, route tables and clusters (with each
/// endpoint's ejection), and the xDS client's dump when there is one.
pub(crate) fn config_dump(snapshot: &Snapshot, xds: Option<Value>) -> Value {
    let config: &MeshConfig = snapshot.config();
    let listeners: Vec<Value> = config
        .listeners()
        .map(|l| json!({"name": &*l.name, "route_table": &*l.route_table}))
        .collect();
    let route_tables: Vec<Value> = config
        .route_tables()
        .map(|table| {
            let virtual_hosts: Vec<Value> = table
                .virtual_hosts()
                .iter()
                .map(|vh| {
                    let routes: Vec<Value> = vh
                        .routes
                        .iter()
                        .map(|route| {
                            let action = &route.action;
                            json!({
                                "name": &*route.name,
                                "match": format!("{:?}", route.matcher),
                                "backends": backends(&action.destination),
                                "timeout_ms": action.timeout.map(|t| t.as_millis() as u64),
                                "retries": action.retry.as_ref().map(|r| r.num_retries),
                            })
                        })
                        .collect();
                    json!({
                        "name": &*vh.name,
                        "domains": vh.domains.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>(),
                        "routes": routes,
                    })
                })
                .collect();
            json!({"name": &**table.name(), "virtual_hosts": virtual_hosts})
        })
        .collect();
    let clusters: Vec<Value> = snapshot
        .cluster_states()
        .map(|(cluster, state)| {
            let ejections = state.ejections();
            let endpoints: Vec<Value> = cluster
                .endpoints
                .iter()
                .enumerate()
                .map(|(i, endpoint)| {
                    json!({
                        "address": endpoint.uri_authority().as_str(),
                        "weight": endpoint.weight,
                        "priority": endpoint.priority,
                        "health": format!("{:?}", endpoint.health),
                        "labels": &*endpoint.labels,
                        "ejected": ejections.as_ref().is_some_and(|view| view.is_ejected(i)),
                    })
                })
                .collect();
            json!({
                "name": &*cluster.name,
                "lb_policy": format!("{:?}", cluster.lb_policy),
                "protocol": format!("{:?}", cluster.protocol),
                "endpoints": endpoints,
            })
        })
        .collect();
    let mut dump = json!({
        "listeners": listeners,
        "route_tables": route_tables,
        "clusters": clusters,
    });
    if let Some(xds) = xds {
        dump["xds"] = xds;
    }
    dump
}

fn backends(destination: &Destination) -> Vec<Value> {
    let weighted = match destination {
        Destination::Backend(backend) => vec![(backend, 1)],
        Destination::Weighted(split) => split
            .arms()
            .iter()
            .map(|a| (&a.backend, a.weight))
            .collect(),
    };
    weighted
        .into_iter()
        .map(|(backend, weight)| {
            json!({
                "cluster": &*backend.cluster,
                "subset": backend.subset.as_ref().map(|s| &*s.name),
                "weight": weight,
            })
        })
        .collect()
}
