//! Export over OTLP/gRPC: finished spans leave the queue in batches, as
//! OpenTelemetry's batch span processor sends them.
//!
//! One task reads the queue: every `batch_delay` it takes what is there,
//! in batches of at most `batch_size`, each sent in one
//! `TraceService/Export` call bounded by `timeout`. It polls rather than
//! waits on the queue, so a request that queues a span never wakes a
//! thread (a cross-thread wake-up costs more than the span). A failed call drops
//! its batch and counts it (`dropped_export_failed`); the next batch
//! tries again, on a connection tonic re-establishes. Meanwhile requests
//! only ever `try_send` into the queue (see `tracer`), so a collector
//! that is slow or down slows nothing but this task.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};

use tokio::sync::mpsc::error::TryRecvError;

use super::span::{SpanKind, SpanRecord, Value};
use super::tracer::{SpanQueue, TraceStats};
use crate::{Error, ErrorKind};

/// Where and how spans are exported.
#[derive(Debug, Clone)]
pub struct OtlpOptions {
    /// The collector's OTLP/gRPC endpoint, `http://host:4317`.
    pub endpoint: String,
    /// The `service.name` of the resource (the workload).
    pub service_name: String,
    /// Spans per export call, at most.
    pub batch_size: usize,
    /// How long a batch waits to fill.
    pub batch_delay: Duration,
    /// The bound on one export call.
    pub timeout: Duration,
}

impl OtlpOptions {
    /// The defaults of OpenTelemetry's batch processor (512 spans, 5 s,
    /// 30 s) but a 1 s delay, towards `endpoint`.
    pub fn new(endpoint: impl Into<String>, service_name: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            service_name: service_name.into(),
            batch_size: 512,
            batch_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The exporting task, to spawn on a tokio runtime; it ends when every
/// tracer feeding `queue` is dropped. The endpoint is checked here.
pub fn exporter(
    mut queue: SpanQueue,
    options: OtlpOptions,
) -> Result<impl Future<Output = ()> + Send + 'static, Error> {
    let endpoint = endpoint(&options.endpoint, options.timeout)?;
    Ok(async move {
        let mut client = TraceServiceClient::new(endpoint.connect_lazy());
        let resource = resource(options.service_name);
        let mut open = true;
        while open {
            tokio::time::sleep(options.batch_delay).await;
            let mut batch = Vec::new();
            loop {
                match queue.receiver.try_recv() {
                    Ok(span) => batch.push(span),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
                if batch.len() == options.batch_size.max(1) {
                    let full = std::mem::take(&mut batch);
                    send(&mut client, &resource, full, &queue.stats).await;
                }
            }
            if !batch.is_empty() {
                send(&mut client, &resource, batch, &queue.stats).await;
            }
        }
    })
}

/// Sends one batch, counting it exported or dropped.
async fn send(
    client: &mut TraceServiceClient<tonic::transport::Channel>,
    resource: &Resource,
    batch: Vec<SpanRecord>,
    stats: &TraceStats,
) {
    let count = batch.len() as u64;
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans: batch.into_iter().map(to_proto).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    let counter = match client.export(request).await {
        Ok(_) => &stats.exported,
        Err(status) => {
            tracing::debug!(%status, spans = count, "OTLP export failed; spans dropped");
            &stats.dropped_export_failed
        }
    };
    counter.fetch_add(count, Ordering::Relaxed);
}

fn to_proto(record: SpanRecord) -> Span {
    let kind = match record.kind {
        SpanKind::Internal => span::SpanKind::Internal,
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Server => span::SpanKind::Server,
    };
    let status = match &record.error {
        Some(message) => Status {
            message: message.clone(),
            code: status::StatusCode::Error as i32,
        },
        None => Status::default(),
    };
    Span {
        trace_id: record.context.trace_id.to_vec(),
        span_id: record.context.span_id.to_vec(),
        parent_span_id: record.parent.map(|p| p.to_vec()).unwrap_or_default(),
        flags: u32::from(record.context.sampled),
        name: record.name,
        kind: kind as i32,
        start_time_unix_nano: nanos(record.start),
        end_time_unix_nano: nanos(record.end),
        attributes: record
            .attributes
            .iter()
            .map(|(key, value)| key_value(key, value))
            .collect(),
        status: Some(status),
        ..Span::default()
    }
}

/// The collector's endpoint, checked, each call bounded by `timeout`.
pub(crate) fn endpoint(url: &str, timeout: Duration) -> Result<tonic::transport::Endpoint, Error> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned()).map_err(|e| {
        Error::new(
            ErrorKind::ConfigInvalid,
            format!("OTLP endpoint {url:?}: {e}"),
        )
    })?;
    Ok(endpoint.connect_timeout(timeout).timeout(timeout))
}

/// The resource every export names: the service.
pub(crate) fn resource(service_name: String) -> Resource {
    Resource {
        attributes: vec![key_value("service.name", &Value::Str(service_name))],
        ..Resource::default()
    }
}

/// The instrumentation scope of every export: this crate.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "mesh".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..InstrumentationScope::default()
    }
}

pub(crate) fn key_value(key: &str, value: &Value) -> KeyValue {
    let value = match value {
        Value::Str(s) => any_value::Value::StringValue(s.clone()),
        Value::Int(i) => any_value::Value::IntValue(*i),
        Value::Bool(b) => any_value::Value::BoolValue(*b),
    };
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

pub(crate) fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
