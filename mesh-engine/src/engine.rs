//! The engine: a configuration, the mesh client over it, and the two
//! runtimes it runs on (the requests', driven by their callers, and the
//! xDS client's).

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::Full;
use mesh_core::config::MeshConfig;
use mesh_core::rng::ThreadRng;
use mesh_core::source;
use mesh_core::telemetry::trace::{OtlpOptions, Tracer, TracerConfig, exporter};
use mesh_core::telemetry::{
    AccessLog, OtlpMetricsOptions, SourceLabels, Telemetry, metrics_exporter,
};
use mesh_core::xds::{Bootstrap, XdsClient, XdsClientOptions, XdsOptions};
use mesh_core::{Error, ErrorKind, RequestHead, SnapshotHandle};
use mesh_tower::MeshClient;
use mesh_tower::metrics::serve_metrics;
use tokio::runtime::Runtime;

use crate::cancel::Cancel;
use crate::decide::{Decision, Outcome};
use crate::driver::RequestRuntime;
use crate::exchange::{self, Limits};
use crate::metrics::{Metrics, Mode, Result as Recorded};
use crate::options::{
    AccessLogOptions, ConfigFormat, ConfigSource, EngineOptions, PolicySource, TracingOptions,
    check_ratio,
};
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::submit::Completion;
use crate::{dump, runtime};

/// The mesh, embedded: build one per process and share it between
/// threads (every method takes `&self`).
#[derive(Debug)]
pub struct Engine {
    /// The process that built the engine (see `runtime`).
    pid: u32,
    max_body_bytes: usize,
    snapshots: Arc<SnapshotHandle>,
    /// Sends the blocking calls: its connections live on the requests'
    /// runtime.
    client: MeshClient<Full<Bytes>>,
    /// Sends the submitted calls: its connections live on the engine's
    /// multi-thread runtime (both share the snapshot, so breakers,
    /// outlier detection and retry budgets count every call).
    async_client: MeshClient<Full<Bytes>>,
    /// Fired by `close`: calls in flight end with `Closed`.
    shutdown: Cancel,
    /// `None` once closed. Calls hold the read side while they run, so
    /// `close` stops the runtime only after they have left.
    running: RwLock<Option<Running>>,
    metrics: Arc<Metrics>,
    /// Where `/metrics` is served, if it is.
    metrics_address: Option<SocketAddr>,
}

#[derive(Debug)]
struct Running {
    /// Where requests run, driven by their callers.
    requests: RequestRuntime,
    /// Where the xDS client and the submitted calls run.
    runtime: Runtime,
    xds: Option<Arc<XdsClient>>,
}

impl Engine {
    /// Builds an engine: starts its runtime and loads its configuration
    /// (for xDS, waits up to the source's `ready_timeout` for the first).
    /// Invalid configuration is an [`ErrorKind::ConfigInvalid`] error
    /// naming the resource and the field.
    pub fn new(source: ConfigSource, options: EngineOptions) -> Result<Self, Error> {
        runtime::ensure_blocking_allowed("Engine::new")?;
        if options.max_body_bytes == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "max_body_bytes must be at least 1",
            ));
        }
        let runtime = runtime::build(options.worker_threads)?;
        let workload = options.workload.clone();
        let telemetry = |fallback: Option<SourceLabels>| {
            let source = workload.clone().or(fallback).unwrap_or_default();
            telemetry(&runtime, source, &options)
        };
        let (snapshots, xds) = match source {
            ConfigSource::Static { text, format } => {
                let handle = static_config(&text, format, options.policy.as_ref())?;
                (Arc::new(handle.with_telemetry(telemetry(None)?)), None)
            }
            ConfigSource::StaticFile { path, format } => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::new(
                        ErrorKind::ConfigInvalid,
                        format!("configuration file {}: {e}", path.display()),
                    )
                })?;
                let handle = static_config(&text, format, options.policy.as_ref())?;
                (Arc::new(handle.with_telemetry(telemetry(None)?)), None)
            }
            ConfigSource::Xds {
                bootstrap,
                targets,
                ready_timeout,
            } => {
                if options.policy.is_some() {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        "a policy JSON applies to static configuration only (over xDS the control plane sets policy)",
                    ));
                }
                let xds = start_xds(&runtime, bootstrap.as_deref(), targets, telemetry)?;
                if !ready_timeout.is_zero() {
                    runtime.block_on(xds.ready(ready_timeout));
                }
                (xds.snapshots().clone(), Some(Arc::new(xds)))
            }
        };
        let metrics = Arc::new(Metrics::default());
        let metrics_address = match options.metrics_address {
            Some(address) => Some(serve(
                &runtime,
                address,
                &metrics,
                &snapshots,
                xds.as_ref().map(Arc::downgrade),
            )?),
            None => None,
        };
        Ok(Self {
            pid: runtime::process_id(),
            max_body_bytes: options.max_body_bytes,
            client: MeshClient::new(snapshots.clone()),
            async_client: MeshClient::new(snapshots.clone()),
            snapshots,
            shutdown: Cancel::new(),
            running: RwLock::new(Some(Running {
                requests: RequestRuntime::start()?,
                runtime,
                xds,
            })),
            metrics,
            metrics_address,
        })
    }

    /// Where the metrics are served (`EngineOptions::metrics_address`,
    /// with the port the system chose for port 0).
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_address
    }

    /// The largest body this engine buffers.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Sends `request` through the mesh (routing, balancing, retries,
    /// breakers, outlier detection) and blocks the calling thread until
    /// the whole response. Ends early with [`ErrorKind::Cancelled`] when
    /// `cancel` fires, [`ErrorKind::Timeout`] past the request's timeout,
    /// [`ErrorKind::Closed`] when the engine closes.
    pub fn execute(
        &self,
        request: &HttpRequest,
        cancel: Option<&Cancel>,
    ) -> Result<HttpResponse, Error> {
        let exchange = self.blocking_exchange(request, cancel)?;
        // The caller's thread drives the request (see `driver`).
        let result = self.with_running(|running| running.requests.block_on(exchange))?;
        self.metrics.record_response(Mode::Execute, &result);
        result
    }

    /// [`Engine::execute`] for hosts whose signals only the waiting thread
    /// sees (Python's Ctrl-C on the main thread): every `every`, the call
    /// steps out of the engine, letting go of the runtime and of the
    /// engine's locks (so the hook may block, take the host's interpreter
    /// lock, even close the engine), and asks `interrupted` whether to
    /// give up; a `true` ends the call with [`ErrorKind::Cancelled`].
    pub fn execute_interruptible(
        &self,
        request: &HttpRequest,
        cancel: Option<&Cancel>,
        every: Duration,
        interrupted: &mut dyn FnMut() -> bool,
    ) -> Result<HttpResponse, Error> {
        let exchange = self.blocking_exchange(request, cancel)?;
        let mut exchange = std::pin::pin!(exchange);
        let result = loop {
            // One slice: the caller drives the request for up to `every`.
            let slice = self.with_running(|running| {
                running.requests.block_on(async {
                    tokio::select! {
                        biased;
                        result = &mut exchange => Some(result),
                        () = tokio::time::sleep(every) => None,
                    }
                })
            })?;
            match slice {
                Some(result) => break result,
                None if interrupted() => {
                    break Err(Error::new(ErrorKind::Cancelled, "the call was interrupted"));
                }
                None => {}
            }
        };
        self.metrics.record_response(Mode::Execute, &result);
        result
    }

    /// Starts `request` through the mesh without blocking: it runs on the
    /// engine's multi-thread runtime and `done` receives its end exactly
    /// once, on an engine thread (or with [`ErrorKind::Closed`] on the
    /// thread that closes the engine first; see `submit`). `done` must not
    /// block: hand the result over to the host's own loop. Errors found before the request starts
    /// (a closed engine, a body over the limit) are returned here and
    /// `done` is not called.
    pub fn submit<F>(&self, request: &HttpRequest, cancel: Cancel, done: F) -> Result<(), Error>
    where
        F: FnOnce(Result<HttpResponse, Error>) + Send + 'static,
    {
        request.check_body(self.max_body_bytes)?;
        self.with_running(|running| {
            // Made here: a call refused as closed never sees its `done`.
            let completion = Completion::new(done);
            let client = self.async_client.clone();
            let shutdown = self.shutdown.clone();
            let metrics = Arc::clone(&self.metrics);
            let http = request.to_http();
            let limits = self.limits(request);
            running.runtime.spawn(async move {
                let exchange = exchange::run(&client, http, limits, &shutdown, Some(&cancel));
                // A panic answers the host too (the C ABI and Python catch
                // theirs at the boundary; this one happens on our thread).
                let result = AssertUnwindSafe(exchange)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        Err(Error::new(ErrorKind::Internal, "the request panicked"))
                    });
                metrics.record_response(Mode::Submit, &result);
                completion.complete(result);
            });
        })
    }

    fn limits(&self, request: &HttpRequest) -> Limits {
        Limits {
            timeout: request.timeout(),
            max_body_bytes: self.max_body_bytes,
        }
    }

    /// Routes `request` and decides its first attempt, for a host that
    /// sends it itself (see [`Decision`]).
    pub fn resolve(&self, request: &HttpRequest) -> Result<Decision, Error> {
        self.ensure_open()?;
        let snapshot = self.snapshots.load();
        let head = RequestHead::from_http(request.method(), request.uri(), request.headers());
        let result = mesh_core::decide::resolve(&snapshot, &head, Instant::now(), &mut ThreadRng)
            .map(|decision| Decision::new(decision, request));
        if let Err(e) = &result {
            self.metrics
                .record(Mode::Decide, None, Recorded::Error(e.kind()));
        }
        result
    }

    /// Reports how the attempt of `decision` went; returns the next
    /// attempt's decision, or `None` when `outcome` is the request's
    /// answer.
    pub fn report(&self, decision: Decision, outcome: &Outcome) -> Result<Option<Decision>, Error> {
        self.ensure_open()?;
        let cluster = Arc::clone(decision.cluster_name());
        let next = decision.report(outcome, Instant::now(), self.snapshots.telemetry());
        match &next {
            Ok(Some(_)) => self.metrics.record_retry(Mode::Decide, &cluster),
            Ok(None) => self
                .metrics
                .record(Mode::Decide, Some(&cluster), outcome.recorded()),
            Err(e) => self
                .metrics
                .record(Mode::Decide, Some(&cluster), Recorded::Error(e.kind())),
        }
        next
    }

    /// The configuration in force, as JSON: listeners, route tables and
    /// clusters with their endpoints and ejections, and for xDS the
    /// client's per-resource status (versions, NACKs, errors).
    pub fn config_dump(&self) -> Result<String, Error> {
        let xds = self.with_running(|running| running.xds.as_ref().map(|xds| xds.config_dump()))?;
        Ok(dump::config_dump(&self.snapshots.load(), xds).to_string())
    }

    /// The engine's metrics in the Prometheus text format.
    pub fn metrics_text(&self) -> Result<String, Error> {
        let xds = self.with_running(|running| running.xds.as_ref().map(|xds| xds.stats()))?;
        Ok(self.metrics.render(&self.snapshots, xds.as_ref()))
    }

    /// Closes the engine: calls in flight end with [`ErrorKind::Closed`],
    /// the xDS stream and every connection close, the runtime stops, and
    /// later calls fail with `Closed`. Closing again does nothing.
    pub fn close(&self) {
        if runtime::process_id() != self.pid {
            return;
        }
        self.shutdown.fire();
        let running = self
            .running
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(running) = running {
            drop(running.xds);
            running.requests.shut_down();
            runtime::shut_down(running.runtime);
        }
    }

    /// Whether [`Engine::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.shutdown.is_fired()
    }

    fn ensure_open(&self) -> Result<(), Error> {
        if runtime::process_id() != self.pid {
            return Err(runtime::forked());
        }
        if self.is_closed() {
            return Err(closed());
        }
        Ok(())
    }

    /// Runs `f` on the running state, read-locked meanwhile (so `close`
    /// waits for it); `Closed` once the engine is closed.
    fn with_running<T>(&self, f: impl FnOnce(&Running) -> T) -> Result<T, Error> {
        self.ensure_open()?;
        let running = self
            .running
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        running.as_ref().map(f).ok_or_else(closed)
    }

    /// The request of a blocking call, checked and ready to drive.
    fn blocking_exchange<'a>(
        &'a self,
        request: &HttpRequest,
        cancel: Option<&'a Cancel>,
    ) -> Result<impl Future<Output = Result<HttpResponse, Error>> + 'a, Error> {
        runtime::ensure_blocking_allowed("Engine::execute")?;
        request.check_body(self.max_body_bytes)?;
        Ok(exchange::run(
            &self.client,
            request.to_http(),
            self.limits(request),
            &self.shutdown,
            cancel,
        ))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if runtime::process_id() != self.pid {
            // A forked child: the runtime's threads are not here to join,
            // and dropping a connection would wake a task of a runtime
            // whose locks a parent's thread may have held at the fork. So
            // nothing is dropped: forgotten clones keep the clients'
            // shared state alive, the runtimes are forgotten.
            std::mem::forget(self.client.clone());
            std::mem::forget(self.async_client.clone());
            std::mem::forget(Arc::clone(&self.snapshots));
            let running = self
                .running
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            std::mem::forget(running);
            return;
        }
        self.close();
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the engine is closed")
}

/// The telemetry of an engine reporting as `source`, with the tracing,
/// access log and OTLP metrics push its options ask for (the exporting
/// tasks run on the engine's runtime and end with it).
fn telemetry(
    runtime: &Runtime,
    source: SourceLabels,
    options: &EngineOptions,
) -> Result<Arc<Telemetry>, Error> {
    check_telemetry(options)?;
    let service = source.workload.clone();
    let telemetry = Arc::new(with_tracing(
        runtime,
        source,
        options.tracing.as_ref(),
        options.access_log.as_ref(),
    )?);
    if let Some(export) = &options.otlp_metrics {
        let push = metrics_exporter(
            telemetry.clone(),
            OtlpMetricsOptions {
                endpoint: export.endpoint.clone(),
                service_name: service,
                interval: export.interval,
            },
        )?;
        runtime.spawn(push);
    }
    Ok(telemetry)
}

/// Refuses telemetry settings that cannot work: a share outside 0 to 1,
/// an empty queue, a zero interval (an export loop that never rests).
fn check_telemetry(options: &EngineOptions) -> Result<(), Error> {
    let invalid = |message: String| Err(Error::new(ErrorKind::InvalidArgument, message));
    if let Some(tracing) = &options.tracing {
        check_ratio("tracing.sampler.ratio", tracing.sampler.ratio)?;
        if tracing.queue_capacity == 0 {
            return invalid("tracing.queue_capacity must be at least 1".into());
        }
        if tracing.batch_delay.is_zero() {
            return invalid("tracing.batch_delay must not be zero".into());
        }
    }
    if let Some(log) = &options.access_log {
        check_ratio("access_log.sample_ratio", log.sample_ratio)?;
    }
    if let Some(export) = &options.otlp_metrics
        && export.interval.is_zero()
    {
        return invalid("otlp_metrics.interval must not be zero".into());
    }
    Ok(())
}

/// The telemetry's tracer and access log, as configured.
fn with_tracing(
    runtime: &Runtime,
    source: SourceLabels,
    tracing: Option<&TracingOptions>,
    access_log: Option<&AccessLogOptions>,
) -> Result<Telemetry, Error> {
    let mut telemetry = Telemetry::new(source.clone());
    if let Some(options) = access_log {
        let log = AccessLog::file(&options.path, options.sample_ratio).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("access_log.path {}: {e}", options.path.display()),
            )
        })?;
        telemetry = telemetry.with_access_log(log);
    }
    let Some(tracing) = tracing else {
        return Ok(telemetry);
    };
    let (tracer, queue) = Tracer::new(TracerConfig {
        sampler: tracing.sampler,
        propagation: tracing.propagation,
        queue_capacity: tracing.queue_capacity,
    });
    let service = tracing
        .service_name
        .clone()
        .unwrap_or_else(|| source.workload.clone());
    let mut otlp = OtlpOptions::new(&tracing.otlp_endpoint, service);
    otlp.batch_delay = tracing.batch_delay;
    let export = exporter(queue, otlp)?;
    runtime.spawn(export);
    Ok(telemetry.with_tracer(tracer))
}

/// Serves the metrics at `/metrics` on `address`, from the engine's
/// runtime (the task ends with it); returns the bound address.
fn serve(
    runtime: &Runtime,
    address: SocketAddr,
    metrics: &Arc<Metrics>,
    snapshots: &Arc<SnapshotHandle>,
    xds: Option<Weak<XdsClient>>,
) -> Result<SocketAddr, Error> {
    let listener = std::net::TcpListener::bind(address)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("metrics_address {address}: {e}"),
            )
        })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::new(ErrorKind::Internal, "metrics listener address").with_source(e))?;
    let (metrics, snapshots) = (metrics.clone(), snapshots.clone());
    let render = Arc::new(move || {
        let xds = xds.as_ref().and_then(Weak::upgrade).map(|xds| xds.stats());
        metrics.render(&snapshots, xds.as_ref())
    });
    let _entered = runtime.enter();
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| Error::new(ErrorKind::Internal, "metrics listener").with_source(e))?;
    runtime.spawn(serve_metrics(listener, render));
    Ok(bound)
}

/// Loads a static configuration, with a policy JSON over one host.
fn static_config(
    text: &str,
    format: ConfigFormat,
    policy: Option<&PolicySource>,
) -> Result<SnapshotHandle, Error> {
    let mut builder = match format {
        ConfigFormat::Auto => source::load(text)?,
        ConfigFormat::Envoy => source::envoy::load(text)?,
        ConfigFormat::Istio => source::istio::load(text)?,
    };
    if let Some(policy) = policy {
        source::policy::ServicePolicy::from_json(&policy.json)?
            .apply(&mut builder, &policy.host)?;
    }
    let config: MeshConfig = builder.build()?;
    Ok(SnapshotHandle::from_config(config))
}

/// Starts the xDS client on the engine's runtime.
fn start_xds(
    runtime: &Runtime,
    bootstrap: Option<&str>,
    targets: Vec<String>,
    telemetry: impl FnOnce(Option<SourceLabels>) -> Result<Arc<Telemetry>, Error>,
) -> Result<XdsClient, Error> {
    let invalid = |e: &dyn std::fmt::Display| {
        Error::new(ErrorKind::ConfigInvalid, format!("xDS bootstrap: {e}"))
    };
    let bootstrap = match bootstrap {
        Some(json) => Bootstrap::from_json(json),
        None => Bootstrap::from_env(),
    }
    .map_err(|e| invalid(&e))?;
    if targets.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "an xDS engine needs at least one target (host:port) to subscribe to",
        ));
    }
    let options = XdsClientOptions {
        xds: XdsOptions {
            targets,
            ..XdsOptions::default()
        },
        ..XdsClientOptions::default()
    };
    let source = SourceLabels::from_node_metadata(&bootstrap.node.metadata);
    let snapshots =
        SnapshotHandle::from_config(MeshConfig::default()).with_telemetry(telemetry(source)?);
    let _entered = runtime.enter();
    XdsClient::start_with(&bootstrap, options, Arc::new(snapshots)).map_err(|e| invalid(&e))
}
