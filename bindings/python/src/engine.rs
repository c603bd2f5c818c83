//! The engine as a Python class: construction from one configuration
//! source, the blocking call (GIL released, Ctrl-C honoured), the
//! submitted call for asyncio, the decide mode, dump, metrics, close.

use std::sync::Arc;
use std::time::Duration;

use facade::{
    AccessLogOptions, Cancel, ConfigFormat, ConfigSource, EngineOptions, ErrorKind, Outcome,
    PolicySource, Sampler, SourceLabels, TracingOptions,
};
use http::HeaderMap;
use pyo3::prelude::*;

use crate::cancel::CancelHandle;
use crate::completions::Completions;
use crate::decision::{self, Decision};
use crate::errors;
use crate::request;
use crate::response::Response;

/// How often a blocking call on Python's main thread looks for a pending
/// signal (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// One mesh engine; `proxyless_mesh.Client` wraps it.
#[pyclass(frozen, module = "proxyless_mesh._native")]
#[derive(Debug)]
pub(crate) struct Engine {
    engine: Arc<facade::Engine>,
}

#[pymethods]
impl Engine {
    /// Builds an engine from exactly one source: `config` (Envoy v3 or
    /// Istio YAML/JSON text), `config_file` (a path to one), or
    /// `xds_targets` (with `xds_bootstrap`, gRPC's bootstrap JSON, or
    /// `GRPC_XDS_BOOTSTRAP` when `None`).
    #[new]
    #[pyo3(signature = (
        *,
        config=None,
        config_file=None,
        format="auto",
        xds_targets=None,
        xds_bootstrap=None,
        ready_timeout=5.0,
        policy=None,
        policy_host=None,
        worker_threads=EngineOptions::DEFAULT_WORKER_THREADS,
        max_body_bytes=EngineOptions::DEFAULT_MAX_BODY_BYTES,
        workload=None,
        namespace=None,
        workload_labels=None,
        metrics_address=None,
        otlp_endpoint=None,
        trace_sample_ratio=0.01,
        trace_service_name=None,
        access_log=None,
        access_log_ratio=1.0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        config: Option<String>,
        config_file: Option<std::path::PathBuf>,
        format: &str,
        xds_targets: Option<Vec<String>>,
        xds_bootstrap: Option<String>,
        ready_timeout: f64,
        policy: Option<String>,
        policy_host: Option<String>,
        worker_threads: usize,
        max_body_bytes: usize,
        workload: Option<String>,
        namespace: Option<String>,
        workload_labels: Option<std::collections::BTreeMap<String, String>>,
        metrics_address: Option<String>,
        otlp_endpoint: Option<String>,
        trace_sample_ratio: f64,
        trace_service_name: Option<String>,
        access_log: Option<std::path::PathBuf>,
        access_log_ratio: f64,
    ) -> PyResult<Self> {
        let invalid = |message: &str| errors::new(py, ErrorKind::InvalidArgument, message);
        let format = match format {
            "auto" => ConfigFormat::Auto,
            "envoy" => ConfigFormat::Envoy,
            "istio" => ConfigFormat::Istio,
            other => {
                return Err(invalid(&format!(
                    "format {other:?} is not one of \"auto\", \"envoy\", \"istio\""
                )));
            }
        };
        let source = match (config, config_file, xds_targets) {
            (Some(text), None, None) => ConfigSource::Static { text, format },
            (None, Some(path), None) => ConfigSource::StaticFile { path, format },
            (None, None, Some(targets)) => ConfigSource::Xds {
                bootstrap: xds_bootstrap,
                targets,
                ready_timeout: request::timeout_from(Some(ready_timeout))?.unwrap_or_default(),
            },
            _ => {
                return Err(invalid(
                    "give exactly one configuration source: config, config_file or xds_targets",
                ));
            }
        };
        let policy = match (policy, policy_host) {
            (Some(json), Some(host)) => Some(PolicySource { json, host }),
            (None, None) => None,
            _ => return Err(invalid("policy and policy_host go together")),
        };
        let metrics_address = match metrics_address {
            Some(address) => Some(address.parse().map_err(|_| {
                invalid(&format!(
                    "metrics_address {address:?} is not an ip:port address"
                ))
            })?),
            None => None,
        };
        let workload = workload.map(|name| {
            SourceLabels::from_workload(
                &name,
                namespace.as_deref().unwrap_or_default(),
                &workload_labels.unwrap_or_default(),
            )
        });
        let tracing = otlp_endpoint.map(|endpoint| {
            let mut tracing = TracingOptions::new(endpoint);
            tracing.sampler = Sampler {
                ratio: trace_sample_ratio,
                parent_based: true,
            };
            tracing.service_name = trace_service_name;
            tracing
        });
        let access_log = access_log.map(|path| AccessLogOptions {
            path,
            sample_ratio: access_log_ratio,
        });
        let options = EngineOptions {
            worker_threads,
            max_body_bytes,
            policy,
            workload,
            metrics_address,
            tracing,
            access_log,
            ..EngineOptions::default()
        };
        let engine = py
            .detach(|| facade::Engine::new(source, options))
            .map_err(|e| errors::to_py(py, &e))?;
        Ok(Self {
            engine: Arc::new(engine),
        })
    }

    /// Sends a request through the mesh and returns the whole response,
    /// with the GIL released meanwhile. With `interruptible`, the call
    /// steps out of the engine every 50 ms to run pending Python signal
    /// handlers, and raises what they raise (Ctrl-C's
    /// `KeyboardInterrupt`), cancelling the request: pass it on the main
    /// thread only, the one Python runs signal handlers on.
    #[pyo3(signature = (method, url, headers=None, body=None, timeout=None, interruptible=false))]
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        py: Python<'_>,
        method: &str,
        url: &str,
        headers: Option<&Bound<'_, PyAny>>,
        body: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        interruptible: bool,
    ) -> PyResult<Response> {
        let request = request::build(py, method, url, headers, body, timeout)?;
        let engine = &*self.engine;
        let mut signal = None;
        let result = py.detach(|| {
            if !interruptible {
                return engine.execute(&request, None);
            }
            engine.execute_interruptible(&request, None, SIGNAL_CHECK, &mut || {
                Python::attach(|py| py.check_signals())
                    .map_err(|raised| signal = Some(raised))
                    .is_err()
            })
        });
        if let Some(raised) = signal {
            return Err(raised);
        }
        let response = result.map_err(|e| errors::to_py(py, &e))?;
        Response::new(py, response)
    }

    /// Starts a request without blocking; its result is queued on
    /// `completions` under `token`. Returns its cancel switch.
    #[pyo3(signature = (completions, token, method, url, headers=None, body=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &self,
        py: Python<'_>,
        completions: &Completions,
        token: u64,
        method: &str,
        url: &str,
        headers: Option<&Bound<'_, PyAny>>,
        body: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<CancelHandle> {
        let request = request::build(py, method, url, headers, body, timeout)?;
        let cancel = Cancel::new();
        let queue = completions.queue();
        let engine = &*self.engine;
        py.detach(|| {
            engine.submit(&request, cancel.clone(), move |result| {
                queue.push(token, result);
            })
        })
        .map_err(|e| errors::to_py(py, &e))?;
        Ok(CancelHandle(cancel))
    }

    /// Routes a request and decides its first attempt, for a caller that
    /// sends it itself.
    #[pyo3(signature = (method, url, headers=None))]
    fn resolve(
        &self,
        py: Python<'_>,
        method: &str,
        url: &str,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let request = request::build(py, method, url, headers, None, None)?;
        self.engine
            .resolve(&request)
            .map(Decision::new)
            .map_err(|e| errors::to_py(py, &e))
    }

    /// Reports how the attempt of `decision` went: a response (`status`,
    /// optional `headers`) or a `failure` ("connect", "reset", "timeout",
    /// "refused_stream"). Returns the next attempt's decision, or `None`
    /// when this outcome is the request's answer.
    #[pyo3(signature = (decision, status=None, headers=None, failure=None))]
    fn report(
        &self,
        py: Python<'_>,
        decision: &Decision,
        status: Option<u16>,
        headers: Option<&Bound<'_, PyAny>>,
        failure: Option<&str>,
    ) -> PyResult<Option<Decision>> {
        let outcome = match (status, failure) {
            (Some(status), None) => {
                let head = response_headers(py, headers)?;
                Outcome::response(status, head).map_err(|e| errors::to_py(py, &e))?
            }
            (None, Some(failure)) => Outcome::Failure(decision::failure_from(py, failure)?),
            _ => {
                return Err(errors::new(
                    py,
                    ErrorKind::InvalidArgument,
                    "report either a status or a failure",
                ));
            }
        };
        let taken = decision.take(py)?;
        self.engine
            .report(taken, &outcome)
            .map(|next| next.map(Decision::new))
            .map_err(|e| errors::to_py(py, &e))
    }

    /// The configuration in force, as JSON text.
    fn config_dump(&self, py: Python<'_>) -> PyResult<String> {
        let engine = &*self.engine;
        py.detach(|| engine.config_dump())
            .map_err(|e| errors::to_py(py, &e))
    }

    /// The engine's metrics in the Prometheus text format.
    fn metrics(&self, py: Python<'_>) -> PyResult<String> {
        let engine = &*self.engine;
        py.detach(|| engine.metrics_text())
            .map_err(|e| errors::to_py(py, &e))
    }

    /// Where `/metrics` is served (`host:port`), when it is.
    #[getter]
    fn metrics_address(&self) -> Option<String> {
        self.engine.metrics_address().map(|a| a.to_string())
    }

    /// Closes the engine (calls in flight end with `ClosedError`); closing
    /// again does nothing.
    fn close(&self, py: Python<'_>) {
        let engine = &*self.engine;
        py.detach(|| engine.close());
    }
}

/// A reported response's headers, checked by the engine.
fn response_headers(py: Python<'_>, headers: Option<&Bound<'_, PyAny>>) -> PyResult<HeaderMap> {
    let mut map = HeaderMap::new();
    if let Some(headers) = headers {
        request::for_each_header(headers, |name, value| {
            let (name, value) = Outcome::header(name, value).map_err(|e| errors::to_py(py, &e))?;
            map.append(name, value);
            Ok(())
        })?;
    }
    Ok(map)
}
