//! The four resource types the client subscribes to, and how one `Any`
//! from a discovery response becomes a validated model value.
//!
//! Decoding is where bad input stops: a wrong `type_url`, bytes that are
//! not the protobuf they claim to be, or a resource the model refuses all
//! become a [`DecodeError`] naming the resource when its name could be
//! read. The caller NACKs those and keeps the rest of the response
//! (gRFC A46).

use std::fmt;
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::Cluster as PbCluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener as PbListener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::service::discovery::v3::Resource as PbResource;
use envoy_types::pb::google::protobuf::Any;
use prost::Message;

use crate::config::{Cluster, Endpoint, Listener, RouteTable};
use crate::source::envoy::{self, type_url};

/// `Resource` wrapper some servers put around each resource of a SotW
/// response (`xds.config.resource-in-sotw`).
const RESOURCE_WRAPPER: &str = "type.googleapis.com/envoy.service.discovery.v3.Resource";

/// A resource type of the LDS → RDS → CDS → EDS tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// `envoy.config.listener.v3.Listener` (LDS).
    Listener,
    /// `envoy.config.route.v3.RouteConfiguration` (RDS).
    RouteConfiguration,
    /// `envoy.config.cluster.v3.Cluster` (CDS).
    Cluster,
    /// `envoy.config.endpoint.v3.ClusterLoadAssignment` (EDS).
    ClusterLoadAssignment,
}

impl ResourceType {
    /// All types, in the order requests are sent on a new stream (the
    /// order of the tree, so a server answering in order fills it top down).
    pub const ALL: [ResourceType; 4] = [
        Self::Listener,
        Self::RouteConfiguration,
        Self::Cluster,
        Self::ClusterLoadAssignment,
    ];

    /// The type URL on the wire.
    pub fn type_url(self) -> &'static str {
        match self {
            Self::Listener => type_url::LISTENER,
            Self::RouteConfiguration => type_url::ROUTE_CONFIGURATION,
            Self::Cluster => type_url::CLUSTER,
            Self::ClusterLoadAssignment => type_url::CLUSTER_LOAD_ASSIGNMENT,
        }
    }

    /// The type a URL names, if it is one of ours.
    pub fn from_type_url(url: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.type_url() == url)
    }

    /// Whether a state-of-the-world response carries the whole set, so a
    /// resource missing from it is deleted (LDS and CDS). RDS and EDS
    /// responses carry only what changed; absence there means nothing.
    pub fn is_full_state(self) -> bool {
        matches!(self, Self::Listener | Self::Cluster)
    }

    /// A short name for logs, metrics and the config dump.
    pub fn short_name(self) -> &'static str {
        match self {
            Self::Listener => "lds",
            Self::RouteConfiguration => "rds",
            Self::Cluster => "cds",
            Self::ClusterLoadAssignment => "eds",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Listener => "Listener",
            Self::RouteConfiguration => "RouteConfiguration",
            Self::Cluster => "Cluster",
            Self::ClusterLoadAssignment => "ClusterLoadAssignment",
        })
    }
}

/// A listener and, when its connection manager carries one, its inline
/// route table.
#[derive(Debug)]
pub struct ListenerValue {
    /// The listener.
    pub listener: Listener,
    /// The inline route table, or `None` when the table comes from RDS.
    pub inline_routes: Option<Arc<RouteTable>>,
}

/// A cluster, with where its endpoints come from.
#[derive(Debug)]
pub struct ClusterValue {
    /// The cluster; for EDS clusters its endpoints are empty here.
    pub cluster: Arc<Cluster>,
    /// For an EDS cluster, the `ClusterLoadAssignment` name to subscribe.
    pub eds_name: Option<Arc<str>>,
}

/// One validated resource.
#[derive(Debug, Clone)]
pub enum ResourceValue {
    /// LDS.
    Listener(Arc<ListenerValue>),
    /// RDS.
    RouteConfiguration(Arc<RouteTable>),
    /// CDS.
    Cluster(Arc<ClusterValue>),
    /// EDS.
    Endpoints(Arc<Vec<Endpoint>>),
}

/// Why one resource of a response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", name.as_deref().map(|n| format!("{n:?}: ")).unwrap_or_default())]
pub struct DecodeError {
    /// The resource's name, when it could be read.
    pub name: Option<String>,
    /// What is wrong with it.
    pub reason: String,
}

impl DecodeError {
    fn unnamed(reason: impl Into<String>) -> Self {
        Self {
            name: None,
            reason: reason.into(),
        }
    }
}

/// A decoded resource: its name and value.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The resource name.
    pub name: String,
    /// The validated value.
    pub value: ResourceValue,
    /// A hash of the bytes it came from: a resource sent again unchanged
    /// (go-control-plane resends every type on each version) keeps its
    /// decoded value, so nothing downstream is rebuilt.
    pub digest: u64,
    /// The bytes it came from, kept only for the on-disk snapshot.
    pub raw: Option<Any>,
}

/// Decodes one resource of a response for type `expected`.
pub fn decode(expected: ResourceType, any: &Any) -> Result<Decoded, DecodeError> {
    if any.type_url == RESOURCE_WRAPPER {
        let wrapper = PbResource::decode(any.value.as_slice())
            .map_err(|e| DecodeError::unnamed(format!("malformed Resource wrapper: {e}")))?;
        let inner = wrapper
            .resource
            .ok_or_else(|| DecodeError::unnamed("Resource wrapper without a resource"))?;
        return decode(expected, &inner);
    }
    if any.type_url != expected.type_url() {
        return Err(DecodeError::unnamed(format!(
            "a resource of type {:?} in a {expected} response",
            any.type_url
        )));
    }
    let bytes = any.value.as_slice();
    let malformed =
        |e: prost::DecodeError| DecodeError::unnamed(format!("malformed {expected} protobuf: {e}"));
    let refused = |name: &str, e: crate::config::ConfigError| DecodeError {
        name: Some(name.to_owned()),
        reason: e.to_string(),
    };
    let (name, value) = match expected {
        ResourceType::Listener => {
            let pb = PbListener::decode(bytes).map_err(malformed)?;
            let (listener, inline) = envoy::listener(&pb).map_err(|e| refused(&pb.name, e))?;
            let value = ListenerValue {
                listener,
                inline_routes: inline.map(Arc::new),
            };
            (pb.name, ResourceValue::Listener(Arc::new(value)))
        }
        ResourceType::RouteConfiguration => {
            let pb = RouteConfiguration::decode(bytes).map_err(malformed)?;
            let table = envoy::route_table(&pb).map_err(|e| refused(&pb.name, e))?;
            (pb.name, ResourceValue::RouteConfiguration(Arc::new(table)))
        }
        ResourceType::Cluster => {
            let pb = PbCluster::decode(bytes).map_err(malformed)?;
            let cluster = envoy::cluster(&pb).map_err(|e| refused(&pb.name, e))?;
            cluster.validate().map_err(|e| refused(&pb.name, e))?;
            let value = ClusterValue {
                eds_name: envoy::eds_service_name(&pb).map(Arc::from),
                cluster: Arc::new(cluster),
            };
            (pb.name, ResourceValue::Cluster(Arc::new(value)))
        }
        ResourceType::ClusterLoadAssignment => {
            let pb = ClusterLoadAssignment::decode(bytes).map_err(malformed)?;
            let endpoints = envoy::endpoints(&pb).map_err(|e| refused(&pb.cluster_name, e))?;
            (
                pb.cluster_name,
                ResourceValue::Endpoints(Arc::new(endpoints)),
            )
        }
    };
    if name.is_empty() {
        return Err(DecodeError::unnamed(format!("{expected} without a name")));
    }
    Ok(Decoded {
        name,
        value,
        digest: xxhash_rust::xxh64::xxh64(bytes, 0),
        raw: None,
    })
}
