//! Mirror of the per-route policies: `RetryPolicy`, `HedgePolicy`,
//! `HashPolicy` and `RequestMirrorPolicy` (with its `FractionalPercent`).
//!
//! `HedgePolicy` is transcribed whole (its request count and chance too,
//! though only `hedge_on_per_try_timeout` is read today), so whatever the
//! conversion decides about a field, a file gets the same decision as an
//! xDS response.

use envoy_types::pb::envoy::config::core::v3::RuntimeFractionalPercent as PbRuntimeFraction;
use envoy_types::pb::envoy::config::route::v3::{
    self as pb,
    retry_policy::RetryBackOff as PbRetryBackOff,
    route_action::{self as ra, hash_policy::PolicySpecifier},
};
use envoy_types::pb::envoy::r#type::v3::{
    FractionalPercent as PbFraction, fractional_percent::DenominatorType,
};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::oneof;
use super::wkt::{Dur, Enum, Int, enum_value, nullable, proto_enums, u32_value};
use crate::config::ConfigError;

proto_enums!(DenominatorType => "FractionalPercent.DenominatorType");

/// `config.route.v3.RetryPolicy`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RetryPolicy {
    #[serde(alias = "retryOn", deserialize_with = "nullable")]
    retry_on: String,
    #[serde(alias = "numRetries")]
    num_retries: Option<Int<u32>>,
    #[serde(alias = "perTryTimeout")]
    per_try_timeout: Option<Dur>,
    #[serde(alias = "retriableStatusCodes", deserialize_with = "nullable")]
    retriable_status_codes: Vec<Int<u32>>,
    #[serde(alias = "retryBackOff")]
    retry_back_off: Option<RetryBackOff>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RetryBackOff {
    #[serde(alias = "baseInterval")]
    base_interval: Option<Dur>,
    #[serde(alias = "maxInterval")]
    max_interval: Option<Dur>,
}

/// `config.route.v3.HedgePolicy` (on a route action or a virtual host).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HedgePolicy {
    #[serde(alias = "initialRequests")]
    initial_requests: Option<Int<u32>>,
    #[serde(alias = "additionalRequestChance")]
    additional_request_chance: Option<FractionalPercent>,
    #[serde(alias = "hedgeOnPerTryTimeout", deserialize_with = "nullable")]
    hedge_on_per_try_timeout: bool,
}

impl HedgePolicy {
    pub(super) fn into_proto(self) -> pb::HedgePolicy {
        pb::HedgePolicy {
            initial_requests: u32_value(self.initial_requests),
            additional_request_chance: self
                .additional_request_chance
                .map(FractionalPercent::into_proto),
            hedge_on_per_try_timeout: self.hedge_on_per_try_timeout,
        }
    }
}

impl RetryPolicy {
    pub(super) fn into_proto(self) -> pb::RetryPolicy {
        pb::RetryPolicy {
            retry_on: self.retry_on,
            num_retries: u32_value(self.num_retries),
            per_try_timeout: self.per_try_timeout.map(|d| d.0),
            retriable_status_codes: self
                .retriable_status_codes
                .into_iter()
                .map(|c| c.0)
                .collect(),
            retry_back_off: self.retry_back_off.map(|b| PbRetryBackOff {
                base_interval: b.base_interval.map(|d| d.0),
                max_interval: b.max_interval.map(|d| d.0),
            }),
            ..Default::default()
        }
    }
}

/// `RouteAction.HashPolicy`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HashPolicy {
    header: Option<HeaderName>,
    cookie: Option<Name>,
    #[serde(alias = "connectionProperties")]
    connection_properties: Option<ConnectionProperties>,
    #[serde(alias = "queryParameter")]
    query_parameter: Option<Name>,
    #[serde(alias = "filterState")]
    filter_state: Option<IgnoredAny>,
    #[serde(deserialize_with = "nullable")]
    terminal: bool,
}

/// `HashPolicy.Header`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HeaderName {
    #[serde(alias = "headerName", deserialize_with = "nullable")]
    header_name: String,
}

/// `HashPolicy.Cookie` and `HashPolicy.QueryParameter`: their name.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Name {
    #[serde(deserialize_with = "nullable")]
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConnectionProperties {
    #[serde(alias = "sourceIp", deserialize_with = "nullable")]
    source_ip: bool,
}

impl HashPolicy {
    pub(super) fn into_proto(self) -> Result<ra::HashPolicy, ConfigError> {
        use ra::hash_policy as hp;
        let policy_specifier = oneof([
            (
                "header",
                self.header.map(|h| {
                    PolicySpecifier::Header(hp::Header {
                        header_name: h.header_name,
                        regex_rewrite: None,
                    })
                }),
            ),
            (
                "cookie",
                self.cookie.map(|c| {
                    PolicySpecifier::Cookie(hp::Cookie {
                        name: c.name,
                        ..Default::default()
                    })
                }),
            ),
            (
                "connection_properties",
                self.connection_properties.map(|c| {
                    PolicySpecifier::ConnectionProperties(hp::ConnectionProperties {
                        source_ip: c.source_ip,
                    })
                }),
            ),
            (
                "query_parameter",
                self.query_parameter
                    .map(|q| PolicySpecifier::QueryParameter(hp::QueryParameter { name: q.name })),
            ),
            (
                "filter_state",
                self.filter_state
                    .map(|_| PolicySpecifier::FilterState(Default::default())),
            ),
        ])?;
        Ok(ra::HashPolicy {
            policy_specifier,
            terminal: self.terminal,
        })
    }
}

/// `RouteAction.RequestMirrorPolicy`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RequestMirrorPolicy {
    #[serde(deserialize_with = "nullable")]
    cluster: String,
    #[serde(alias = "clusterHeader", deserialize_with = "nullable")]
    cluster_header: String,
    #[serde(alias = "runtimeFraction")]
    runtime_fraction: Option<RuntimeFractionalPercent>,
}

/// `core.v3.RuntimeFractionalPercent` (the default value; no runtime).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RuntimeFractionalPercent {
    #[serde(alias = "defaultValue")]
    default_value: Option<FractionalPercent>,
}

impl RuntimeFractionalPercent {
    pub(super) fn into_proto(self) -> PbRuntimeFraction {
        PbRuntimeFraction {
            default_value: self.default_value.map(FractionalPercent::into_proto),
            runtime_key: String::new(),
        }
    }
}

/// `type.v3.FractionalPercent`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct FractionalPercent {
    numerator: Option<Int<u32>>,
    denominator: Option<Enum<DenominatorType>>,
}

impl FractionalPercent {
    pub(super) fn into_proto(self) -> PbFraction {
        PbFraction {
            numerator: self.numerator.map_or(0, |n| n.0),
            denominator: enum_value(self.denominator),
        }
    }
}

impl RequestMirrorPolicy {
    pub(super) fn into_proto(self) -> ra::RequestMirrorPolicy {
        ra::RequestMirrorPolicy {
            cluster: self.cluster,
            cluster_header: self.cluster_header,
            runtime_fraction: self
                .runtime_fraction
                .map(RuntimeFractionalPercent::into_proto),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_transcribe() {
        let retry: RetryPolicy = serde_yaml::from_str(
            "{retryOn: 'retriable-status-codes', numRetries: 2, retriableStatusCodes: [503, '409'],
              retryBackOff: {baseInterval: 0.1s}}",
        )
        .unwrap();
        let retry = retry.into_proto();
        assert_eq!(retry.num_retries.map(|v| v.value), Some(2));
        assert_eq!(retry.retriable_status_codes, [503, 409]);
        assert_eq!(
            retry.retry_back_off.unwrap().base_interval.unwrap().nanos,
            100_000_000
        );

        let hash: HashPolicy = serde_yaml::from_str("{cookie: {name: session}}").unwrap();
        let Some(PolicySpecifier::Cookie(c)) = hash.into_proto().unwrap().policy_specifier else {
            panic!("not a cookie policy");
        };
        assert_eq!(c.name, "session");
        let both: HashPolicy =
            serde_yaml::from_str("{cookie: {name: a}, header: {header_name: b}}").unwrap();
        assert_eq!(both.into_proto().unwrap_err().field, "cookie");

        let hedge: HedgePolicy = serde_yaml::from_str(
            "{hedgeOnPerTryTimeout: true, initial_requests: 2,
              additionalRequestChance: {numerator: 5, denominator: TEN_THOUSAND}}",
        )
        .unwrap();
        let hedge = hedge.into_proto();
        assert!(hedge.hedge_on_per_try_timeout);
        assert_eq!(hedge.initial_requests.map(|v| v.value), Some(2));
        assert_eq!(
            hedge
                .additional_request_chance
                .map(|f| (f.numerator, f.denominator)),
            Some((5, DenominatorType::TenThousand as i32))
        );
        let hedge: HedgePolicy = serde_yaml::from_str("{hedge_on_per_try_timeout: null}").unwrap();
        assert_eq!(hedge.into_proto(), pb::HedgePolicy::default());

        let e = serde_yaml::from_str::<FractionalPercent>("{numerator: 1, denominator: HALF}")
            .unwrap_err();
        assert!(e.to_string().contains("HALF"), "{e}");
    }
}
