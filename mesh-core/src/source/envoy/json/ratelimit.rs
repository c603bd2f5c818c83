//! Mirror of the local rate limit filter's `LocalRateLimit`, a
//! `typed_per_filter_config` entry (see `filters`): its token bucket, the
//! enabled and enforced fractions and the stat prefix are transcribed.

use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit as PbLocalRateLimit;
use envoy_types::pb::envoy::r#type::v3::TokenBucket as PbTokenBucket;
use serde::Deserialize;

use super::policy::RuntimeFractionalPercent;
use super::wkt::{Dur, Int, nullable, u32_value};

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
    pub(super) fn into_proto(self) -> PbLocalRateLimit {
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use envoy_types::pb::envoy::r#type::v3::fractional_percent::DenominatorType;
    use envoy_types::pb::google::protobuf::Any;
    use prost::Message;

    use super::*;
    use crate::source::envoy::json::filters::{FilterConfig, per_filter_configs};
    use crate::source::envoy::json::wkt::AnyOf;
    use crate::source::envoy::proto::type_url;

    const KEY: &str = "envoy.filters.http.local_ratelimit";

    fn configs(yaml: &str) -> HashMap<String, Any> {
        per_filter_configs(serde_yaml::from_str(yaml).unwrap()).unwrap()
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
    fn malformed_values_are_located() {
        let yaml = format!(
            "{KEY}: {{'@type': {}, token_bucket: {{max_tokens: -1}}}}",
            type_url::LOCAL_RATE_LIMIT
        );
        let e = serde_yaml::from_str::<HashMap<String, AnyOf<FilterConfig>>>(&yaml).unwrap_err();
        assert!(e.to_string().contains("token_bucket.max_tokens"), "{e}");
    }
}
