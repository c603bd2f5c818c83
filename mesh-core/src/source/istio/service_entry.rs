//! ServiceEntry → services in the registry: ports and endpoints.
//!
//! Each host of the entry becomes a service with the entry's ports.
//! Endpoints come from `endpoints` (address; the port named like the
//! service port in the endpoint's `ports` map, else the service port's
//! `targetPort`, else its number; `labels`; `weight`, 0 meaning 1;
//! `locality` as `region/zone/subzone`). With `resolution: DNS` or
//! `DNS_ROUND_ROBIN` and no endpoints, the host itself is the one
//! endpoint, resolved by DNS when connecting. `resolution: NONE`
//! (passthrough in a sidecar, where the application resolved the address
//! itself) is treated like DNS: an embedded client *is* the application.
//! `STATIC` with no endpoints leaves the cluster empty.
//!
//! Rejected: no hosts, no ports, a port out of range or declared twice,
//! an unknown resolution, a `workloadSelector` (it selects workloads this
//! loader cannot see: list endpoints inline instead), a bad endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::document::{Doc, ResourceId};
use super::host::{self, Protocol};
use super::registry::{Registry, Service, ServicePort};
use super::spec::{ServiceEntrySpec, ServicePortSpec, WorkloadEntrySpec};
use super::values;
use crate::config::{ConfigError, Endpoint, Locality, ResultExt};
use crate::source::shared;

/// How a ServiceEntry's endpoints are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolution {
    /// Listed endpoints, or none.
    Static,
    /// Listed endpoints, or the host itself, resolved by DNS.
    Dns,
}

/// Adds the services of one ServiceEntry to the registry.
pub(crate) fn declare(
    doc: &Doc<ServiceEntrySpec>,
    registry: &mut Registry,
) -> Result<(), ConfigError> {
    declare_spec(&doc.spec, &doc.id, registry)
        .at("spec")
        .map_err(|e| e.in_resource(&doc.id))
}

fn declare_spec(
    spec: &ServiceEntrySpec,
    id: &ResourceId,
    registry: &mut Registry,
) -> Result<(), ConfigError> {
    if spec.hosts.is_empty() {
        return Err(ConfigError::field(
            "hosts",
            "a ServiceEntry needs at least one host",
        ));
    }
    if spec.workload_selector.is_some() {
        return Err(ConfigError::field(
            "workloadSelector",
            "selecting workloads is not supported here: list the endpoints inline",
        ));
    }
    let resolution = resolution(spec.resolution.as_deref()).at("resolution")?;
    let ports = ports(&spec.ports).at("ports")?;
    for (i, endpoint) in spec.endpoints.iter().enumerate() {
        check_endpoint_ports(endpoint).at(format!("endpoints[{i}]"))?;
    }
    for (h, raw_host) in spec.hosts.iter().enumerate() {
        let field = format!("hosts[{h}]");
        let host = host::normalize(raw_host).at(&field)?;
        let mut endpoints = BTreeMap::new();
        for (port, port_spec) in ports.iter().zip(&spec.ports) {
            let list = if spec.endpoints.is_empty() && resolution == Resolution::Dns {
                let target = target_port(port_spec)?.unwrap_or(port.number);
                vec![Endpoint::new(&host, u32::from(target)).at(&field)?]
            } else {
                spec.endpoints
                    .iter()
                    .enumerate()
                    .map(|(i, e)| endpoint(e, port_spec).at(format!("endpoints[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?
            };
            endpoints.insert(port.number, list);
        }
        let service = Service {
            ports: ports.clone(),
            endpoints,
            declared_by: Some(id.clone()),
        };
        registry.declare(host, service, &field)?;
    }
    Ok(())
}

fn resolution(value: Option<&str>) -> Result<Resolution, ConfigError> {
    match value.unwrap_or("NONE") {
        "STATIC" => Ok(Resolution::Static),
        "DNS" | "DNS_ROUND_ROBIN" | "NONE" | "" => Ok(Resolution::Dns),
        other => Err(ConfigError::field(
            "",
            format!("unknown resolution {other:?}; expected NONE, STATIC, DNS or DNS_ROUND_ROBIN"),
        )),
    }
}

fn ports(specs: &[ServicePortSpec]) -> Result<Vec<ServicePort>, ConfigError> {
    if specs.is_empty() {
        return Err(ConfigError::field(
            "",
            "a ServiceEntry needs at least one port",
        ));
    }
    let mut out: Vec<ServicePort> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let at = |field: &str| format!("[{i}].{field}");
        let number = spec
            .number
            .ok_or_else(|| ConfigError::field(at("number"), "required"))
            .and_then(|n| values::port(n).at(at("number")))?;
        if out.iter().any(|p| p.number == number) {
            return Err(ConfigError::field(
                at("number"),
                format!("port {number} declared twice"),
            ));
        }
        target_port(spec).at(format!("[{i}]"))?;
        out.push(ServicePort {
            number,
            protocol: Protocol::of_port(spec.protocol.as_deref(), &spec.name),
        });
    }
    Ok(out)
}

fn target_port(spec: &ServicePortSpec) -> Result<Option<u16>, ConfigError> {
    spec.target_port
        .map(|p| values::port(p).at("targetPort"))
        .transpose()
}

/// Every port in an endpoint's `ports` map is in range, even those that
/// name no service port.
fn check_endpoint_ports(spec: &WorkloadEntrySpec) -> Result<(), ConfigError> {
    for (name, value) in &spec.ports {
        values::port(*value).at(format!("ports.{name}"))?;
    }
    Ok(())
}

fn endpoint(spec: &WorkloadEntrySpec, port: &ServicePortSpec) -> Result<Endpoint, ConfigError> {
    let named = (!port.name.is_empty())
        .then(|| spec.ports.get(&port.name))
        .flatten();
    let number = match named {
        Some(p) => values::port(*p).at(format!("ports.{}", port.name))?,
        None => match target_port(port)? {
            Some(p) => p,
            None => values::port(port.number.unwrap_or_default())?,
        },
    };
    let mut endpoint = Endpoint::new(&spec.address, u32::from(number))?;
    match spec.weight {
        None | Some(0) => {}
        Some(w) => {
            let w = values::count(w).at("weight")?;
            endpoint = endpoint.with_weight(w).at("weight")?;
        }
    }
    if let Some(text) = &spec.locality {
        endpoint.locality = shared::locality(locality_of(text).at("locality")?);
    }
    if !spec.labels.is_empty() {
        endpoint.labels = shared::labels(spec.labels.clone());
    }
    Ok(endpoint)
}

/// `region/zone/subzone`, trailing parts optional.
fn locality_of(text: &str) -> Result<Locality, ConfigError> {
    let mut parts = text.split('/');
    let mut next = || -> Arc<str> { parts.next().unwrap_or("").into() };
    let locality = Locality {
        region: next(),
        zone: next(),
        sub_zone: next(),
    };
    if text.split('/').count() > 3 {
        return Err(ConfigError::field(
            "",
            format!("{text:?} is not region/zone/subzone"),
        ));
    }
    Ok(locality)
}
