//! Result codes and error objects.

use std::ffi::{CString, c_char};

use facade::ErrorKind;

/// The outcome of a call: `MESH_RESULT_OK`, or the kind of failure. Codes
/// never change meaning; new ones may be added.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mesh_result {
    /// Success.
    Ok = 0,
    /// No listener, virtual host or route matches the request.
    NoRoute = 1,
    /// The chosen cluster or subset has no usable endpoint.
    NoHealthyEndpoint = 2,
    /// Configuration was rejected (the message names resource and field).
    ConfigInvalid = 3,
    /// The request is malformed: method, URL (not absolute, not UTF-8),
    /// a header name or value (CR, LF, NUL).
    InvalidRequest = 4,
    /// A timeout elapsed: the call's, the route's or a try's.
    Timeout = 5,
    /// A circuit breaker or limit refused the request.
    Overloaded = 6,
    /// A local rate limit refused the request.
    RateLimited = 7,
    /// Connecting to or talking with the endpoint failed.
    Transport = 8,
    /// The engine is closed or freed, or was built in another process
    /// (before `fork`).
    Closed = 9,
    /// A bug, or a panic caught at the boundary.
    Internal = 10,
    /// The call's `mesh_cancel` fired.
    Cancelled = 11,
    /// A request or response body is over the engine's `max_body_bytes`.
    BodyTooLarge = 12,
    /// The API was misused: NULL where a pointer is needed, an unknown
    /// handle, text that is not UTF-8, a value out of range.
    InvalidArgument = 13,
}

impl From<ErrorKind> for mesh_result {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NoRoute => Self::NoRoute,
            ErrorKind::NoHealthyEndpoint => Self::NoHealthyEndpoint,
            ErrorKind::ConfigInvalid => Self::ConfigInvalid,
            ErrorKind::InvalidRequest => Self::InvalidRequest,
            ErrorKind::Timeout => Self::Timeout,
            ErrorKind::Overloaded => Self::Overloaded,
            ErrorKind::RateLimited => Self::RateLimited,
            ErrorKind::Transport => Self::Transport,
            ErrorKind::Closed => Self::Closed,
            ErrorKind::Cancelled => Self::Cancelled,
            ErrorKind::BodyTooLarge => Self::BodyTooLarge,
            ErrorKind::InvalidArgument => Self::InvalidArgument,
            _ => Self::Internal,
        }
    }
}

/// A failure: its code and a message for people.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct mesh_error {
    pub(crate) code: mesh_result,
    pub(crate) message: CString,
}

/// The stable name of a result code (`"ok"`, `"no_route"`, ...;
/// `"unknown"` for a code this library does not know). Static: never
/// free it.
#[unsafe(no_mangle)]
pub extern "C" fn mesh_result_name(code: u32) -> *const c_char {
    let name: &'static std::ffi::CStr = match code {
        0 => c"ok",
        1 => c"no_route",
        2 => c"no_healthy_endpoint",
        3 => c"config_invalid",
        4 => c"invalid_request",
        5 => c"timeout",
        6 => c"overloaded",
        7 => c"rate_limited",
        8 => c"transport",
        9 => c"closed",
        10 => c"internal",
        11 => c"cancelled",
        12 => c"body_too_large",
        13 => c"invalid_argument",
        _ => c"unknown",
    };
    name.as_ptr()
}

/// The code of `error`; `MESH_RESULT_INVALID_ARGUMENT` for NULL.
///
/// # Safety
/// `error` is NULL or came from this library and was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_error_code(error: *const mesh_error) -> mesh_result {
    // SAFETY: the caller passes NULL or a live error.
    match unsafe { error.as_ref() } {
        Some(error) => error.code,
        None => mesh_result::InvalidArgument,
    }
}

/// The message of `error`, NUL-terminated, borrowed until
/// `mesh_error_free`; `""` for NULL.
///
/// # Safety
/// `error` is NULL or came from this library and was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_error_message(error: *const mesh_error) -> *const c_char {
    // SAFETY: the caller passes NULL or a live error.
    match unsafe { error.as_ref() } {
        Some(error) => error.message.as_ptr(),
        None => c"".as_ptr(),
    }
}

/// Frees `error`. NULL is fine.
///
/// # Safety
/// `error` is NULL or came from this library and was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_error_free(error: *mut mesh_error) {
    if !error.is_null() {
        // SAFETY: a live error, allocated by `Box` in `boundary::fail`.
        drop(unsafe { Box::from_raw(error) });
    }
}
