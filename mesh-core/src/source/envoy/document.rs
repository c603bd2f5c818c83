//! The static document: what [`load`] and [`load_file`] read.
//!
//! Two shapes are accepted, in YAML or JSON (JSON is YAML), in one or
//! more `---`-separated documents:
//!
//! - a resource list, as a discovery response carries it:
//!   `resources: [{"@type": ".../envoy.config.listener.v3.Listener", ...}]`
//!   with Listeners, RouteConfigurations, Clusters and
//!   ClusterLoadAssignments in any order;
//! - a bootstrap's `static_resources: {listeners: [...], clusters: [...]}`.
//!
//! Each resource goes through the JSON mirror into its proto, then through
//! the same proto → model conversion the xDS client uses. An EDS cluster
//! takes the endpoints of the ClusterLoadAssignment whose `cluster_name`
//! is its `eds_cluster_config.service_name` (or its own name); a missing
//! assignment is an error, since a static file has no EDS server to wait
//! for. Cross-resource checks (duplicate names, unknown clusters or route
//! tables) are [`MeshConfigBuilder::build`]'s.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};

use super::json::{self, AnyBody, AnyOf, nullable};
use super::proto::{self, type_name, type_url};
use crate::config::{ConfigError, Endpoint, MeshConfig, MeshConfigBuilder};

/// Reads Envoy v3 resources from YAML or JSON text; see the module docs
/// for the accepted shapes. Errors name the resource and field, or for
/// malformed text the input, the path and the line and column.
pub fn load(text: &str) -> Result<MeshConfigBuilder, ConfigError> {
    load_named(text, "Envoy configuration")
}

/// [`load`] of a file; errors name the file.
pub fn load_file(path: impl AsRef<Path>) -> Result<MeshConfigBuilder, ConfigError> {
    let path = path.as_ref();
    let input = format!("file {:?}", path.display().to_string());
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&input, "", format!("cannot read: {e}")))?;
    load_named(&text, &input)
}

/// One YAML document.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Document {
    resources: Option<Vec<AnyOf<Resource>>>,
    #[serde(alias = "staticResources")]
    static_resources: Option<StaticResources>,
}

/// A bootstrap's `static_resources`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StaticResources {
    #[serde(deserialize_with = "nullable")]
    listeners: Vec<json::Listener>,
    #[serde(deserialize_with = "nullable")]
    clusters: Vec<json::Cluster>,
}

/// An entry of `resources`, chosen by its `"@type"`.
#[derive(Debug)]
enum Resource {
    Listener(Box<json::Listener>),
    RouteConfiguration(Box<json::RouteConfiguration>),
    Cluster(Box<json::Cluster>),
    ClusterLoadAssignment(Box<json::ClusterLoadAssignment>),
    Unsupported,
}

impl AnyBody for Resource {
    fn deserialize_body<'de, D: Deserializer<'de>>(kind: &str, body: D) -> Result<Self, D::Error> {
        let is = |url| kind == type_name(url);
        Ok(if is(type_url::LISTENER) {
            Self::Listener(Box::new(Deserialize::deserialize(body)?))
        } else if is(type_url::ROUTE_CONFIGURATION) {
            Self::RouteConfiguration(Box::new(Deserialize::deserialize(body)?))
        } else if is(type_url::CLUSTER) {
            Self::Cluster(Box::new(Deserialize::deserialize(body)?))
        } else if is(type_url::CLUSTER_LOAD_ASSIGNMENT) {
            Self::ClusterLoadAssignment(Box::new(Deserialize::deserialize(body)?))
        } else {
            IgnoredAny::deserialize(body)?;
            Self::Unsupported
        })
    }
}

/// Resources read so far, by kind.
#[derive(Debug, Default)]
struct Collected {
    listeners: Vec<json::Listener>,
    route_configs: Vec<json::RouteConfiguration>,
    clusters: Vec<json::Cluster>,
    assignments: Vec<json::ClusterLoadAssignment>,
}

fn load_named(text: &str, input: &str) -> Result<MeshConfigBuilder, ConfigError> {
    let mut collected = Collected::default();
    let mut found = false;
    for document in serde_yaml::Deserializer::from_str(text) {
        let Some(doc) =
            Option::<Document>::deserialize(document).map_err(|e| yaml_error(&e, input))?
        else {
            continue;
        };
        found |= doc.resources.is_some() || doc.static_resources.is_some();
        for (i, any) in doc.resources.unwrap_or_default().into_iter().enumerate() {
            match any.body {
                Resource::Listener(l) => collected.listeners.push(*l),
                Resource::RouteConfiguration(r) => collected.route_configs.push(*r),
                Resource::Cluster(c) => collected.clusters.push(*c),
                Resource::ClusterLoadAssignment(a) => collected.assignments.push(*a),
                Resource::Unsupported => {
                    return Err(ConfigError::new(
                        input,
                        format!("resources[{i}]"),
                        format!("unsupported resource type {:?}", any.type_url),
                    ));
                }
            }
        }
        if let Some(s) = doc.static_resources {
            collected.listeners.extend(s.listeners);
            collected.clusters.extend(s.clusters);
        }
    }
    if !found {
        return Err(ConfigError::new(
            input,
            "",
            "no Envoy resources: expected `resources` or `static_resources`",
        ));
    }
    collected.into_builder()
}

impl Collected {
    fn into_builder(self) -> Result<MeshConfigBuilder, ConfigError> {
        let mut builder = MeshConfig::builder();
        for l in self.listeners {
            let resource = format!("Listener {:?}", l.name);
            let pb = l.into_proto().map_err(|e| e.in_resource(&resource))?;
            let (listener, table) = proto::listener(&pb)?;
            builder = builder.listener(listener);
            if let Some(table) = table {
                builder = builder.route_table(table);
            }
        }
        for r in self.route_configs {
            let resource = format!("RouteConfiguration {:?}", r.name);
            let pb = r.into_proto().map_err(|e| e.in_resource(&resource))?;
            builder = builder.route_table(proto::route_table(&pb)?);
        }
        let mut assignments: HashMap<String, Vec<Endpoint>> = HashMap::new();
        for a in self.assignments {
            let resource = format!("ClusterLoadAssignment {:?}", a.cluster_name);
            let pb = a.into_proto().map_err(|e| e.in_resource(&resource))?;
            let endpoints = proto::endpoints(&pb)?;
            if assignments.insert(pb.cluster_name, endpoints).is_some() {
                return Err(ConfigError::new(resource, "cluster_name", "duplicate name"));
            }
        }
        for c in self.clusters {
            let resource = format!("Cluster {:?}", c.name);
            let pb = c.into_proto().map_err(|e| e.in_resource(&resource))?;
            let mut cluster = proto::cluster(&pb)?;
            if let Some(service) = proto::eds_service_name(&pb) {
                let Some(endpoints) = assignments.get(service) else {
                    let field = if pb.eds_cluster_config.is_some() {
                        "eds_cluster_config.service_name"
                    } else {
                        "name"
                    };
                    return Err(ConfigError::new(
                        resource,
                        field,
                        format!("no ClusterLoadAssignment {service:?} among the resources"),
                    ));
                };
                cluster.endpoints = endpoints.clone();
            }
            builder = builder.cluster(cluster);
        }
        Ok(builder)
    }
}

/// A deserialization error: serde_yaml writes `path: message at line L
/// column C` when it knows the path, which becomes the field.
fn yaml_error(e: &serde_yaml::Error, input: &str) -> ConfigError {
    let message = e.to_string();
    match message.split_once(": ") {
        Some((path, reason)) if !path.is_empty() && !path.contains(char::is_whitespace) => {
            ConfigError::new(input, path, reason)
        }
        _ => ConfigError::new(input, "", message),
    }
}
