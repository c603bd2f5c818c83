//! Mirror of the fault filter's `HTTPFault`, a `typed_per_filter_config`
//! entry (see `filters`): the delay and abort with their oneofs and
//! percentages, the gates (`upstream_cluster`, `downstream_nodes`,
//! `headers`) and `max_active_faults`. `response_rate_limit` is kept as an
//! empty marker, so the conversion can name it when it refuses it; the
//! runtime keys, `filter_metadata` and the stats options are not read by
//! the conversion, so they are not transcribed.

use envoy_types::pb::envoy::extensions::filters::common::fault::v3::{
    self as common, fault_delay::FaultDelaySecifier, fault_delay::HeaderDelay,
};
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::{
    self as pb, fault_abort::ErrorType, fault_abort::HeaderAbort,
};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::matcher::HeaderMatcher;
use super::policy::FractionalPercent;
use super::wkt::{Dur, Int, nullable, u32_value};
use super::{each, oneof};
use crate::config::ConfigError;

/// `extensions.filters.http.fault.v3.HTTPFault`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HttpFault {
    delay: Option<FaultDelay>,
    abort: Option<FaultAbort>,
    #[serde(alias = "upstreamCluster", deserialize_with = "nullable")]
    upstream_cluster: String,
    #[serde(deserialize_with = "nullable")]
    headers: Vec<HeaderMatcher>,
    #[serde(alias = "downstreamNodes", deserialize_with = "nullable")]
    downstream_nodes: Vec<String>,
    #[serde(alias = "maxActiveFaults")]
    max_active_faults: Option<Int<u32>>,
    #[serde(alias = "responseRateLimit")]
    response_rate_limit: Option<IgnoredAny>,
}

/// `extensions.filters.common.fault.v3.FaultDelay`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FaultDelay {
    #[serde(alias = "fixedDelay")]
    fixed_delay: Option<Dur>,
    #[serde(alias = "headerDelay")]
    header_delay: Option<IgnoredAny>,
    percentage: Option<FractionalPercent>,
}

/// `extensions.filters.http.fault.v3.FaultAbort`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FaultAbort {
    #[serde(alias = "httpStatus")]
    http_status: Option<Int<u32>>,
    #[serde(alias = "grpcStatus")]
    grpc_status: Option<Int<u32>>,
    #[serde(alias = "headerAbort")]
    header_abort: Option<IgnoredAny>,
    percentage: Option<FractionalPercent>,
}

impl HttpFault {
    pub(super) fn into_proto(self) -> Result<pb::HttpFault, ConfigError> {
        let delay = self
            .delay
            .map(FaultDelay::into_proto)
            .transpose()
            .map_err(|e| e.at("delay"))?;
        let abort = self
            .abort
            .map(FaultAbort::into_proto)
            .transpose()
            .map_err(|e| e.at("abort"))?;
        Ok(pb::HttpFault {
            delay,
            abort,
            upstream_cluster: self.upstream_cluster,
            headers: each(self.headers, "headers", HeaderMatcher::into_proto)?,
            downstream_nodes: self.downstream_nodes,
            max_active_faults: u32_value(self.max_active_faults),
            response_rate_limit: self
                .response_rate_limit
                .map(|_| common::FaultRateLimit::default()),
            ..Default::default()
        })
    }
}

impl FaultDelay {
    fn into_proto(self) -> Result<common::FaultDelay, ConfigError> {
        let fault_delay_secifier = oneof([
            (
                "fixed_delay",
                self.fixed_delay
                    .map(|d| FaultDelaySecifier::FixedDelay(d.0)),
            ),
            (
                "header_delay",
                self.header_delay
                    .map(|_| FaultDelaySecifier::HeaderDelay(HeaderDelay {})),
            ),
        ])?;
        Ok(common::FaultDelay {
            percentage: self.percentage.map(FractionalPercent::into_proto),
            fault_delay_secifier,
        })
    }
}

impl FaultAbort {
    fn into_proto(self) -> Result<pb::FaultAbort, ConfigError> {
        let error_type = oneof([
            (
                "http_status",
                self.http_status.map(|s| ErrorType::HttpStatus(s.0)),
            ),
            (
                "grpc_status",
                self.grpc_status.map(|s| ErrorType::GrpcStatus(s.0)),
            ),
            (
                "header_abort",
                self.header_abort
                    .map(|_| ErrorType::HeaderAbort(HeaderAbort {})),
            ),
        ])?;
        Ok(pb::FaultAbort {
            percentage: self.percentage.map(FractionalPercent::into_proto),
            error_type,
            ..Default::default()
        })
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

    const KEY: &str = "envoy.filters.http.fault";

    fn configs(yaml: &str) -> Result<HashMap<String, Any>, ConfigError> {
        let parsed: HashMap<String, AnyOf<FilterConfig>> = serde_yaml::from_str(yaml).unwrap();
        per_filter_configs(parsed)
    }

    #[test]
    fn a_header_fault_is_encoded() {
        let yaml = format!(
            "{KEY}:
  '@type': {}
  delay: {{header_delay: {{}}, percentage: {{numerator: 50, denominator: TEN_THOUSAND}}}}
  abort: {{headerAbort: {{}}, percentage: {{numerator: 100}}}}
  upstream_cluster: orders
  downstreamNodes: [web]
  headers: [{{name: x-chaos, exact_match: 'on'}}]
  max_active_faults: 3
  abort_percent_runtime: fault.orders.abort",
            type_url::HTTP_FAULT
        );
        let configs = configs(&yaml).unwrap();
        let pb = pb::HttpFault::decode(configs[KEY].value.as_slice()).unwrap();
        let delay = pb.delay.unwrap();
        assert!(matches!(
            delay.fault_delay_secifier,
            Some(FaultDelaySecifier::HeaderDelay(_))
        ));
        let percentage = delay.percentage.unwrap();
        assert_eq!(
            (percentage.numerator, percentage.denominator),
            (50, DenominatorType::TenThousand as i32)
        );
        let abort = pb.abort.unwrap();
        assert!(matches!(abort.error_type, Some(ErrorType::HeaderAbort(_))));
        assert_eq!(pb.upstream_cluster, "orders");
        assert_eq!(pb.downstream_nodes, ["web"]);
        assert_eq!(pb.headers[0].name, "x-chaos");
        assert_eq!(pb.max_active_faults.map(|m| m.value), Some(3));
        assert!(pb.response_rate_limit.is_none());
    }

    #[test]
    fn fixed_faults_and_the_rate_limit_marker_are_encoded() {
        let yaml = format!(
            "{KEY}:
  '@type': {}
  delay: {{fixedDelay: 1.5s}}
  abort: {{grpc_status: '14'}}
  response_rate_limit: {{fixed_limit: {{limit_kbps: 1}}}}",
            type_url::HTTP_FAULT
        );
        let configs = configs(&yaml).unwrap();
        let pb = pb::HttpFault::decode(configs[KEY].value.as_slice()).unwrap();
        let Some(FaultDelaySecifier::FixedDelay(d)) = pb.delay.unwrap().fault_delay_secifier else {
            panic!("not a fixed delay");
        };
        assert_eq!((d.seconds, d.nanos), (1, 500_000_000));
        assert_eq!(
            pb.abort.unwrap().error_type,
            Some(ErrorType::GrpcStatus(14))
        );
        assert!(pb.response_rate_limit.is_some());
    }

    #[test]
    fn two_members_of_a_oneof_are_located() {
        for (body, field) in [
            (
                "abort: {http_status: 503, grpc_status: 14}",
                "abort.grpc_status",
            ),
            (
                "delay: {fixed_delay: 1s, header_delay: {}}",
                "delay.header_delay",
            ),
            (
                "headers: [{name: a, exact_match: b, present_match: true}]",
                "headers[0].present_match",
            ),
        ] {
            let yaml = format!("{KEY}: {{'@type': {}, {body}}}", type_url::HTTP_FAULT);
            let e = configs(&yaml).unwrap_err();
            assert_eq!(
                e.field,
                format!("typed_per_filter_config[\"{KEY}\"].{field}"),
                "{e}"
            );
        }
    }
}
