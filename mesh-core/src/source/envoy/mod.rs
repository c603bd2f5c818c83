//! Envoy v3 resources: Listener (API listener with an HTTP connection
//! manager), RouteConfiguration, Cluster and ClusterLoadAssignment.
//!
//! Two layers, so the xDS client can reuse the first on the resources of
//! a discovery response:
//!
//! 1. **Proto → model.** [`listener`], [`route_table`], [`cluster`],
//!    [`endpoints`] (and the `TryFrom` impls for [`RouteTable`] and
//!    [`Cluster`]) take decoded `envoy-types` structs and return the
//!    validated [`crate::config`] model. Validation is gRPC-strict: a
//!    field we read that holds a value we cannot honour is an error naming
//!    the resource (`Cluster "orders"`) and the proto field path
//!    (`virtual_hosts[0].routes[2].match.safe_regex`); fields we do not
//!    read are ignored.
//! 2. **Text → proto.** [`load`] and [`load_file`] read YAML or JSON
//!    (proto3 JSON mapping: snake_case or lowerCamelCase names, `"1.5s"`
//!    durations, `"@type"` in `Any`) through a serde mirror of just the
//!    fields the model uses into the same protos, then through layer 1.
//!    `envoy-types` has no serde support of its own, hence the mirror.
//!
//! What differs from Envoy, and why, is listed in the docs of each
//! conversion; in short: only API listeners and `route` actions exist for
//! a client, routes time out after 15 s unless `timeout` says otherwise
//! (Envoy's default), and policies without a picker in the model (MAGLEV,
//! ORIGINAL_DST, custom clusters, HTTP/3) are refused rather than guessed.
//!
//! [`RouteTable`]: crate::config::RouteTable
//! [`Cluster`]: crate::config::Cluster

mod document;
#[cfg(test)]
mod fuzz;
mod json;
mod proto;
#[cfg(test)]
mod tests;

pub use document::{load, load_file};
pub use proto::{cluster, eds_service_name, endpoints, listener, route_table, type_url};
