//! Version, config dump, metrics, and the byte buffers they come in.

use std::ffi::c_char;

use crate::boundary::{self, call, give};
use crate::error::{mesh_error, mesh_result};
use crate::registry::{self, mesh_engine};

/// The version of this ABI: 1. Also the cheapest call there is, which
/// benchmarks use to measure a foreign call's own cost.
#[unsafe(no_mangle)]
pub extern "C" fn mesh_abi_version() -> u32 {
    1
}

/// The library's version, NUL-terminated, static.
#[unsafe(no_mangle)]
pub extern "C" fn mesh_version() -> *const c_char {
    const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(version) => version,
        Err(_) => c"unknown",
    };
    VERSION.as_ptr()
}

/// Bytes the library hands out (a dump, metrics text).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct mesh_bytes {
    data: Vec<u8>,
}

/// The bytes, borrowed until `mesh_bytes_free`; NULL for NULL.
///
/// # Safety
/// `bytes` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_bytes_data(bytes: *const mesh_bytes) -> *const u8 {
    // SAFETY: the caller passes NULL or live bytes.
    unsafe { bytes.as_ref() }.map_or(std::ptr::null(), |b| b.data.as_ptr())
}

/// How many bytes; 0 for NULL.
///
/// # Safety
/// `bytes` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_bytes_len(bytes: *const mesh_bytes) -> usize {
    // SAFETY: the caller passes NULL or live bytes.
    unsafe { bytes.as_ref() }.map_or(0, |b| b.data.len())
}

/// Frees `bytes`. NULL is fine.
///
/// # Safety
/// `bytes` is NULL or live and not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_bytes_free(bytes: *mut mesh_bytes) {
    // SAFETY: forwarded from the caller.
    unsafe { boundary::free(bytes) }
}

/// The configuration in force, as JSON (listeners, route tables,
/// clusters with endpoints and ejections; xDS resource status).
///
/// # Safety
/// `json_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_engine_config_dump(
    engine: *const mesh_engine,
    json_out: *mut *mut mesh_bytes,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        boundary::require_out(json_out, "json_out")?;
        let data = registry::get(engine)?.config_dump()?.into_bytes();
        // SAFETY: forwarded from the caller.
        unsafe { give(json_out, mesh_bytes { data }, "json_out") }
    })
}

/// The engine's metrics, in the Prometheus text format.
///
/// # Safety
/// `text_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_engine_metrics(
    engine: *const mesh_engine,
    text_out: *mut *mut mesh_bytes,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        boundary::require_out(text_out, "text_out")?;
        let data = registry::get(engine)?.metrics_text()?.into_bytes();
        // SAFETY: forwarded from the caller.
        unsafe { give(text_out, mesh_bytes { data }, "text_out") }
    })
}
