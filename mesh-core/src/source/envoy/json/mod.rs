//! JSON/YAML → proto: a serde mirror of just the Envoy fields the model
//! uses, turned into `envoy-types` structs.
//!
//! `envoy-types` has no serde support and no descriptors, so the proto3
//! JSON mapping is written out here for the fields we read: names in
//! snake_case or lowerCamelCase (`#[serde(alias)]`), durations as
//! `"1.5s"`, wrapper types as plain values, integers and doubles as numbers
//! or strings, enums by name, `Any` as an object with `"@type"`, metadata
//! as `google.protobuf.Struct`, and `null` as "not set". Unknown fields are
//! ignored, as by a proto3 JSON parser told to ignore them.
//!
//! An `Any` whose body the conversion decodes (the connection manager,
//! `HttpProtocolOptions`, a per-route `LocalRateLimit` or `HTTPFault`) is
//! transcribed and encoded with prost; any other keeps only its type URL,
//! which is all the conversion looks at, so it accepts, ignores or refuses
//! it as over xDS.
//!
//! The mirror only transcribes: every judgement about values is left to
//! the proto → model conversions, so a static file and an xDS response
//! get exactly the same checks. The one thing transcription can reject is
//! a `oneof` given two members, which a proto cannot represent.

mod cluster;
mod endpoint;
mod fault;
mod filters;
mod listener;
mod matcher;
mod policy;
mod pool;
mod ratelimit;
mod resilience;
mod route;
mod upstream;
mod wkt;

use crate::config::ConfigError;

pub(super) use cluster::Cluster;
pub(super) use endpoint::ClusterLoadAssignment;
pub(super) use listener::Listener;
pub(super) use route::RouteConfiguration;
pub(super) use wkt::{AnyBody, AnyOf, nullable};

/// The member set in a `oneof`, if any; two or more is an error.
fn oneof<T, const N: usize>(
    members: [(&'static str, Option<T>); N],
) -> Result<Option<T>, ConfigError> {
    let mut set = members
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)));
    match (set.next(), set.next()) {
        (Some((first, _)), Some((second, _))) => Err(ConfigError::field(
            second,
            format!("only one of `{first}` and `{second}` may be set"),
        )),
        (chosen, _) => Ok(chosen.map(|(_, v)| v)),
    }
}

/// Transcribes each item, locating errors at `field[i]`.
fn each<T, P>(
    items: Vec<T>,
    field: &str,
    convert: impl Fn(T) -> Result<P, ConfigError>,
) -> Result<Vec<P>, ConfigError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| convert(item).map_err(|e| e.at(format!("{field}[{i}]"))))
        .collect()
}

/// An optional sub-message, transcribed, errors located at `field`.
fn opt<T, P>(
    item: Option<T>,
    field: &str,
    convert: impl FnOnce(T) -> Result<P, ConfigError>,
) -> Result<Option<P>, ConfigError> {
    item.map(convert).transpose().map_err(|e| e.at(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oneof_takes_at_most_one() {
        assert_eq!(oneof([("a", None::<u8>), ("b", None)]).unwrap(), None);
        assert_eq!(oneof([("a", None), ("b", Some(2))]).unwrap(), Some(2));
        let e = oneof([("a", Some(1)), ("b", None), ("c", Some(3))]).unwrap_err();
        assert_eq!(e.field, "c");
    }
}
