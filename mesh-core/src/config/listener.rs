//! Listeners: the entry point a target `host:port` resolves to.

use std::sync::Arc;

use super::ConfigError;

/// An API listener (gRPC/Istio proxyless shape): the target `host:port`
/// a client dials, and the route table that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The target, `host:port` (lower case).
    pub name: Arc<str>,
    /// The route table's name.
    pub route_table: Arc<str>,
}

impl Listener {
    /// A listener for `target`, which must be `host:port`.
    pub fn new(target: &str, route_table: impl Into<Arc<str>>) -> Result<Self, ConfigError> {
        let resource = || format!("Listener {target:?}");
        let valid = target.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            return Err(ConfigError::new(
                resource(),
                "name",
                "a listener is named by its target host:port",
            ));
        }
        Ok(Self {
            name: target.to_ascii_lowercase().into(),
            route_table: route_table.into(),
        })
    }
}
