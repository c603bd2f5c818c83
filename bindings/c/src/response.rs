//! Responses of execute: status, headers by index, body.

use facade::HttpResponse;

use crate::boundary::{self, call, handle, lend, lend_header};
use crate::error::{mesh_error, mesh_result};

/// A whole response; its bytes are borrowed by the accessors until
/// `mesh_response_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct mesh_response {
    inner: HttpResponse,
}

impl mesh_response {
    pub(crate) fn new(inner: HttpResponse) -> Self {
        Self { inner }
    }
}

/// The status; 0 for NULL.
///
/// # Safety
/// `response` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_response_status(response: *const mesh_response) -> u16 {
    // SAFETY: the caller passes NULL or a live response.
    unsafe { response.as_ref() }.map_or(0, |r| r.inner.status.as_u16())
}

/// How many headers the response has (a repeated name counts each
/// value); 0 for NULL.
///
/// # Safety
/// `response` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_response_header_count(response: *const mesh_response) -> usize {
    // SAFETY: the caller passes NULL or a live response.
    unsafe { response.as_ref() }.map_or(0, |r| r.inner.headers.len())
}

/// The header at `index` (in arrival order): its lower-case name and its
/// value, borrowed until `mesh_response_free`. An index out of range
/// gives `MESH_RESULT_INVALID_ARGUMENT`.
///
/// # Safety
/// `response` is NULL or live; each out-pointer is NULL or writable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_response_header(
    response: *const mesh_response,
    index: usize,
    name: *mut *const u8,
    name_len: *mut usize,
    value: *mut *const u8,
    value_len: *mut usize,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let response = unsafe { handle(response, "response") }?;
        // SAFETY: forwarded from the caller.
        unsafe {
            lend_header(
                &response.inner.headers,
                index,
                (name, name_len),
                (value, value_len),
            )
        }
    })
}

/// The body, borrowed until `mesh_response_free` (an empty body: a
/// non-NULL pointer and 0). Sets NULL and 0 for a NULL response.
///
/// # Safety
/// `response` is NULL or live; each out-pointer is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_response_body(
    response: *const mesh_response,
    body: *mut *const u8,
    body_len: *mut usize,
) {
    // SAFETY: the caller passes NULL or a live response.
    let bytes: &[u8] = unsafe { response.as_ref() }.map_or(&[], |r| &r.inner.body);
    // SAFETY: forwarded from the caller.
    unsafe { lend(bytes, body, body_len) };
    if response.is_null() && !body.is_null() {
        // SAFETY: writable by contract.
        unsafe { body.write(std::ptr::null()) };
    }
}

/// The engine's span of the request as a W3C `traceparent`, borrowed
/// until `mesh_response_free`, when the request was traced (its caller's
/// trace continues from it); NULL and 0 otherwise.
///
/// # Safety
/// `response` is NULL or live; each out-pointer is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_response_traceparent(
    response: *const mesh_response,
    traceparent: *mut *const u8,
    traceparent_len: *mut usize,
) {
    // SAFETY: the caller passes NULL or a live response.
    let value = unsafe { response.as_ref() }.and_then(|r| r.inner.traceparent.as_ref());
    match value {
        // SAFETY: forwarded from the caller.
        Some(value) => unsafe { lend(value.as_bytes(), traceparent, traceparent_len) },
        None => {
            if !traceparent.is_null() {
                // SAFETY: writable by contract.
                unsafe { traceparent.write(std::ptr::null()) };
            }
            if !traceparent_len.is_null() {
                // SAFETY: writable by contract.
                unsafe { traceparent_len.write(0) };
            }
        }
    }
}

/// Frees `response`. NULL is fine.
///
/// # Safety
/// `response` is NULL or live and not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_response_free(response: *mut mesh_response) {
    // SAFETY: forwarded from the caller.
    unsafe { boundary::free(response) }
}
