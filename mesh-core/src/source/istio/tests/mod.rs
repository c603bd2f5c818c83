//! Tests of the Istio loader: the shared fixtures, each rejection with
//! its resource and field, and a property test that nothing panics.

mod features;
mod fixtures;
mod fuzz;
mod rejects;

use crate::config::{ConfigError, MeshConfig};

/// The text of a shared fixture (`/work/shared/fixtures` beside the repo).
pub(super) fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../../shared/fixtures/istio/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Loads and builds, panicking with the error.
pub(super) fn build(yaml: &str) -> MeshConfig {
    let builder = super::load(yaml).unwrap_or_else(|e| panic!("load: {e}"));
    builder.build().unwrap_or_else(|e| panic!("build: {e}"))
}

/// Loads, expecting a rejection.
pub(super) fn reject(yaml: &str) -> ConfigError {
    match super::load(yaml) {
        Ok(b) => panic!("accepted: {:?}", b.build().map(|_| ())),
        Err(e) => e,
    }
}

/// A document header for `kind` named `default/name`.
pub(super) fn head(kind: &str, name: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: default\n"
    )
}

/// A DestinationRule for `order-service` with subsets v1 and v2.
pub(super) fn subsets_rule() -> String {
    head("DestinationRule", "order-service-subsets")
        + "spec:
  host: order-service
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
"
}

/// A VirtualService `default/vs` for `order-service` with `http` as
/// given (indented as a list under `http:`).
pub(super) fn virtual_service(http: &str) -> String {
    head("VirtualService", "vs") + "spec:\n  hosts: [order-service]\n  http:\n" + http
}
