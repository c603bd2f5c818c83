//! Applying a [`ServicePolicy`] to loaded configuration.
//!
//! The policy targets a *host*: every listener named `host:<port>` (one
//! per port the host serves) leads to a route table, and every route of
//! the virtual host serving `host:<port>` in that table gets the policy's
//! timeout (also as the cap on a gRPC request's `grpc-timeout`), retry
//! policy, hedging and its own state-machine breaker, replacing whatever the source
//! configured. Other virtual hosts
//! of a shared table (other services) are left alone. Naming a host that has no listener is an error, so
//! a typo in a host name cannot silently leave the service unprotected.

use std::sync::Arc;

use super::{RESOURCE, ServicePolicy};
use crate::config::{ConfigError, MeshConfigBuilder};
use crate::resilience::breaker::CircuitBreaker;

impl ServicePolicy {
    /// Sets this policy on every route serving `host` (any port).
    pub fn apply(&self, builder: &mut MeshConfigBuilder, host: &str) -> Result<(), ConfigError> {
        let targets: Vec<(Arc<str>, Arc<str>)> = builder
            .listeners()
            .iter()
            .filter(|l| serves(&l.name, host))
            .map(|l| (Arc::clone(&l.route_table), Arc::clone(&l.name)))
            .collect();
        if targets.is_empty() {
            let known: Vec<&str> = builder.listeners().iter().map(|l| &*l.name).collect();
            return Err(ConfigError::new(
                RESOURCE,
                "",
                format!(
                    "no listener for host {host:?} (listeners: {})",
                    known.join(", ")
                ),
            ));
        }
        for table in builder.route_tables_mut() {
            let name = Arc::clone(table.name());
            for (_, authority) in targets.iter().filter(|(t, _)| *t == name) {
                let Some(vh) = table.virtual_host_for(authority) else {
                    continue;
                };
                for route in table.virtual_host_routes_mut(vh).into_iter().flatten() {
                    route.action.timeout = Some(self.timeout);
                    route.action.max_stream_duration = Some(self.timeout);
                    route.action.retry = self.retry.clone().map(Arc::new);
                    route.action.hedge = self.hedge;
                    route.action.breaker = self
                        .breaker
                        .map(CircuitBreaker::new)
                        .transpose()
                        .map_err(|e| e.in_resource(RESOURCE))?
                        .map(Arc::new);
                }
            }
        }
        Ok(())
    }
}

/// Whether listener `name` (`host:port`) is one of `host`'s.
fn serves(name: &str, host: &str) -> bool {
    name.rsplit_once(':')
        .is_some_and(|(h, port)| h.eq_ignore_ascii_case(host) && port.parse::<u16>().is_ok())
}
