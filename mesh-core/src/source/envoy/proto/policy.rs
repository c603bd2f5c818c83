//! Per-route policies: `RetryPolicy`, `HashPolicy` and
//! `RequestMirrorPolicy`, with Envoy's defaults.
//!
//! A retry policy without `num_retries` retries once; a back-off without
//! `max_interval` caps at ten times its base; a mirror policy without
//! `runtime_fraction` copies every request. A hash policy on the
//! connection's source IP with `source_ip: false` hashes nothing and is
//! dropped, as Envoy would never produce a hash from it.

use std::time::Duration;

use envoy_types::pb::envoy::config::route::v3::{
    RetryPolicy as PbRetryPolicy,
    retry_policy::RetryBackOff,
    route_action::{HashPolicy as PbHashPolicy, RequestMirrorPolicy, hash_policy::PolicySpecifier},
};
use envoy_types::pb::envoy::r#type::v3::{FractionalPercent, fractional_percent::DenominatorType};

use super::{duration, non_empty, opt_duration, required, unsupported};
use crate::config::{
    Backend, Backoff, ConfigError, Fraction, HashPolicy, HashSource, MirrorPolicy, ResultExt,
    RetryOn, RetryPolicy,
};

/// `config.route.v3.RetryPolicy`.
pub(super) fn retry_policy(p: &PbRetryPolicy) -> Result<RetryPolicy, ConfigError> {
    let mut policy = RetryPolicy {
        retry_on: RetryOn::parse_list(&p.retry_on)?,
        ..RetryPolicy::default()
    };
    if let Some(n) = p.num_retries {
        policy.num_retries = n.value;
    }
    // Zero is "not set" here, as in Envoy: the route's timeout applies.
    policy.per_try_timeout =
        opt_duration(p.per_try_timeout.as_ref(), "per_try_timeout")?.filter(|d| !d.is_zero());
    if let Some(b) = &p.retry_back_off {
        policy.backoff = backoff(b).at("retry_back_off")?;
    }
    policy.retriable_status_codes = p
        .retriable_status_codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            u16::try_from(*code)
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| {
                    ConfigError::field(
                        format!("retriable_status_codes[{i}]"),
                        format!("{code} is not an HTTP status"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(policy)
}

/// `RetryPolicy.RetryBackOff`: `base_interval` is required.
fn backoff(b: &RetryBackOff) -> Result<Backoff, ConfigError> {
    let base =
        duration(required(b.base_interval.as_ref(), "base_interval")?).at("base_interval")?;
    let max = match &b.max_interval {
        Some(max) => duration(max).at("max_interval")?,
        None => base.checked_mul(10).unwrap_or(Duration::MAX),
    };
    let backoff = Backoff {
        base_interval: base,
        max_interval: max,
        ..Backoff::default()
    };
    backoff.validate()?;
    Ok(backoff)
}

/// `RouteAction.HashPolicy`; `None` for a policy that can never hash.
pub(super) fn hash_policy(h: &PbHashPolicy) -> Result<Option<HashPolicy>, ConfigError> {
    let source = match &h.policy_specifier {
        Some(PolicySpecifier::Header(header)) => {
            let name = non_empty(&header.header_name, "header.header_name")?;
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError::field(
                    "header.header_name",
                    format!("invalid header name {name:?}"),
                )
            })?;
            HashSource::Header(name)
        }
        Some(PolicySpecifier::Cookie(c)) => {
            HashSource::Cookie(non_empty(&c.name, "cookie.name")?.into())
        }
        Some(PolicySpecifier::ConnectionProperties(p)) if p.source_ip => HashSource::SourceIp,
        Some(PolicySpecifier::ConnectionProperties(_)) => return Ok(None),
        Some(PolicySpecifier::QueryParameter(q)) => {
            HashSource::QueryParameter(non_empty(&q.name, "query_parameter.name")?.into())
        }
        Some(PolicySpecifier::FilterState(f)) => {
            return Err(unsupported(
                "filter_state",
                format!("hashing filter state {:?}", f.key),
            ));
        }
        None => {
            return Err(ConfigError::field(
                "",
                "one of header, cookie, connection_properties or query_parameter is required",
            ));
        }
    };
    Ok(Some(HashPolicy {
        source,
        terminal: h.terminal,
    }))
}

/// `RouteAction.RequestMirrorPolicy`.
pub(super) fn mirror_policy(m: &RequestMirrorPolicy) -> Result<MirrorPolicy, ConfigError> {
    if m.cluster.is_empty() && !m.cluster_header.is_empty() {
        return Err(unsupported(
            "cluster_header",
            "mirroring to a cluster named by a header",
        ));
    }
    let cluster = non_empty(&m.cluster, "cluster")?;
    let fraction = match &m.runtime_fraction {
        None => Fraction::ALL,
        Some(rf) => {
            let percent = required(rf.default_value.as_ref(), "runtime_fraction.default_value")?;
            fraction(percent).at("runtime_fraction.default_value")?
        }
    };
    Ok(MirrorPolicy {
        backend: Backend::cluster(cluster),
        fraction,
    })
}

/// `type.v3.FractionalPercent`.
pub(super) fn fraction(p: &FractionalPercent) -> Result<Fraction, ConfigError> {
    Ok(Fraction::new(
        u64::from(p.numerator),
        u64::from(denominator(p)?),
    ))
}

/// The denominator of a `type.v3.FractionalPercent`: 100, 10 000 or
/// 1 000 000.
pub(super) fn denominator(p: &FractionalPercent) -> Result<u32, ConfigError> {
    match DenominatorType::try_from(p.denominator) {
        Ok(DenominatorType::Hundred) => Ok(100),
        Ok(DenominatorType::TenThousand) => Ok(10_000),
        Ok(DenominatorType::Million) => Ok(1_000_000),
        Err(_) => Err(ConfigError::field(
            "denominator",
            format!("unknown denominator {}", p.denominator),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::core::v3::RuntimeFractionalPercent;
    use envoy_types::pb::envoy::config::route::v3::route_action::hash_policy::{
        ConnectionProperties, Header,
    };
    use envoy_types::pb::google::protobuf::{Duration as PbDuration, UInt32Value};

    fn secs(seconds: i64, nanos: i32) -> Option<PbDuration> {
        Some(PbDuration { seconds, nanos })
    }

    #[test]
    fn retry_policy_defaults_and_backoff() {
        let p = retry_policy(&PbRetryPolicy {
            retry_on: "5xx,reset".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.num_retries, 1);
        assert_eq!(p.backoff, Backoff::default());
        assert!(p.retry_on.contains(RetryOn::FIVE_XX | RetryOn::RESET));

        let p = retry_policy(&PbRetryPolicy {
            retry_on: "retriable-status-codes".into(),
            num_retries: Some(UInt32Value { value: 4 }),
            per_try_timeout: secs(0, 250_000_000),
            retriable_status_codes: vec![503, 409],
            retry_back_off: Some(RetryBackOff {
                base_interval: secs(0, 100_000_000),
                max_interval: None,
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.num_retries, 4);
        assert_eq!(p.per_try_timeout, Some(Duration::from_millis(250)));
        assert_eq!(p.retriable_status_codes, [503, 409]);
        assert_eq!(p.backoff.max_interval, Duration::from_secs(1));

        let bad = |p: PbRetryPolicy| retry_policy(&p).unwrap_err().field;
        assert_eq!(
            bad(PbRetryPolicy {
                retry_on: "sometimes".into(),
                ..Default::default()
            }),
            "retry_on"
        );
        assert_eq!(
            bad(PbRetryPolicy {
                retriable_status_codes: vec![70000],
                ..Default::default()
            }),
            "retriable_status_codes[0]"
        );
        assert_eq!(
            bad(PbRetryPolicy {
                retry_back_off: Some(RetryBackOff::default()),
                ..Default::default()
            }),
            "retry_back_off.base_interval"
        );
        assert_eq!(
            bad(PbRetryPolicy {
                retry_back_off: Some(RetryBackOff {
                    base_interval: secs(1, 0),
                    max_interval: secs(0, 1),
                }),
                ..Default::default()
            }),
            "retry_back_off.max_interval"
        );
        // A huge base cannot overflow the default cap.
        let p = retry_policy(&PbRetryPolicy {
            retry_back_off: Some(RetryBackOff {
                base_interval: secs(super::super::MAX_DURATION_SECS, 0),
                max_interval: None,
            }),
            ..Default::default()
        })
        .unwrap();
        assert!(p.backoff.max_interval >= p.backoff.base_interval);
    }

    #[test]
    fn hash_policies() {
        let h = |spec| PbHashPolicy {
            policy_specifier: Some(spec),
            terminal: true,
        };
        let p = hash_policy(&h(PolicySpecifier::Header(Header {
            header_name: "X-User".into(),
            regex_rewrite: None,
        })))
        .unwrap()
        .unwrap();
        assert_eq!(
            p.source,
            HashSource::Header(http::HeaderName::from_static("x-user"))
        );
        assert!(p.terminal);
        let none = hash_policy(&h(PolicySpecifier::ConnectionProperties(
            ConnectionProperties { source_ip: false },
        )));
        assert_eq!(none.unwrap(), None);
        let e = hash_policy(&h(PolicySpecifier::Header(Header::default()))).unwrap_err();
        assert_eq!(e.field, "header.header_name");
    }

    #[test]
    fn mirror_fractions() {
        let m = |numerator, denominator| RequestMirrorPolicy {
            cluster: "shadow".into(),
            runtime_fraction: Some(RuntimeFractionalPercent {
                default_value: Some(FractionalPercent {
                    numerator,
                    denominator,
                }),
                runtime_key: String::new(),
            }),
            ..Default::default()
        };
        assert_eq!(
            mirror_policy(&m(10, 0)).unwrap().fraction.per_million(),
            100_000
        );
        assert_eq!(mirror_policy(&m(5, 2)).unwrap().fraction.per_million(), 5);
        let e = mirror_policy(&m(1, 9)).unwrap_err();
        assert_eq!(e.field, "runtime_fraction.default_value.denominator");
        let all = RequestMirrorPolicy {
            cluster: "shadow".into(),
            ..Default::default()
        };
        assert_eq!(mirror_policy(&all).unwrap().fraction, Fraction::ALL);
        assert_eq!(
            mirror_policy(&RequestMirrorPolicy::default())
                .unwrap_err()
                .field,
            "cluster"
        );
    }
}
