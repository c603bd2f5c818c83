//! Requests, cancellation and execute.

use std::time::Duration;

use bytes::Bytes;
use facade::{Cancel, HttpRequest};

use crate::boundary::{self, bytes, call, give, handle, handle_mut};
use crate::error::{mesh_error, mesh_result};
use crate::registry::{self, mesh_engine};
use crate::response::mesh_response;

/// A request under construction; `mesh_engine_execute` and
/// `mesh_engine_resolve` borrow it, the caller frees it.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct mesh_request {
    pub(crate) inner: HttpRequest,
}

/// A new request. `url` is absolute (`http://order-service/orders/1`):
/// the mesh routes by its authority. A bad method or URL gives
/// `MESH_RESULT_INVALID_REQUEST` with the part named.
///
/// # Safety
/// Each `(ptr, len)` is readable; `request_out` is writable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_request_new(
    method: *const u8,
    method_len: usize,
    url: *const u8,
    url_len: usize,
    request_out: *mut *mut mesh_request,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let method = unsafe { bytes(method, method_len, "method") }?;
        // SAFETY: forwarded from the caller.
        let url = unsafe { bytes(url, url_len, "url") }?;
        let inner = HttpRequest::new(method, url)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(request_out, mesh_request { inner }, "request_out") }
    })
}

/// Adds a header (a repeated name adds a value). A name that is not a
/// header name, or a value with CR, LF or NUL, gives
/// `MESH_RESULT_INVALID_REQUEST`.
///
/// # Safety
/// `request` is NULL or live; each `(ptr, len)` is readable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_request_add_header(
    request: *mut mesh_request,
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let request = unsafe { handle_mut(request, "request") }?;
        // SAFETY: forwarded from the caller.
        let name = unsafe { bytes(name, name_len, "header name") }?;
        // SAFETY: forwarded from the caller.
        let value = unsafe { bytes(value, value_len, "header value") }?;
        request.inner.add_header(name, value)
    })
}

/// Sets the body (copied). One over the engine's `max_body_bytes` is
/// refused when the request is sent (`MESH_RESULT_BODY_TOO_LARGE`).
///
/// # Safety
/// `request` is NULL or live; `(body, body_len)` is readable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_request_set_body(
    request: *mut mesh_request,
    body: *const u8,
    body_len: usize,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let request = unsafe { handle_mut(request, "request") }?;
        // SAFETY: forwarded from the caller.
        let body = unsafe { bytes(body, body_len, "body") }?;
        request.inner.set_body(Bytes::copy_from_slice(body));
        Ok(())
    })
}

/// Bounds the whole call, every attempt and the response body included
/// (`MESH_RESULT_TIMEOUT` past it); 0 removes the bound.
///
/// # Safety
/// `request` is NULL or live; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_request_set_timeout_ms(
    request: *mut mesh_request,
    ms: u64,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let request = unsafe { handle_mut(request, "request") }?;
        request
            .inner
            .set_timeout((ms > 0).then(|| Duration::from_millis(ms)));
        Ok(())
    })
}

/// Frees `request`. NULL is fine.
///
/// # Safety
/// `request` is NULL or live and not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_request_free(request: *mut mesh_request) {
    // SAFETY: forwarded from the caller.
    unsafe { boundary::free(request) }
}

/// A cancellation signal for one or more calls; fire it from any thread.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct mesh_cancel {
    inner: Cancel,
}

/// A new, unfired signal.
#[unsafe(no_mangle)]
pub extern "C" fn mesh_cancel_new() -> *mut mesh_cancel {
    boundary::read(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(mesh_cancel {
            inner: Cancel::new(),
        }))
    })
}

/// Fires `cancel`: calls waiting on it end with `MESH_RESULT_CANCELLED`.
/// Safe from any thread, any number of times; NULL is ignored.
///
/// # Safety
/// `cancel` is NULL or live (not freed while this runs).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_cancel_fire(cancel: *const mesh_cancel) {
    // SAFETY: the caller passes NULL or a live signal.
    if let Some(cancel) = unsafe { cancel.as_ref() } {
        boundary::read((), || cancel.inner.fire());
    }
}

/// Frees `cancel`, once no call uses it and no thread fires it. NULL is
/// fine.
///
/// # Safety
/// `cancel` is NULL or live and not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_cancel_free(cancel: *mut mesh_cancel) {
    // SAFETY: forwarded from the caller.
    unsafe { boundary::free(cancel) }
}

/// Sends `request` through the mesh and blocks the calling thread until
/// the whole response or an error. `cancel` may be NULL. On success
/// `*response_out` is a response to free with `mesh_response_free`.
///
/// # Safety
/// `request` and `cancel` are NULL or live for the call;
/// `response_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_engine_execute(
    engine: *const mesh_engine,
    request: *const mesh_request,
    cancel: *const mesh_cancel,
    response_out: *mut *mut mesh_response,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        let engine = registry::get(engine)?;
        // SAFETY: forwarded from the caller.
        let request = unsafe { handle(request, "request") }?;
        // SAFETY: the caller passes NULL or a live signal.
        let cancel = unsafe { cancel.as_ref() }.map(|c| &c.inner);
        boundary::require_out(response_out, "response_out")?;
        let response = engine.execute(&request.inner, cancel)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(response_out, mesh_response::new(response), "response_out") }
    })
}
