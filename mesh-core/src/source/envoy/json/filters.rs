//! Mirror of `typed_per_filter_config` (on virtual hosts and routes), where
//! a route's local rate limit and fault injection live.
//!
//! The conversion picks the entries whose `Any` holds the local rate limit
//! filter's `LocalRateLimit` or the fault filter's `HTTPFault` and decodes
//! them, so those messages are transcribed (`ratelimit`, `fault`) and
//! encoded with prost. Every other filter's config is kept as a bare type
//! URL with an empty value: the conversion only looks at the type of
//! those, and ignores them over xDS, so it ignores them here too.

use std::collections::HashMap;

use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};

use super::fault::HttpFault;
use super::ratelimit::LocalRateLimit;
use super::wkt::{AnyBody, AnyOf};
use crate::config::ConfigError;
use crate::source::envoy::proto::{type_name, type_url};

/// What a `typed_per_filter_config` entry may hold.
#[derive(Debug)]
pub(super) enum FilterConfig {
    LocalRateLimit(LocalRateLimit),
    Fault(HttpFault),
    Other,
}

impl AnyBody for FilterConfig {
    fn deserialize_body<'de, D: Deserializer<'de>>(kind: &str, body: D) -> Result<Self, D::Error> {
        if kind == type_name(type_url::LOCAL_RATE_LIMIT) {
            return LocalRateLimit::deserialize(body).map(Self::LocalRateLimit);
        }
        if kind == type_name(type_url::HTTP_FAULT) {
            return HttpFault::deserialize(body).map(Self::Fault);
        }
        IgnoredAny::deserialize(body)?;
        Ok(Self::Other)
    }
}

/// `typed_per_filter_config`: each entry's `Any`, with `LocalRateLimit`
/// and `HTTPFault` encoded and other types kept as bare type URLs.
pub(super) fn per_filter_configs(
    configs: HashMap<String, AnyOf<FilterConfig>>,
) -> Result<HashMap<String, Any>, ConfigError> {
    configs
        .into_iter()
        .map(|(key, any)| {
            let value = match any.body {
                FilterConfig::LocalRateLimit(l) => l.into_proto().encode_to_vec(),
                FilterConfig::Fault(f) => f
                    .into_proto()
                    .map_err(|e| e.at(format!("typed_per_filter_config[{key:?}]")))?
                    .encode_to_vec(),
                FilterConfig::Other => Vec::new(),
            };
            let any = Any {
                type_url: any.type_url,
                value,
            };
            Ok((key, any))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_filters_keep_only_their_type() {
        let configs = per_filter_configs(
            serde_yaml::from_str(
                "acme.filter: {'@type': type.googleapis.com/acme.Filter, knob: {depth: 3}}",
            )
            .unwrap(),
        )
        .unwrap();
        let any = &configs["acme.filter"];
        assert_eq!(any.type_url, "type.googleapis.com/acme.Filter");
        assert!(any.value.is_empty());
    }
}
