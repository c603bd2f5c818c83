//! A route's or virtual host's fault injection: Envoy's
//! `envoy.filters.http.fault` configured in `typed_per_filter_config`.
//!
//! Whatever the filter's name (the map's key), a value of type `HTTPFault`
//! is read, as the local rate limit is. Supported: `delay` (`fixed_delay`
//! or `header_delay`), `abort` (`http_status` in `200..600`,
//! `grpc_status`, or `header_abort`), each with its `percentage` (absent:
//! 0 %, as in Envoy), `upstream_cluster`, `downstream_nodes`, `headers`
//! and `max_active_faults`. The `*_runtime` keys name runtime overrides;
//! there is no runtime here, so, as in an Envoy whose runtime sets none of
//! them, the configured values apply. `response_rate_limit` is rejected
//! (throttling the response body is not modelled). Deviations: a
//! percentage above 100 % is rejected (Envoy clamps it, which hides a
//! typo); `abort.response_body` is not read (an aborted HTTP request gets
//! an empty body); `filter_metadata` and the stats options are not read.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::extensions::filters::common::fault::v3::{
    FaultDelay, fault_delay::FaultDelaySecifier,
};
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::{
    FaultAbort, HttpFault, fault_abort::ErrorType,
};
use envoy_types::pb::envoy::r#type::v3::FractionalPercent;
use envoy_types::pb::google::protobuf::Any;
use prost::Message;

use super::matcher::header_matcher;
use super::policy::{denominator, fraction};
use super::type_url::HTTP_FAULT;
use super::{duration, each, unsupported};
use crate::config::{AbortCode, ConfigError, FaultPolicy, FaultValue, Fraction, ResultExt};
use crate::resilience::fault::ActiveFaults;

/// The fault policy among `configs`, if one is there (one that injects
/// nothing included: on a route it overrides its virtual host's).
pub(super) fn http_fault(
    configs: &HashMap<String, Any>,
) -> Result<Option<Arc<FaultPolicy>>, ConfigError> {
    let Some((name, any)) = configs.iter().find(|(_, a)| a.type_url == HTTP_FAULT) else {
        return Ok(None);
    };
    let at = format!("typed_per_filter_config[{name:?}]");
    let pb = HttpFault::decode(any.value.as_slice())
        .map_err(|e| ConfigError::field(at.clone(), format!("malformed HTTPFault: {e}")))?;
    convert(&pb).at(&at).map(|f| Some(Arc::new(f)))
}

fn convert(pb: &HttpFault) -> Result<FaultPolicy, ConfigError> {
    if pb.response_rate_limit.is_some() {
        return Err(unsupported(
            "response_rate_limit",
            "throttling the response body",
        ));
    }
    Ok(FaultPolicy {
        delay: pb.delay.as_ref().map(delay).transpose().at("delay")?,
        abort: pb.abort.as_ref().map(abort).transpose().at("abort")?,
        upstream_cluster: Some(pb.upstream_cluster.as_str())
            .filter(|c| !c.is_empty())
            .map(Arc::from),
        downstream_nodes: pb
            .downstream_nodes
            .iter()
            .map(|n| n.as_str().into())
            .collect(),
        headers: each(&pb.headers, "headers", header_matcher)?,
        max_active: pb.max_active_faults.map(|m| ActiveFaults::new(m.value)),
    })
}

fn delay(d: &FaultDelay) -> Result<(FaultValue<Duration>, Fraction), ConfigError> {
    let (configured, denominator) = percentage(d.percentage.as_ref()).at("percentage")?;
    let value = match &d.fault_delay_secifier {
        Some(FaultDelaySecifier::FixedDelay(fixed)) => {
            FaultValue::Fixed(duration(fixed).at("fixed_delay")?)
        }
        Some(FaultDelaySecifier::HeaderDelay(_)) => FaultValue::FromHeaders {
            percent_denominator: denominator,
        },
        None => {
            return Err(ConfigError::field(
                "",
                "one of fixed_delay or header_delay is required",
            ));
        }
    };
    Ok((value, configured))
}

fn abort(a: &FaultAbort) -> Result<(FaultValue<AbortCode>, Fraction), ConfigError> {
    let (configured, denominator) = percentage(a.percentage.as_ref()).at("percentage")?;
    let value = match a.error_type {
        Some(ErrorType::HttpStatus(status)) => FaultValue::Fixed(AbortCode::Http(
            u16::try_from(status)
                .ok()
                .filter(|s| (200..600).contains(s))
                .ok_or_else(|| {
                    ConfigError::field("http_status", format!("{status} is not within 200..600"))
                })?,
        )),
        Some(ErrorType::GrpcStatus(status)) => FaultValue::Fixed(AbortCode::Grpc(status)),
        Some(ErrorType::HeaderAbort(_)) => FaultValue::FromHeaders {
            percent_denominator: denominator,
        },
        None => {
            return Err(ConfigError::field(
                "",
                "one of http_status, grpc_status or header_abort is required",
            ));
        }
    };
    Ok((value, configured))
}

/// A fault's percentage and its denominator: none is 0 %, above 100 %
/// is refused.
fn percentage(p: Option<&FractionalPercent>) -> Result<(Fraction, u32), ConfigError> {
    let Some(p) = p else {
        return Ok((Fraction::new(0, 1), 100));
    };
    let denominator = denominator(p)?;
    if p.numerator > denominator {
        return Err(ConfigError::field(
            "numerator",
            format!("{} is above its denominator {denominator}", p.numerator),
        ));
    }
    Ok((fraction(p)?, denominator))
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::route::v3::{
        HeaderMatcher as PbHeaderMatcher, header_matcher::HeaderMatchSpecifier,
    };
    use envoy_types::pb::envoy::extensions::filters::common::fault::v3::{
        FaultRateLimit, fault_delay::HeaderDelay,
    };
    use envoy_types::pb::envoy::extensions::filters::http::fault::v3::fault_abort::HeaderAbort;
    use envoy_types::pb::envoy::r#type::v3::fractional_percent::DenominatorType;
    use envoy_types::pb::google::protobuf::{Duration as PbDuration, UInt32Value};

    const KEY: &str = "typed_per_filter_config[\"envoy.filters.http.fault\"]";

    fn configs(pb: &HttpFault) -> HashMap<String, Any> {
        HashMap::from([(
            "envoy.filters.http.fault".to_owned(),
            Any {
                type_url: HTTP_FAULT.to_owned(),
                value: pb.encode_to_vec(),
            },
        )])
    }

    fn percent(numerator: u32, denominator: DenominatorType) -> Option<FractionalPercent> {
        Some(FractionalPercent {
            numerator,
            denominator: denominator as i32,
        })
    }

    fn abort_with(error_type: Option<ErrorType>) -> Option<FaultAbort> {
        Some(FaultAbort {
            error_type,
            percentage: percent(100, DenominatorType::Hundred),
            ..Default::default()
        })
    }

    #[test]
    fn header_faults_and_their_gates_are_read() {
        let pb = HttpFault {
            delay: Some(FaultDelay {
                fault_delay_secifier: Some(FaultDelaySecifier::HeaderDelay(HeaderDelay {})),
                percentage: percent(5_000, DenominatorType::TenThousand),
            }),
            abort: abort_with(Some(ErrorType::HeaderAbort(HeaderAbort {}))),
            upstream_cluster: "orders".into(),
            downstream_nodes: vec!["web".into()],
            headers: vec![PbHeaderMatcher {
                name: "x-chaos".into(),
                header_match_specifier: Some(HeaderMatchSpecifier::PresentMatch(true)),
                ..Default::default()
            }],
            max_active_faults: Some(UInt32Value { value: 3 }),
            abort_percent_runtime: "fault.orders.abort".into(),
            ..Default::default()
        };
        let f = http_fault(&configs(&pb)).unwrap().unwrap();
        assert_eq!(
            f.delay,
            Some((
                FaultValue::FromHeaders {
                    percent_denominator: 10_000
                },
                Fraction::new(1, 2)
            ))
        );
        assert_eq!(
            f.abort,
            Some((
                FaultValue::FromHeaders {
                    percent_denominator: 100
                },
                Fraction::ALL
            ))
        );
        assert_eq!(f.upstream_cluster.as_deref(), Some("orders"));
        assert_eq!(f.downstream_nodes, [Box::from("web")]);
        assert_eq!(f.headers.len(), 1);
        assert_eq!(f.max_active.as_ref().map(ActiveFaults::max), Some(3));
        assert!(http_fault(&HashMap::new()).unwrap().is_none());
    }

    #[test]
    fn fixed_faults_default_to_no_request() {
        let pb = HttpFault {
            delay: Some(FaultDelay {
                fault_delay_secifier: Some(FaultDelaySecifier::FixedDelay(PbDuration {
                    seconds: 2,
                    nanos: 0,
                })),
                percentage: None,
            }),
            abort: Some(FaultAbort {
                error_type: Some(ErrorType::GrpcStatus(14)),
                ..Default::default()
            }),
            ..Default::default()
        };
        let f = http_fault(&configs(&pb)).unwrap().unwrap();
        let none = Fraction::new(0, 1);
        assert_eq!(
            f.delay,
            Some((FaultValue::Fixed(Duration::from_secs(2)), none))
        );
        assert_eq!(
            f.abort,
            Some((FaultValue::Fixed(AbortCode::Grpc(14)), none))
        );
        assert!(f.upstream_cluster.is_none() && f.max_active.is_none());
        let nothing = http_fault(&configs(&HttpFault::default()))
            .unwrap()
            .unwrap();
        assert!(!nothing.injects());
    }

    #[test]
    fn bad_faults_are_refused_with_the_field_named() {
        let delay_with = |fault_delay_secifier, percentage| HttpFault {
            delay: Some(FaultDelay {
                fault_delay_secifier,
                percentage,
            }),
            ..Default::default()
        };
        let header_delay = Some(FaultDelaySecifier::HeaderDelay(HeaderDelay {}));
        for (pb, field) in [
            (
                HttpFault {
                    abort: abort_with(None),
                    ..Default::default()
                },
                "abort",
            ),
            (
                HttpFault {
                    abort: abort_with(Some(ErrorType::HttpStatus(700))),
                    ..Default::default()
                },
                "abort.http_status",
            ),
            (delay_with(None, None), "delay"),
            (
                delay_with(header_delay, percent(101, DenominatorType::Hundred)),
                "delay.percentage.numerator",
            ),
            (
                delay_with(
                    header_delay,
                    Some(FractionalPercent {
                        numerator: 1,
                        denominator: 9,
                    }),
                ),
                "delay.percentage.denominator",
            ),
            (
                delay_with(
                    Some(FaultDelaySecifier::FixedDelay(PbDuration {
                        seconds: -1,
                        nanos: 0,
                    })),
                    None,
                ),
                "delay.fixed_delay",
            ),
            (
                HttpFault {
                    abort: abort_with(Some(ErrorType::HttpStatus(503))),
                    response_rate_limit: Some(FaultRateLimit::default()),
                    ..Default::default()
                },
                "response_rate_limit",
            ),
            (
                HttpFault {
                    abort: abort_with(Some(ErrorType::HttpStatus(503))),
                    headers: vec![PbHeaderMatcher {
                        name: "bad header".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                "headers[0].name",
            ),
        ] {
            let e = http_fault(&configs(&pb)).unwrap_err();
            assert_eq!(e.field, format!("{KEY}.{field}"), "{e}");
        }
        let mut garbage = configs(&HttpFault::default());
        if let Some(any) = garbage.values_mut().next() {
            any.value = vec![0xff, 0xff];
        }
        let e = http_fault(&garbage).unwrap_err();
        assert!(e.reason.contains("malformed HTTPFault"), "{e}");
    }
}
