//! Assembling listeners, route tables and clusters from the resources.
//!
//! The order of work follows the dependencies: ServiceEntries declare
//! services (ports, endpoints), DestinationRules attach policies and
//! subsets, then each VirtualService host gets, per HTTP port of its
//! service, a listener `host:port` and a route table of the same name
//! with one virtual host (domains `host` and `host:port`). Hosts with a
//! ServiceEntry or DestinationRule but no VirtualService get the default
//! route to their own cluster on each HTTP port. Finally one cluster
//! `outbound|port||host` is made per declared service port and per
//! (host, port) any route or mirror uses.
//!
//! A VirtualService whose `gateways` do not include `mesh` configures
//! gateways only and is skipped. Two VirtualServices for the same host
//! are rejected (Istio would merge them only for gateways). A
//! VirtualService for a host whose ports are all non-HTTP is validated
//! but produces nothing, as in Istio.

use std::collections::BTreeMap;

use super::destination_rule::{self, HostPolicy};
use super::document::{Doc, Resources};
use super::host::{self, Protocol, cluster_name};
use super::locality;
use super::options::LoadOptions;
use super::registry::Registry;
use super::routes::{ClusterRefs, RouteBuilder, default_route};
use super::service_entry;
use super::spec::VirtualServiceSpec;
use crate::config::{
    Cluster, ConfigError, DomainPattern, HttpProtocol, Listener, MeshConfig, MeshConfigBuilder,
    ResultExt, Route, RouteTable, VirtualHost,
};

impl TryFrom<&Resources> for MeshConfigBuilder {
    type Error = ConfigError;

    fn try_from(resources: &Resources) -> Result<Self, ConfigError> {
        generate(resources, &LoadOptions::default())
    }
}

impl TryFrom<Resources> for MeshConfigBuilder {
    type Error = ConfigError;

    fn try_from(resources: Resources) -> Result<Self, ConfigError> {
        generate(&resources, &LoadOptions::default())
    }
}

impl Resources {
    /// The configuration these resources make for the caller `options`
    /// describes (the `TryFrom` conversions use no options).
    pub fn to_builder(&self, options: &LoadOptions) -> Result<MeshConfigBuilder, ConfigError> {
        generate(self, options)
    }
}

fn generate(
    resources: &Resources,
    options: &LoadOptions,
) -> Result<MeshConfigBuilder, ConfigError> {
    let mut registry = Registry::default();
    for entry in &resources.service_entries {
        service_entry::declare(entry, &mut registry)?;
    }
    for rule in &resources.destination_rules {
        let (host, policy) = destination_rule::convert(rule)?;
        registry
            .add_policy(host, rule.id.clone(), policy)
            .map_err(|e| e.in_resource(&rule.id))?;
    }
    let routed = claim_hosts(&resources.virtual_services, &mut registry)?;

    let mut builder = MeshConfig::builder();
    let mut clusters = ClusterRefs::new();
    for (host, vs) in &routed {
        let service = &registry.services[host];
        let ports: Vec<u16> = service.http_ports().collect();
        if ports.is_empty() {
            // Validate anyway, against the first port; keep nothing.
            let mut scratch = ClusterRefs::new();
            let port = service.ports.first().map_or(80, |p| p.number);
            vs_routes(vs, &registry, port, &mut scratch)?;
            continue;
        }
        for port in ports {
            let mut routes = vs_routes(vs, &registry, port, &mut clusters)?;
            if routes.is_empty() {
                // No `http` entry applies to this port: Istio falls back
                // to the default route.
                routes.push(default_route(&registry, host, port, &mut clusters));
            }
            builder =
                add_listener(builder, host, port, routes).map_err(|e| e.in_resource(&vs.id))?;
        }
    }
    for (host, service) in &registry.services {
        let has_rule = service.declared_by.is_some() || registry.policies.contains_key(host);
        if routed.contains_key(host) || !has_rule {
            continue;
        }
        for port in service.http_ports() {
            let route = default_route(&registry, host, port, &mut clusters);
            builder = add_listener(builder, host, port, vec![route])?;
        }
    }
    for (host, service) in &registry.services {
        if service.declared_by.is_some() {
            clusters.extend(service.ports.iter().map(|p| (host.clone(), p.number)));
        }
    }
    for (host, port) in &clusters {
        builder = builder.cluster(cluster(&registry, host, *port, options));
    }
    Ok(builder)
}

/// Checks the VirtualServices' hosts and maps each to its one
/// VirtualService, registering implicit services.
fn claim_hosts<'a>(
    virtual_services: &'a [Doc<VirtualServiceSpec>],
    registry: &mut Registry,
) -> Result<BTreeMap<String, &'a Doc<VirtualServiceSpec>>, ConfigError> {
    let mut routed: BTreeMap<String, &Doc<VirtualServiceSpec>> = BTreeMap::new();
    for vs in virtual_services {
        let gateways = &vs.spec.gateways;
        if !gateways.is_empty() && !gateways.iter().any(|g| g == "mesh") {
            continue;
        }
        let error = |e: ConfigError| e.in_resource(&vs.id);
        if vs.spec.hosts.is_empty() {
            return Err(error(ConfigError::field(
                "spec.hosts",
                "a VirtualService needs at least one host",
            )));
        }
        for (i, raw) in vs.spec.hosts.iter().enumerate() {
            let field = format!("spec.hosts[{i}]");
            let host = host::normalize(raw).at(&field).map_err(error)?;
            if let Some(first) = routed.get(&host) {
                return Err(error(ConfigError::field(
                    field,
                    format!("host {host:?} is already routed by {}", first.id),
                )));
            }
            registry.ensure(&host);
            routed.insert(host, vs);
        }
    }
    Ok(routed)
}

fn vs_routes(
    vs: &Doc<VirtualServiceSpec>,
    registry: &Registry,
    port: u16,
    clusters: &mut ClusterRefs,
) -> Result<Vec<Route>, ConfigError> {
    RouteBuilder::new(registry, port, clusters)
        .http_routes(&vs.spec.http)
        .at("spec")
        .map_err(|e| e.in_resource(&vs.id))
}

/// Adds listener `host:port` and its route table.
fn add_listener(
    builder: MeshConfigBuilder,
    host: &str,
    port: u16,
    routes: Vec<Route>,
) -> Result<MeshConfigBuilder, ConfigError> {
    let name = format!("{host}:{port}");
    let virtual_host = VirtualHost {
        name: name.as_str().into(),
        domains: vec![DomainPattern::parse(host)?, DomainPattern::parse(&name)?],
        routes,
    };
    let table = RouteTable::new(name.as_str(), vec![virtual_host])?;
    let listener = Listener::new(&name, name.as_str())?;
    Ok(builder.listener(listener).route_table(table))
}

/// The cluster of `host` on `port`: the service's endpoints on that port
/// (none for an undeclared host or port), the host's policy, and the
/// endpoints' priorities or locality weights for the caller.
fn cluster(registry: &Registry, host: &str, port: u16, options: &LoadOptions) -> Cluster {
    let service = registry.services.get(host);
    let endpoints = service
        .and_then(|s| s.endpoints.get(&port))
        .cloned()
        .unwrap_or_default();
    let mut cluster = Cluster::new(cluster_name(host, port), endpoints);
    let protocol = service.and_then(|s| s.ports.iter().find(|p| p.number == port));
    if protocol.is_some_and(|p| p.protocol == Protocol::Http2) {
        cluster.protocol = HttpProtocol::Http2;
    }
    let policy = registry.policies.get(host).map(|(_, policy)| policy);
    match policy {
        Some(policy) => policy.apply(&mut cluster),
        None => HostPolicy::default().apply(&mut cluster),
    }
    locality::apply(
        policy.and_then(|p| p.locality.as_ref()),
        cluster.outlier_detection.is_some(),
        options,
        &mut cluster.endpoints,
    );
    cluster
}
