//! The service registry: what the loaded resources say about each host.
//!
//! Istio routes to *services*; a service is a host with ports (from a
//! ServiceEntry, or from the platform in a real cluster) and a
//! DestinationRule adds policies and subsets. The registry answers the
//! questions route conversion asks: which port a destination means,
//! whether a subset exists, which hash policy a host's routes need.
//!
//! A host that appears only in a VirtualService or DestinationRule is an
//! *implicit* service with one HTTP port, 80, and no endpoints (in a
//! cluster the platform would supply them; here nobody does, so its
//! cluster is empty until another source fills it in).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::destination_rule::HostPolicy;
use super::document::ResourceId;
use super::host::Protocol;
use crate::config::{ConfigError, Endpoint, HashPolicy, SubsetRef};

/// The port an implicit service listens on.
pub(crate) const IMPLICIT_PORT: u16 = 80;

/// One port of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServicePort {
    pub number: u16,
    pub protocol: Protocol,
}

/// A host's ports and endpoints.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    /// Ports in declaration order.
    pub ports: Vec<ServicePort>,
    /// Endpoints per service port.
    pub endpoints: BTreeMap<u16, Vec<Endpoint>>,
    /// The ServiceEntry that declared it; `None` for an implicit service.
    pub declared_by: Option<ResourceId>,
}

impl Service {
    fn implicit() -> Self {
        Self {
            ports: vec![ServicePort {
                number: IMPLICIT_PORT,
                protocol: Protocol::Http1,
            }],
            endpoints: BTreeMap::new(),
            declared_by: None,
        }
    }

    /// The ports that get listeners.
    pub(crate) fn http_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports
            .iter()
            .filter(|p| p.protocol.is_http())
            .map(|p| p.number)
    }
}

/// Every known host, and the DestinationRule policy of those that have one.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub services: BTreeMap<String, Service>,
    pub policies: BTreeMap<String, (ResourceId, HostPolicy)>,
}

impl Registry {
    /// Declares `host` from a ServiceEntry; a host declared twice is an
    /// error (`field` names the host entry of the second).
    pub(crate) fn declare(
        &mut self,
        host: String,
        service: Service,
        field: &str,
    ) -> Result<(), ConfigError> {
        if let Some(first) = self
            .services
            .get(&host)
            .and_then(|s| s.declared_by.as_ref())
        {
            return Err(ConfigError::field(
                field,
                format!("host {host:?} is already declared by {first}"),
            ));
        }
        self.services.insert(host, service);
        Ok(())
    }

    /// Makes sure `host` is known, as an implicit service if need be.
    pub(crate) fn ensure(&mut self, host: &str) {
        if !self.services.contains_key(host) {
            self.services.insert(host.to_owned(), Service::implicit());
        }
    }

    /// Records the DestinationRule policy of `host`; one rule per host.
    pub(crate) fn add_policy(
        &mut self,
        host: String,
        id: ResourceId,
        policy: HostPolicy,
    ) -> Result<(), ConfigError> {
        if let Some((first, _)) = self.policies.get(&host) {
            return Err(ConfigError::field(
                "spec.host",
                format!("host {host:?} already has {first}"),
            ));
        }
        self.ensure(&host);
        self.policies.insert(host, (id, policy));
        Ok(())
    }

    /// The port a destination means, the way Istio resolves it: the
    /// explicit `port.number`, else the only port of a declared service,
    /// else the port of the listener being built. For a declared service
    /// the port must be one it declares. Errors name `port.number`.
    pub(crate) fn resolve_port(
        &self,
        host: &str,
        explicit: Option<u16>,
        listener_port: u16,
    ) -> Result<u16, ConfigError> {
        let declared = self.services.get(host).filter(|s| s.declared_by.is_some());
        let Some(service) = declared else {
            return Ok(explicit.unwrap_or(listener_port));
        };
        let port = match (explicit, &service.ports[..]) {
            (Some(port), _) => port,
            (None, [only]) => only.number,
            (None, _) => listener_port,
        };
        if service.ports.iter().any(|p| p.number == port) {
            return Ok(port);
        }
        let declared: Vec<u16> = service.ports.iter().map(|p| p.number).collect();
        Err(ConfigError::field(
            "port.number",
            format!("host {host:?} has no port {port} (its ports: {declared:?})"),
        ))
    }

    /// The subset `name` of `host`, from its DestinationRule. Errors name
    /// `subset`.
    pub(crate) fn subset(&self, host: &str, name: &str) -> Result<SubsetRef, ConfigError> {
        self.policies
            .get(host)
            .and_then(|(_, p)| p.subsets.iter().find(|s| &*s.name == name))
            .map(|s| SubsetRef {
                name: s.name.clone(),
                labels: Arc::clone(&s.labels),
            })
            .ok_or_else(|| {
                ConfigError::field(
                    "subset",
                    format!("unknown subset {name:?} of host {host:?}"),
                )
            })
    }

    /// The hash policy routes to `host` carry (consistent hashing).
    pub(crate) fn hash_policy(&self, host: &str) -> Option<&HashPolicy> {
        self.policies.get(host).and_then(|(_, p)| p.hash.as_ref())
    }
}
