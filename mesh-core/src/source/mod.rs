//! Where configuration comes from: static documents in three formats.
//!
//! - [`envoy`]: Envoy v3 resources (Listener with an API-listener HTTP
//!   connection manager, RouteConfiguration, Cluster,
//!   ClusterLoadAssignment) as JSON or YAML;
//! - [`istio`]: Istio `VirtualService`, `DestinationRule` and
//!   `ServiceEntry` YAML;
//! - [`policy`]: the simple cross-language policy JSON.
//!
//! Each parses into its own serde types, then converts with `TryFrom`
//! into the [`crate::config`] model, so every source gets the same checks.
//! [`load`] and [`load_file`] take Envoy or Istio documents alike.

mod detect;
pub mod envoy;
pub mod istio;
pub mod policy;
mod shared;

pub use detect::{Format, load, load_file};
