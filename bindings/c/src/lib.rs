//! The mesh engine's C ABI: the one foreign interface every C-speaking
//! host (and Go, through cgo) links.
//!
//! Each function converts its arguments, calls one `mesh_engine`
//! function and converts the result: no routing, retry or defaulting
//! logic lives here. The conventions are rustls-ffi's: a `mesh_` prefix,
//! opaque handles with `_new`/`_free` pairs that accept NULL, a
//! [`mesh_result`] code from every fallible call with a [`mesh_error`]
//! (code and message) for whoever wants it, and a panic boundary on
//! every entry point. `include/mesh.h` is generated from this crate by
//! cbindgen and checked for drift by a test.
//!
//! Engines are shared between threads and their handles are ids, never
//! dereferenced, so a freed or foreign engine handle is an error rather
//! than a crash. The other handles (requests, responses, decisions, ...)
//! belong to the caller, one thread at a time.

mod admin;
mod boundary;
mod decide;
mod engine;
mod error;
mod registry;
mod request;
mod response;
mod telemetry;

pub use admin::*;
pub use decide::*;
pub use engine::*;
pub use error::*;
pub use request::*;
pub use response::*;
pub use telemetry::*;
