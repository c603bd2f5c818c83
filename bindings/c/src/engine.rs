//! Options and engines: building, closing, freeing.

use std::path::PathBuf;
use std::time::Duration;

use facade::{ConfigFormat, ConfigSource, Engine, EngineOptions, Error, PolicySource};

use crate::boundary::{self, bytes, call, handle_mut, invalid_argument, text};
use crate::error::{mesh_error, mesh_result};
use crate::registry;
pub use crate::registry::mesh_engine;

/// The format of a static configuration (pass it as a `uint32_t`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mesh_format {
    /// Envoy v3 resources or Istio YAML, told apart by their keys.
    Auto = 0,
    /// Envoy v3 resources, JSON or YAML.
    Envoy = 1,
    /// Istio VirtualService / DestinationRule / ServiceEntry YAML.
    Istio = 2,
}

fn format_of(format: u32) -> Result<ConfigFormat, Error> {
    match format {
        0 => Ok(ConfigFormat::Auto),
        1 => Ok(ConfigFormat::Envoy),
        2 => Ok(ConfigFormat::Istio),
        other => Err(invalid_argument(format!(
            "format {other} is not a mesh_format"
        ))),
    }
}

/// Settings for a new engine; all optional.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct mesh_options {
    pub(crate) engine: EngineOptions,
    targets: Vec<String>,
    ready_timeout: Duration,
}

impl Default for mesh_options {
    fn default() -> Self {
        Self {
            engine: EngineOptions::default(),
            targets: Vec::new(),
            ready_timeout: Duration::from_secs(5),
        }
    }
}

/// New options with every default: 1 worker thread, 16 MiB bodies, a
/// 5 s wait for the first xDS configuration. Free with
/// `mesh_options_free` (an engine does not keep them).
#[unsafe(no_mangle)]
pub extern "C" fn mesh_options_new() -> *mut mesh_options {
    boundary::read(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(mesh_options::default()))
    })
}

/// Frees `options`. NULL is fine.
///
/// # Safety
/// `options` is NULL or came from `mesh_options_new` and was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_options_free(options: *mut mesh_options) {
    // SAFETY: forwarded from the caller.
    unsafe { boundary::free(options) }
}

/// Worker threads of the engine's runtime, which runs the xDS client
/// (requests run on their callers' threads); 0 means the default (1).
///
/// # Safety
/// `options` is NULL or live; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_options_set_worker_threads(
    options: *mut mesh_options,
    threads: u32,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let options = unsafe { handle_mut(options, "options") }?;
        options.engine.worker_threads = match threads {
            0 => EngineOptions::DEFAULT_WORKER_THREADS,
            n => n as usize,
        };
        Ok(())
    })
}

/// The largest request or response body the engine buffers (default
/// 16 MiB; at least 1).
///
/// # Safety
/// `options` is NULL or live; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_options_set_max_body_bytes(
    options: *mut mesh_options,
    bytes: u64,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let options = unsafe { handle_mut(options, "options") }?;
        if bytes == 0 {
            return Err(invalid_argument("max_body_bytes must be at least 1"));
        }
        options.engine.max_body_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        Ok(())
    })
}

/// The policy JSON (timeout, retries, backoff, ...) over every route of
/// `host`, for a static configuration.
///
/// # Safety
/// `options` is NULL or live; each `(ptr, len)` is readable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_options_set_policy_json(
    options: *mut mesh_options,
    json: *const u8,
    json_len: usize,
    host: *const u8,
    host_len: usize,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let options = unsafe { handle_mut(options, "options") }?;
        // SAFETY: forwarded from the caller.
        let json = unsafe { text(json, json_len, "policy JSON") }?;
        // SAFETY: forwarded from the caller.
        let host = unsafe { text(host, host_len, "host") }?;
        options.engine.policy = Some(PolicySource {
            json: json.to_owned(),
            host: host.to_owned(),
        });
        Ok(())
    })
}

/// Adds an xDS target, `host:port` (an API listener to subscribe to).
///
/// # Safety
/// `options` is NULL or live; `(target, target_len)` is readable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_options_add_target(
    options: *mut mesh_options,
    target: *const u8,
    target_len: usize,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let options = unsafe { handle_mut(options, "options") }?;
        // SAFETY: forwarded from the caller.
        let target = unsafe { text(target, target_len, "target") }?;
        options.targets.push(target.to_owned());
        Ok(())
    })
}

/// How long `mesh_engine_new_xds` waits for a first complete
/// configuration (default 5000 ms; 0: not at all).
///
/// # Safety
/// `options` is NULL or live; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_options_set_ready_timeout_ms(
    options: *mut mesh_options,
    ms: u64,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let options = unsafe { handle_mut(options, "options") }?;
        options.ready_timeout = Duration::from_millis(ms);
        Ok(())
    })
}

/// The options at `options`, or the defaults for NULL.
///
/// # Safety
/// `options` is NULL or live.
unsafe fn options_or_default(
    options: *const mesh_options,
) -> (EngineOptions, Vec<String>, Duration) {
    // SAFETY: forwarded from the caller.
    match unsafe { options.as_ref() } {
        Some(o) => (o.engine.clone(), o.targets.clone(), o.ready_timeout),
        None => {
            let o = mesh_options::default();
            (o.engine, o.targets, o.ready_timeout)
        }
    }
}

fn start(
    source: ConfigSource,
    options: EngineOptions,
    engine_out: *mut *mut mesh_engine,
) -> Result<(), Error> {
    boundary::require_out(engine_out, "engine_out")?;
    let engine = Engine::new(source, options)?;
    // SAFETY: checked non-NULL above; writable by contract.
    unsafe { engine_out.write(registry::insert(engine)) };
    Ok(())
}

/// Builds an engine from a static configuration held in memory
/// (`format`: a `mesh_format`). `options` may be NULL.
///
/// # Safety
/// `options` is NULL or live; `(config, config_len)` is readable;
/// `engine_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_engine_new_static(
    options: *const mesh_options,
    format: u32,
    config: *const u8,
    config_len: usize,
    engine_out: *mut *mut mesh_engine,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        let format = format_of(format)?;
        // SAFETY: forwarded from the caller.
        let text = unsafe { text(config, config_len, "config") }?.to_owned();
        // SAFETY: forwarded from the caller.
        let (options, _, _) = unsafe { options_or_default(options) };
        start(ConfigSource::Static { text, format }, options, engine_out)
    })
}

/// Builds an engine from a static configuration file.
///
/// # Safety
/// As for `mesh_engine_new_static`, with `(path, path_len)` readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_engine_new_static_file(
    options: *const mesh_options,
    format: u32,
    path: *const u8,
    path_len: usize,
    engine_out: *mut *mut mesh_engine,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        let format = format_of(format)?;
        // SAFETY: forwarded from the caller.
        let path = PathBuf::from(unsafe { text(path, path_len, "path") }?);
        // SAFETY: forwarded from the caller.
        let (options, _, _) = unsafe { options_or_default(options) };
        start(
            ConfigSource::StaticFile { path, format },
            options,
            engine_out,
        )
    })
}

/// Builds an engine fed by a control plane over xDS. `bootstrap_json`
/// NULL (length 0) reads `GRPC_XDS_BOOTSTRAP` / `GRPC_XDS_BOOTSTRAP_CONFIG`;
/// the targets come from `mesh_options_add_target`.
///
/// # Safety
/// As for `mesh_engine_new_static`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_engine_new_xds(
    options: *const mesh_options,
    bootstrap_json: *const u8,
    bootstrap_len: usize,
    engine_out: *mut *mut mesh_engine,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let bootstrap = unsafe { bytes(bootstrap_json, bootstrap_len, "bootstrap") }?;
        let bootstrap = match bootstrap {
            [] => None,
            some => Some(
                std::str::from_utf8(some)
                    .map_err(|_| invalid_argument("bootstrap is not valid UTF-8"))?
                    .to_owned(),
            ),
        };
        // SAFETY: forwarded from the caller.
        let (options, targets, ready_timeout) = unsafe { options_or_default(options) };
        let source = ConfigSource::Xds {
            bootstrap,
            targets,
            ready_timeout,
        };
        start(source, options, engine_out)
    })
}

/// Closes `engine`: calls in flight end with `MESH_RESULT_CLOSED`, its
/// connections and xDS stream close, later calls fail with `CLOSED`. The
/// handle stays valid for `mesh_engine_free`. Closing twice is fine.
///
/// # Safety
/// `error_out` is NULL or writable (`engine` may be anything).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_engine_close(
    engine: *const mesh_engine,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        registry::get(engine)?.close();
        Ok(())
    })
}

/// Closes (if open) and frees `engine`. NULL is fine (`OK`); a handle
/// already freed, or not from this library, gives `INVALID_ARGUMENT`.
/// Calls other threads make with it afterwards fail with `CLOSED`.
#[unsafe(no_mangle)]
pub extern "C" fn mesh_engine_free(engine: *mut mesh_engine) -> mesh_result {
    if engine.is_null() {
        return mesh_result::Ok;
    }
    call(std::ptr::null_mut(), || match registry::remove(engine) {
        Some(engine) => {
            engine.close();
            Ok(())
        }
        None => Err(invalid_argument(
            "the engine handle was already freed (or never came from mesh_engine_new_*)",
        )),
    })
}
