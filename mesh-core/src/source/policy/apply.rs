//! Applying a [`ServicePolicy`] to loaded configuration.
//!
//! The policy targets a *host*: every listener named `host:<port>` (one
//! per port the host serves) leads to a route table, and every route of
//! the virtual host serving `host:<port>` in that table gets the policy's
//! timeout (also as the cap on a gRPC request's `grpc-timeout`), retry
//! policy, hedging and its own state-machine breaker, replacing whatever
//! the source configured; when the policy sets a rate limit, the routes
//! share one bucket for the whole service (a route's own limit stays
//! otherwise). Other virtual hosts of a shared table (other services) are
//! left alone. Naming a host that has no listener is an error, so a typo
//! in a host name cannot silently leave the service unprotected.

use std::sync::Arc;

use super::{RESOURCE, ServicePolicy};
use crate::config::{ConfigError, Fraction, MeshConfigBuilder};
use crate::resilience::breaker::CircuitBreaker;
use crate::resilience::ratelimit::{LocalRateLimit, TokenBucket};

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
        // One bucket for the whole service: every route of the host draws
        // from it.
        let rate_limit = self
            .rate_limit
            .map(|config| {
                TokenBucket::full(config).map(|bucket| {
                    Arc::new(LocalRateLimit {
                        bucket,
                        enabled: Fraction::ALL,
                        enforced: Fraction::ALL,
                    })
                })
            })
            .transpose()
            .map_err(|e| e.in_resource(RESOURCE))?;
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
                    if rate_limit.is_some() {
                        route.action.rate_limit = rate_limit.clone();
                    }
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
