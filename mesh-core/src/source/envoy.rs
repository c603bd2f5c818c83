//! Envoy v3 resources.
