//! Telemetry options: who the workload is, where metrics are served,
//! where spans and access-log lines go.

use std::path::PathBuf;

use facade::{AccessLogOptions, Sampler, SourceLabels, TracingOptions, check_ratio};

use crate::boundary::{call, handle_mut, invalid_argument, text};
use crate::engine::mesh_options;
use crate::error::{mesh_error, mesh_result};

/// The workload this engine runs in, for the `source_*` labels of
/// Istio's metrics: its name and namespace (pod labels: use the xDS
/// bootstrap's node metadata).
///
/// # Safety
/// `options` is NULL or live; each `(ptr, len)` is readable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_options_set_workload(
    options: *mut mesh_options,
    name: *const u8,
    name_len: usize,
    namespace: *const u8,
    namespace_len: usize,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let options = unsafe { handle_mut(options, "options") }?;
        // SAFETY: forwarded from the caller.
        let name = unsafe { text(name, name_len, "workload name") }?;
        // SAFETY: forwarded from the caller.
        let namespace = unsafe { text(namespace, namespace_len, "namespace") }?;
        let source = SourceLabels::from_workload(name, namespace, &Default::default());
        options.engine.workload = Some(source);
        Ok(())
    })
}

/// Serves the metrics at `/metrics` on `address` (`ip:port`). Give a
/// fixed port: no call reads back the one port 0 would pick.
///
/// # Safety
/// `options` is NULL or live; `(address, address_len)` is readable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_options_set_metrics_address(
    options: *mut mesh_options,
    address: *const u8,
    address_len: usize,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let options = unsafe { handle_mut(options, "options") }?;
        // SAFETY: forwarded from the caller.
        let address = unsafe { text(address, address_len, "metrics address") }?;
        let parsed = address
            .parse()
            .map_err(|_| invalid_argument(format!("metrics address {address:?} is not ip:port")))?;
        options.engine.metrics_address = Some(parsed);
        Ok(())
    })
}

/// Traces requests and exports the spans over OTLP/gRPC to
/// `otlp_endpoint` (`http://host:4317`). A request with a `traceparent`
/// follows its caller's decision; others are sampled at `sample_ratio`
/// (0 to 1).
///
/// # Safety
/// `options` is NULL or live; `(otlp_endpoint, len)` is readable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_options_set_tracing(
    options: *mut mesh_options,
    otlp_endpoint: *const u8,
    otlp_endpoint_len: usize,
    sample_ratio: f64,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let options = unsafe { handle_mut(options, "options") }?;
        // SAFETY: forwarded from the caller.
        let endpoint = unsafe { text(otlp_endpoint, otlp_endpoint_len, "OTLP endpoint") }?;
        let mut tracing = TracingOptions::new(endpoint);
        tracing.sampler = Sampler {
            ratio: check_ratio("sample_ratio", sample_ratio)?,
            parent_based: true,
        };
        options.engine.tracing = Some(tracing);
        Ok(())
    })
}

/// Appends one JSON line per request (a share `sample_ratio` of them) to
/// the file at `path`.
///
/// # Safety
/// `options` is NULL or live; `(path, path_len)` is readable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_options_set_access_log(
    options: *mut mesh_options,
    path: *const u8,
    path_len: usize,
    sample_ratio: f64,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let options = unsafe { handle_mut(options, "options") }?;
        // SAFETY: forwarded from the caller.
        let path = unsafe { text(path, path_len, "access log path") }?;
        options.engine.access_log = Some(AccessLogOptions {
            path: PathBuf::from(path),
            sample_ratio: check_ratio("sample_ratio", sample_ratio)?,
        });
        Ok(())
    })
}
