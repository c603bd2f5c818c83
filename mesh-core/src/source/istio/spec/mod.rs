//! The Istio resources as serde reads them, before any validation.
//!
//! Field names follow Istio's API reference (camelCase); fields this
//! loader does not act on are simply not declared, so serde ignores them
//! (as Kubernetes ignores unknown fields of a CRD's pruned schema). Every
//! field is optional here: missing required fields are reported by the
//! conversions, which know the field's path, rather than by serde.
//! Integers are read as `i64` so an out-of-range value (a port of 70000,
//! a negative weight) is rejected by the conversion with the field named,
//! instead of by a generic type error.

mod destination_rule;
mod locality;
mod service_entry;
mod virtual_service;

use serde::Deserialize;

pub(crate) use destination_rule::*;
pub(crate) use locality::*;
pub(crate) use service_entry::*;
pub(crate) use virtual_service::*;

/// Istio's `StringMatch`: one of `exact`, `prefix`, `regex`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct StringMatchSpec {
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub regex: Option<String>,
}

/// Istio's `Percent`: a double in `0..=100`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PercentSpec {
    pub value: f64,
}

/// Istio's `PortSelector`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PortSelectorSpec {
    pub number: Option<i64>,
}
