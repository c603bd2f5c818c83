//! Mirror of `typed_per_filter_config` (on virtual hosts and routes), where
//! a route's local rate limit lives.
//!
//! The conversion picks the entry whose `Any` holds the local rate limit
//! filter's `LocalRateLimit` and decodes it, so that message is transcribed
//! (its token bucket, the enabled and enforced fractions, the stat prefix)
//! and encoded with prost. Every other filter's config is kept as a bare
//! type URL with an empty value: the conversion only looks at the type of
//! those, and ignores them over xDS, so it ignores them here too.

use std::collections::HashMap;

use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit as PbLocalRateLimit;
use envoy_types::pb::envoy::r#type::v3::TokenBucket as PbTokenBucket;
use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};

use super::policy::RuntimeFractionalPercent;
use super::wkt::{AnyBody, AnyOf, Dur, Int, nullable, u32_value};
use crate::source::envoy::proto::{type_name, type_url};

/// What a `typed_per_filter_config` entry may hold.
#[derive(Debug)]
pub(super) enum FilterConfig {
    LocalRateLimit(LocalRateLimit),
    Other,
}

impl AnyBody for FilterConfig {
    fn deserialize_body<'de, D: Deserializer<'de>>(kind: &str, body: D) -> Result<Self, D::Error> {
        if kind == type_name(type_url::LOCAL_RATE_LIMIT) {
            return LocalRateLimit::deserialize(body).map(Self::LocalRateLimit);
        }
        IgnoredAny::deserialize(body)?;
        Ok(Self::Other)
    }
}

/// `extensions.filters.http.local_ratelimit.v3.LocalRateLimit`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LocalRateLimit {
    #[serde(alias = "statPrefix", deserialize_with = "nullable")]
    stat_prefix: String,
    #[serde(alias = "tokenBucket")]
    token_bucket: Option<TokenBucket>,
    #[serde(alias = "filterEnabled")]
    filter_enabled: Option<RuntimeFractionalPercent>,
    #[serde(alias = "filterEnforced")]
    filter_enforced: Option<RuntimeFractionalPercent>,
}

/// `type.v3.TokenBucket`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenBucket {
    #[serde(alias = "maxTokens", deserialize_with = "nullable")]
    max_tokens: Int<u32>,
    #[serde(alias = "tokensPerFill")]
    tokens_per_fill: Option<Int<u32>>,
    #[serde(alias = "fillInterval")]
    fill_interval: Option<Dur>,
}

impl LocalRateLimit {
    fn into_proto(self) -> PbLocalRateLimit {
        PbLocalRateLimit {
            stat_prefix: self.stat_prefix,
            token_bucket: self.token_bucket.map(|b| PbTokenBucket {
                max_tokens: b.max_tokens.0,
                tokens_per_fill: u32_value(b.tokens_per_fill),
                fill_interval: b.fill_interval.map(|d| d.0),
            }),
            filter_enabled: self
                .filter_enabled
                .map(RuntimeFractionalPercent::into_proto),
            filter_enforced: self
                .filter_enforced
                .map(RuntimeFractionalPercent::into_proto),
            ..Default::default()
        }
    }
}

/// `typed_per_filter_config`: each entry's `Any`, with `LocalRateLimit`
/// encoded and other types kept as bare type URLs.
pub(super) fn per_filter_configs(
    configs: HashMap<String, AnyOf<FilterConfig>>,
) -> HashMap<String, Any> {
    configs
        .into_iter()
        .map(|(key, any)| {
            let value = match any.body {
                FilterConfig::LocalRateLimit(l) => l.into_proto().encode_to_vec(),
                FilterConfig::Other => Vec::new(),
            };
            let any = Any {
                type_url: any.type_url,
                value,
            };
            (key, any)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::r#type::v3::fractional_percent::DenominatorType;

    const KEY: &str = "envoy.filters.http.local_ratelimit";

    fn configs(yaml: &str) -> HashMap<String, Any> {
        per_filter_configs(serde_yaml::from_str(yaml).unwrap())
    }

    fn decoded(configs: &HashMap<String, Any>) -> PbLocalRateLimit {
        PbLocalRateLimit::decode(configs[KEY].value.as_slice()).unwrap()
    }

    #[test]
    fn a_local_rate_limit_is_encoded() {
        let yaml = format!(
            "{KEY}:
  '@type': {}
  stat_prefix: orders
  token_bucket: {{max_tokens: 10, tokens_per_fill: '2', fill_interval: 0.5s}}
  filter_enabled: {{runtime_key: on, default_value: {{numerator: 100, denominator: HUNDRED}}}}
  filter_enforced: {{default_value: {{numerator: 50}}}}
  descriptors: [{{entries: [{{key: a, value: b}}]}}]",
            type_url::LOCAL_RATE_LIMIT
        );
        let configs = configs(&yaml);
        assert_eq!(configs[KEY].type_url, type_url::LOCAL_RATE_LIMIT);
        let pb = decoded(&configs);
        assert_eq!(pb.stat_prefix, "orders");
        let bucket = pb.token_bucket.unwrap();
        assert_eq!(bucket.max_tokens, 10);
        assert_eq!(bucket.tokens_per_fill.map(|v| v.value), Some(2));
        assert_eq!(bucket.fill_interval.map(|d| d.nanos), Some(500_000_000));
        let enabled = pb.filter_enabled.unwrap().default_value.unwrap();
        assert_eq!(
            (enabled.numerator, enabled.denominator),
            (100, DenominatorType::Hundred as i32)
        );
        let enforced = pb.filter_enforced.unwrap().default_value.unwrap();
        assert_eq!((enforced.numerator, enforced.denominator), (50, 0));
    }

    #[test]
    fn camel_case_and_the_type_last_read_the_same() {
        let json = format!(
            r#"{{"{KEY}": {{"tokenBucket": {{"maxTokens": "3", "tokensPerFill": 1, "fillInterval": "1s"}},
                "filterEnforced": {{"defaultValue": {{"numerator": 1, "denominator": "TEN_THOUSAND"}}}},
                "statPrefix": "x", "@type": "{}"}}}}"#,
            type_url::LOCAL_RATE_LIMIT
        );
        let pb = decoded(&configs(&json));
        assert_eq!(pb.stat_prefix, "x");
        assert_eq!(pb.token_bucket.map(|b| b.max_tokens), Some(3));
        let enforced = pb.filter_enforced.unwrap().default_value.unwrap();
        assert_eq!(enforced.denominator, DenominatorType::TenThousand as i32);
        assert!(pb.filter_enabled.is_none());
    }

    #[test]
    fn other_filters_keep_only_their_type() {
        let configs = configs(
            "envoy.filters.http.fault: {'@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, abort: {http_status: 503}}",
        );
        let any = &configs["envoy.filters.http.fault"];
        assert!(any.type_url.ends_with("HTTPFault"));
        assert!(any.value.is_empty());
    }

    #[test]
    fn malformed_values_are_located() {
        let yaml = format!(
            "{KEY}: {{'@type': {}, token_bucket: {{max_tokens: -1}}}}",
            type_url::LOCAL_RATE_LIMIT
        );
        let e = serde_yaml::from_str::<HashMap<String, AnyOf<FilterConfig>>>(&yaml).unwrap_err();
        assert!(e.to_string().contains("token_bucket.max_tokens"), "{e}");
    }
}
