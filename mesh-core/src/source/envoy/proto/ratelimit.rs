//! A route's or virtual host's local rate limit: Envoy's
//! `envoy.filters.http.local_ratelimit` configured in
//! `typed_per_filter_config`.
//!
//! Whatever the filter's name (the map's key), a value of type
//! `LocalRateLimit` is read: its `token_bucket` (required here, as a
//! per-route limit without a bucket limits nothing), `filter_enabled` and
//! `filter_enforced` (their default values; there is no runtime, and both
//! default to 0 % as in Envoy). Other per-filter configs are ignored, as
//! filters we do not run. Descriptors, custom statuses and response
//! headers are not modelled: a refused request fails with `RateLimited`.

use std::collections::HashMap;
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::RuntimeFractionalPercent;
use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit as PbLocalRateLimit;
use envoy_types::pb::google::protobuf::Any;
use prost::Message;

use super::opt_duration;
use super::policy::fraction;
use super::type_url::LOCAL_RATE_LIMIT;
use crate::config::{ConfigError, Fraction, ResultExt};
use crate::resilience::ratelimit::{LocalRateLimit, TokenBucket, TokenBucketConfig};

/// The local rate limit among `configs`, if one is there.
pub(super) fn local_rate_limit(
    configs: &HashMap<String, Any>,
) -> Result<Option<Arc<LocalRateLimit>>, ConfigError> {
    let Some((name, any)) = configs.iter().find(|(_, a)| a.type_url == LOCAL_RATE_LIMIT) else {
        return Ok(None);
    };
    let at = format!("typed_per_filter_config[{name:?}]");
    let pb = PbLocalRateLimit::decode(any.value.as_slice())
        .map_err(|e| ConfigError::field(at.clone(), format!("malformed LocalRateLimit: {e}")))?;
    convert(&pb).at(&at).map(|l| Some(Arc::new(l)))
}

fn convert(pb: &PbLocalRateLimit) -> Result<LocalRateLimit, ConfigError> {
    let Some(tb) = &pb.token_bucket else {
        return Err(ConfigError::field("token_bucket", "is required"));
    };
    let config = TokenBucketConfig {
        max_tokens: tb.max_tokens,
        tokens_per_fill: tb.tokens_per_fill.map_or(1, |v| v.value),
        fill_interval: opt_duration(tb.fill_interval.as_ref(), "fill_interval")
            .at("token_bucket")?
            .ok_or_else(|| ConfigError::field("token_bucket.fill_interval", "is required"))?,
    };
    Ok(LocalRateLimit {
        bucket: TokenBucket::full(config).at("token_bucket")?,
        enabled: share(pb.filter_enabled.as_ref()).at("filter_enabled")?,
        enforced: share(pb.filter_enforced.as_ref()).at("filter_enforced")?,
    })
}

/// A runtime fraction's default value; none is 0 %.
fn share(p: Option<&RuntimeFractionalPercent>) -> Result<Fraction, ConfigError> {
    match p.and_then(|p| p.default_value.as_ref()) {
        Some(percent) => fraction(percent).at("default_value"),
        None => Ok(Fraction::new(0, 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::r#type::v3::{FractionalPercent, TokenBucket as PbTokenBucket};
    use envoy_types::pb::google::protobuf::{Duration as PbDuration, UInt32Value};

    fn all() -> Option<RuntimeFractionalPercent> {
        Some(RuntimeFractionalPercent {
            default_value: Some(FractionalPercent {
                numerator: 100,
                denominator: 0,
            }),
            runtime_key: String::new(),
        })
    }

    fn configs(pb: &PbLocalRateLimit) -> HashMap<String, Any> {
        HashMap::from([(
            "envoy.filters.http.local_ratelimit".to_owned(),
            Any {
                type_url: LOCAL_RATE_LIMIT.to_owned(),
                value: pb.encode_to_vec(),
            },
        )])
    }

    fn bucket(max_tokens: u32, fill_ms: i32) -> Option<PbTokenBucket> {
        Some(PbTokenBucket {
            max_tokens,
            tokens_per_fill: Some(UInt32Value { value: 2 }),
            fill_interval: Some(PbDuration {
                seconds: 0,
                nanos: fill_ms * 1_000_000,
            }),
        })
    }

    #[test]
    fn a_per_route_limit_is_read() {
        let pb = PbLocalRateLimit {
            token_bucket: bucket(10, 500),
            filter_enabled: all(),
            filter_enforced: all(),
            ..Default::default()
        };
        let limit = local_rate_limit(&configs(&pb)).unwrap().unwrap();
        assert_eq!(limit.bucket.config().max_tokens, 10);
        assert_eq!(limit.bucket.config().tokens_per_fill, 2);
        assert_eq!(limit.enabled.per_million(), 1_000_000);
        assert_eq!(limit.enforced.per_million(), 1_000_000);
        assert!(local_rate_limit(&HashMap::new()).unwrap().is_none());
    }

    #[test]
    fn enabling_and_enforcing_default_to_nothing() {
        let pb = PbLocalRateLimit {
            token_bucket: bucket(1, 100),
            ..Default::default()
        };
        let limit = local_rate_limit(&configs(&pb)).unwrap().unwrap();
        assert_eq!(limit.enabled.per_million(), 0);
        assert_eq!(limit.enforced.per_million(), 0);
    }

    #[test]
    fn bad_buckets_are_refused_with_the_field_named() {
        let key = "typed_per_filter_config[\"envoy.filters.http.local_ratelimit\"]";
        for (pb, field) in [
            (PbLocalRateLimit::default(), "token_bucket"),
            (
                PbLocalRateLimit {
                    token_bucket: bucket(0, 100),
                    ..Default::default()
                },
                "token_bucket.max_tokens",
            ),
            (
                PbLocalRateLimit {
                    token_bucket: bucket(5, 10),
                    ..Default::default()
                },
                "token_bucket.fill_interval",
            ),
        ] {
            let e = local_rate_limit(&configs(&pb)).unwrap_err();
            assert_eq!(e.field, format!("{key}.{field}"), "{e}");
        }
    }
}
