//! Istio networking YAML: `VirtualService`, `DestinationRule` and
//! `ServiceEntry` turned into listeners, route tables and clusters the way
//! Istio's proxyless (gRPC) generator serves them to a client.
//!
//! # Why client-side
//!
//! A proxyless client does not get Envoy's sidecar listeners: it asks for
//! an *API listener* per target `host:port`, whose route table is built
//! from the VirtualService of that host, and for clusters named
//! `outbound|port|subset|host`. This module performs the same translation
//! locally from YAML files, so the engine can run with Istio's
//! configuration and no control plane (tests, demos, edge deployments)
//! and behave as it would under istiod.
//!
//! # What comes out
//!
//! - one cluster per (service host, port), named `outbound|{port}||{host}`
//!   (see [`cluster_name`]); subsets are label filters on that cluster
//!   rather than separate `outbound|port|subset|host` clusters, so a route
//!   names the cluster plus a [`crate::config::SubsetRef`];
//! - per HTTP port (`HTTP`, `HTTP2`, `GRPC`, `GRPC-WEB`, or a port name
//!   prefixed so) of a host with a VirtualService, ServiceEntry or
//!   DestinationRule: a listener and a route table both named `host:port`,
//!   one virtual host with domains `host` and `host:port`. TCP and other
//!   opaque ports get a cluster only.
//!
//! Ports come from the ServiceEntry; a host known only from a
//! VirtualService or DestinationRule has port 80 and no endpoints; a
//! host named only as a destination takes the port of the listener whose
//! route names it (Istio's rule), unless the destination gives one.
//! Hosts are used as written: short names are **not** expanded to
//! `name.namespace.svc.cluster.local`, since no Kubernetes context exists
//! here; spell a host the same way in every resource.
//!
//! In short (each conversion module documents its resource in detail):
//!
//! # ServiceEntry
//!
//! `hosts`, `ports` (number, name, protocol, targetPort), `resolution`
//! and `endpoints` (address, ports by port name, labels, weight,
//! locality). `DNS` with no endpoints makes the host itself the endpoint.
//! `workloadSelector` is rejected; `addresses`, `location`, `exportTo`
//! and `subjectAltNames` are ignored.
//!
//! # DestinationRule
//!
//! `trafficPolicy` (load balancer, consistent hash, locality load
//! balancing relative to the caller's [`LoadOptions::caller_locality`],
//! connection pool limits and settings, outlier detection, TLS mode) and
//! `subsets`. `portLevelSettings` and
//! subset-level `trafficPolicy` are ignored.
//!
//! # VirtualService
//!
//! `hosts`, `gateways` (only `mesh` matters), and `http[]` with `match`,
//! `route`, `timeout`, `retries`, `fault`, `mirror`/`mirrors`. `tcp` and
//! `tls` routes are ignored; `redirect`, `directResponse`, `delegate` and
//! `rewrite` are rejected.
//!
//! # Deviations from Istio
//!
//! - No FQDN expansion of short names and no namespace scoping
//!   (`exportTo`): every resource is visible to every other one, so two
//!   VirtualServices (or DestinationRules, or ServiceEntries) for the same
//!   host are an error instead of being merged or shadowed.
//! - Subset-level and port-level traffic policies are ignored.
//! - `maglev` hashing becomes a ring hash; `resolution: NONE` is treated
//!   like `DNS`.
//! - `sourceLabels`/`sourceNamespace` matches are rejected (the embedding
//!   workload's labels are unknown).
//! - Default breakers are Istio's (unlimited), default load balancing is
//!   the proxyless generator's (round robin), and TLS is off unless a
//!   DestinationRule asks for it (no auto-mTLS).
//! - Locality load balancing needs the caller's locality given in
//!   [`LoadOptions`] (istiod reads it from the proxy's node metadata);
//!   without it, `localityLbSetting` has no effect.
//!
//! Every error names the resource (`VirtualService default/name`, or
//! `document 3` before the kind is known) and the field path
//! (`spec.http[1].route[0].destination.subset`).

mod destination_rule;
mod document;
mod duration;
mod fault;
mod generate;
mod host;
mod locality;
mod matching;
mod options;
mod pool;
mod registry;
mod retry;
mod routes;
mod service_entry;
mod spec;
mod values;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use document::Resources;
pub use host::cluster_name;
pub use options::LoadOptions;

pub(crate) use retry::parse_retry_on;

use crate::config::{ConfigError, MeshConfigBuilder};

/// Loads a multi-document YAML stream of Istio resources.
///
/// The result still has to be [`MeshConfigBuilder::build`]-ed (possibly
/// after merging other sources), which cross-checks names and references.
pub fn load(yaml: &str) -> Result<MeshConfigBuilder, ConfigError> {
    load_with(yaml, &LoadOptions::default())
}

/// Like [`load`], for the caller `options` describes (its locality, for
/// `localityLbSetting`).
pub fn load_with(yaml: &str, options: &LoadOptions) -> Result<MeshConfigBuilder, ConfigError> {
    Resources::parse(yaml)?.to_builder(options)
}

/// Reads and loads a YAML file; a read error names the file as the
/// resource.
pub fn load_file(path: impl AsRef<Path>) -> Result<MeshConfigBuilder, ConfigError> {
    load_file_with(path, &LoadOptions::default())
}

/// Like [`load_file`], for the caller `options` describes.
pub fn load_file_with(
    path: impl AsRef<Path>,
    options: &LoadOptions,
) -> Result<MeshConfigBuilder, ConfigError> {
    let path = path.as_ref();
    let yaml = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(path.display().to_string(), "", format!("cannot read: {e}"))
    })?;
    load_with(&yaml, options).map_err(|e| e.in_resource(path.display()))
}
