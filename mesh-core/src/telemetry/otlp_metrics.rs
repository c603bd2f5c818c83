//! Istio's standard metrics over OTLP: for backends that take OTLP
//! rather than scrape, the same series the Prometheus text shows, pushed
//! every interval.
//!
//! Each push reads the registry once, as a scrape does, and sends the
//! cumulative values (OTLP's cumulative temporality, which is what a
//! Prometheus counter is): `istio_requests_total` as a monotonic sum, the
//! duration and size histograms with their explicit bounds. A push that
//! fails is not retried: the next one carries the totals anyway.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};

use super::registry::{IstioLabels, Telemetry};
use super::series::HistogramOf;
use super::trace::Value;
use super::trace::otlp::{endpoint, key_value, nanos, resource, scope};
use crate::Error;

/// Where and how often metrics are pushed.
#[derive(Debug, Clone)]
pub struct OtlpMetricsOptions {
    /// The collector's OTLP/gRPC endpoint, `http://host:4317`.
    pub endpoint: String,
    /// The `service.name` of the resource.
    pub service_name: String,
    /// Between pushes.
    pub interval: Duration,
}

/// The pushing task, to spawn on a tokio runtime; it runs until dropped.
/// The endpoint is checked here.
pub fn metrics_exporter(
    telemetry: Arc<Telemetry>,
    options: OtlpMetricsOptions,
) -> Result<impl Future<Output = ()> + Send + 'static, Error> {
    let endpoint = endpoint(&options.endpoint, Duration::from_secs(10))?;
    let started = SystemTime::now();
    Ok(async move {
        let mut client = MetricsServiceClient::new(endpoint.connect_lazy());
        let resource = resource(options.service_name);
        loop {
            tokio::time::sleep(options.interval).await;
            let request = ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource: Some(resource.clone()),
                    scope_metrics: vec![ScopeMetrics {
                        scope: Some(scope()),
                        metrics: istio_metrics(&telemetry, started, SystemTime::now()),
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            };
            if let Err(status) = client.export(request).await {
                tracing::debug!(%status, "OTLP metrics push failed");
            }
        }
    })
}

/// Istio's four metrics, as OTLP.
fn istio_metrics(telemetry: &Telemetry, start: SystemTime, now: SystemTime) -> Vec<Metric> {
    let series = telemetry.istio_series();
    let (start, now) = (nanos(start), nanos(now));
    let attributes = |labels: &IstioLabels| {
        labels
            .iter()
            .map(|(name, value)| key_value(name, &Value::Str(value.clone())))
            .collect::<Vec<_>>()
    };
    let requests = Metric {
        name: "istio_requests_total".into(),
        description: "Requests this workload sent, by source, destination and response.".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: series
                .iter()
                .map(|(labels, values)| NumberDataPoint {
                    attributes: attributes(labels),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    value: Some(number_data_point::Value::AsInt(
                        i64::try_from(values.requests).unwrap_or(i64::MAX),
                    )),
                    ..NumberDataPoint::default()
                })
                .collect(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Metric::default()
    };
    let histograms: [(&str, &str, HistogramOf, f64); 3] = [
        (
            "istio_request_duration_milliseconds",
            "ms",
            |v| &v.duration_us,
            1_000.0,
        ),
        ("istio_request_bytes", "By", |v| &v.request_bytes, 1.0),
        ("istio_response_bytes", "By", |v| &v.response_bytes, 1.0),
    ];
    let mut metrics = vec![requests];
    for (name, unit, field, scale) in histograms {
        let data_points = series
            .iter()
            .map(|(labels, values)| {
                let h = field(values);
                let mut bucket_counts = Vec::with_capacity(h.cumulative.len() + 1);
                let mut below = 0;
                for (_, cumulative) in &h.cumulative {
                    bucket_counts.push(cumulative - below);
                    below = *cumulative;
                }
                bucket_counts.push(h.count - below);
                HistogramDataPoint {
                    attributes: attributes(labels),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    count: h.count,
                    sum: Some(h.sum as f64 / scale),
                    bucket_counts,
                    explicit_bounds: h
                        .cumulative
                        .iter()
                        .map(|(b, _)| *b as f64 / scale)
                        .collect(),
                    ..HistogramDataPoint::default()
                }
            })
            .collect();
        metrics.push(Metric {
            name: name.into(),
            unit: unit.into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Metric::default()
        });
    }
    metrics
}
