//! mesh-engine: the facade every language binding calls.
//!
//! The C ABI (and through it Go), the Python wheel and the JNI library are
//! thin translations of this crate's API, so every language gets the same
//! routing, retries, breakers and metrics, decided once in `mesh-core`
//! and sent once by `mesh-tower`:
//!
//! - an [`Engine`] owns one multi-thread tokio runtime (threads
//!   configurable, explicit [`Engine::close`], aware of `fork`: a child
//!   process gets a [`ErrorKind::Closed`] error, never a deadlock) and its
//!   configuration, static ([`ConfigSource::Static`],
//!   [`ConfigSource::StaticFile`]) or live over xDS
//!   ([`ConfigSource::Xds`]);
//! - **execute**: [`Engine::execute`] sends one buffered [`HttpRequest`]
//!   through the whole mesh path and waits for its [`HttpResponse`],
//!   from any thread, cancellable through a [`Cancel`];
//!   [`Engine::submit`] starts one without blocking and answers through a
//!   callback, for hosts with an event loop (asyncio);
//! - **decide**: [`Engine::resolve`] and [`Engine::report`] give the
//!   mesh's decisions to hosts that send requests themselves;
//! - [`Engine::config_dump`] and [`Engine::metrics_text`] (Prometheus).
//!
//! Bindings validate nothing themselves: [`HttpRequest`] takes raw bytes
//! and names the part that is wrong, with one stable [`ErrorKind`] per
//! failure.
//!
//! A binding hands a request to the engine and waits once, and the
//! calling thread does the request's work itself: requests run on a
//! runtime their callers drive (see `driver`), so a request crosses no
//! thread the caller does not, while the xDS client runs on the engine's
//! multi-thread runtime.

mod cancel;
mod decide;
mod driver;
mod dump;
mod engine;
mod exchange;
mod metrics;
mod options;
mod request;
mod response;
mod runtime;
mod submit;

pub use cancel::Cancel;
pub use decide::{Decision, Failure, Outcome};
pub use engine::Engine;
pub use options::{
    AccessLogOptions, ConfigFormat, ConfigSource, EngineOptions, OtlpMetricsExport, PolicySource,
    TracingOptions, check_ratio,
};
pub use request::HttpRequest;
pub use response::HttpResponse;

pub use mesh_core::telemetry::SourceLabels;
pub use mesh_core::telemetry::trace::{Propagation, Sampler};
pub use mesh_core::{Error, ErrorKind};
