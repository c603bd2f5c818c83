//! The decide mode: decisions for hosts that send requests themselves,
//! and the outcomes they report.

use facade::{Decision, Failure, Outcome};
use http::HeaderMap;

use crate::boundary::{
    self, bytes, call, give, handle, handle_mut, invalid_argument, lend, lend_header,
};
use crate::error::{mesh_error, mesh_result};
use crate::registry::{self, mesh_engine};
use crate::request::mesh_request;

/// How an attempt failed without a response (pass it as a `uint32_t`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mesh_failure {
    /// A response arrived: its status and headers say the rest.
    None = 0,
    /// No connection could be made.
    Connect = 1,
    /// The connection or stream was reset after the request went out.
    Reset = 2,
    /// The attempt's timeout passed without a response.
    Timeout = 3,
    /// HTTP/2 REFUSED_STREAM: the server did not process the request.
    RefusedStream = 4,
}

/// Where and how to send one attempt; see `mesh_engine_resolve`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct mesh_decision {
    inner: Decision,
}

/// Routes `request` and decides its first attempt: connect to
/// `mesh_decision_endpoint`, send with `mesh_decision_authority` as the
/// Host and the decision's headers set, wait `mesh_decision_delay_ms`
/// first and at most `mesh_decision_timeout_ms`, then
/// `mesh_engine_report` the outcome.
///
/// # Safety
/// `request` is NULL or live; `decision_out` is writable; `error_out`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_engine_resolve(
    engine: *const mesh_engine,
    request: *const mesh_request,
    decision_out: *mut *mut mesh_decision,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        let engine = registry::get(engine)?;
        // SAFETY: forwarded from the caller.
        let request = unsafe { handle(request, "request") }?;
        boundary::require_out(decision_out, "decision_out")?;
        let inner = engine.resolve(&request.inner)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(decision_out, mesh_decision { inner }, "decision_out") }
    })
}

/// Lends one of the decision's strings.
///
/// # Safety
/// `decision` is NULL or live; each out-pointer is NULL or writable.
unsafe fn lend_text(
    decision: *const mesh_decision,
    pick: fn(&Decision) -> &str,
    ptr: *mut *const u8,
    len: *mut usize,
) {
    // SAFETY: the caller passes NULL or a live decision.
    let text = unsafe { decision.as_ref() }.map_or("", |d| pick(&d.inner));
    // SAFETY: forwarded from the caller.
    unsafe { lend(text.as_bytes(), ptr, len) };
}

/// The endpoint to connect to, `host:port`, borrowed until the decision
/// is freed or reported ("" for NULL).
///
/// # Safety
/// `decision` is NULL or live; each out-pointer is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_decision_endpoint(
    decision: *const mesh_decision,
    ptr: *mut *const u8,
    len: *mut usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { lend_text(decision, Decision::endpoint, ptr, len) }
}

/// The authority to send as `Host` / `:authority` (the logical service),
/// borrowed like the endpoint.
///
/// # Safety
/// `decision` is NULL or live; each out-pointer is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_decision_authority(
    decision: *const mesh_decision,
    ptr: *mut *const u8,
    len: *mut usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { lend_text(decision, Decision::authority, ptr, len) }
}

/// The cluster the request was routed to, borrowed like the endpoint.
///
/// # Safety
/// `decision` is NULL or live; each out-pointer is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_decision_cluster(
    decision: *const mesh_decision,
    ptr: *mut *const u8,
    len: *mut usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { lend_text(decision, Decision::cluster, ptr, len) }
}

/// This attempt's timeout in milliseconds; 0 means none.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_decision_timeout_ms(decision: *const mesh_decision) -> u64 {
    // SAFETY: the caller passes NULL or a live decision.
    unsafe { decision.as_ref() }
        .and_then(|d| d.inner.timeout())
        .map_or(0, |t| {
            u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)
        })
}

/// How long to wait before sending this attempt, in milliseconds.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_decision_delay_ms(decision: *const mesh_decision) -> u64 {
    // SAFETY: the caller passes NULL or a live decision.
    unsafe { decision.as_ref() }.map_or(0, |d| {
        u64::try_from(d.inner.delay().as_millis()).unwrap_or(u64::MAX)
    })
}

/// This attempt's number, 1 for the first; 0 for NULL.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_decision_attempt(decision: *const mesh_decision) -> u32 {
    // SAFETY: the caller passes NULL or a live decision.
    unsafe { decision.as_ref() }.map_or(0, |d| d.inner.attempt())
}

/// The most attempts the route allows (1 + its retries); 0 for NULL.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_decision_max_attempts(decision: *const mesh_decision) -> u32 {
    // SAFETY: the caller passes NULL or a live decision.
    unsafe { decision.as_ref() }.map_or(0, |d| d.inner.max_attempts())
}

/// How many headers to set on this attempt's request.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_decision_header_count(decision: *const mesh_decision) -> usize {
    // SAFETY: the caller passes NULL or a live decision.
    unsafe { decision.as_ref() }.map_or(0, |d| d.inner.headers().len())
}

/// The header to set at `index`, borrowed until the decision is freed
/// or reported. An index out of range gives `INVALID_ARGUMENT`.
///
/// # Safety
/// `decision` is NULL or live; each out-pointer is NULL or writable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_decision_header(
    decision: *const mesh_decision,
    index: usize,
    name: *mut *const u8,
    name_len: *mut usize,
    value: *mut *const u8,
    value_len: *mut usize,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let decision = unsafe { handle(decision, "decision") }?;
        // SAFETY: forwarded from the caller.
        unsafe {
            lend_header(
                decision.inner.headers(),
                index,
                (name, name_len),
                (value, value_len),
            )
        }
    })
}

/// Frees a decision that will not be reported: the request is abandoned
/// (its endpoint and permits are released, nothing is recorded). NULL is
/// fine.
///
/// # Safety
/// `decision` is NULL or live and not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_decision_free(decision: *mut mesh_decision) {
    // SAFETY: forwarded from the caller.
    unsafe { boundary::free(decision) }
}

/// How an attempt went, for `mesh_engine_report`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct mesh_outcome {
    status: u16,
    failure: u32,
    headers: HeaderMap,
}

/// A new outcome: a response's `status` with `failure` = `MESH_FAILURE_NONE`
/// (add its headers with `mesh_outcome_add_header`), or a `failure` (a
/// `mesh_failure`) with status 0. Checked when reported.
#[unsafe(no_mangle)]
pub extern "C" fn mesh_outcome_new(status: u16, failure: u32) -> *mut mesh_outcome {
    boundary::read(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(mesh_outcome {
            status,
            failure,
            headers: HeaderMap::new(),
        }))
    })
}

/// Adds a response header (`grpc-status`, `retry-after`,
/// `grpc-retry-pushback-ms`, `x-envoy-overloaded` are what retries read).
///
/// # Safety
/// `outcome` is NULL or live; each `(ptr, len)` is readable;
/// `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_outcome_add_header(
    outcome: *mut mesh_outcome,
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    call(error_out, || {
        // SAFETY: forwarded from the caller.
        let outcome = unsafe { handle_mut(outcome, "outcome") }?;
        // SAFETY: forwarded from the caller.
        let name = unsafe { bytes(name, name_len, "header name") }?;
        // SAFETY: forwarded from the caller.
        let value = unsafe { bytes(value, value_len, "header value") }?;
        let (name, value) = Outcome::header(name, value)?;
        outcome.headers.append(name, value);
        Ok(())
    })
}

/// Frees `outcome`. NULL is fine.
///
/// # Safety
/// `outcome` is NULL or live and not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_outcome_free(outcome: *mut mesh_outcome) {
    // SAFETY: forwarded from the caller.
    unsafe { boundary::free(outcome) }
}

fn to_outcome(outcome: &mesh_outcome) -> Result<Outcome, facade::Error> {
    if outcome.failure != 0 && outcome.status != 0 {
        return Err(invalid_argument(format!(
            "an outcome is a status or a failure: status {} with failure {}",
            outcome.status, outcome.failure
        )));
    }
    let failure = match outcome.failure {
        0 => return Outcome::response(outcome.status, outcome.headers.clone()),
        1 => Failure::Connect,
        2 => Failure::Reset,
        3 => Failure::Timeout,
        4 => Failure::RefusedStream,
        other => {
            return Err(invalid_argument(format!(
                "failure {other} is not a mesh_failure"
            )));
        }
    };
    Ok(Outcome::Failure(failure))
}

/// Reports how the attempt of `decision` went. Always takes `decision`
/// (do not use or free it afterwards, even on error). On success
/// `*next_out` is the next attempt's decision, or NULL when the request
/// is done (the reported outcome is its answer).
///
/// # Safety
/// `decision` is NULL or live; `outcome` is NULL or live; `next_out` is
/// writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mesh_engine_report(
    engine: *const mesh_engine,
    decision: *mut mesh_decision,
    outcome: *const mesh_outcome,
    next_out: *mut *mut mesh_decision,
    error_out: *mut *mut mesh_error,
) -> mesh_result {
    if !next_out.is_null() {
        // SAFETY: writable by contract.
        unsafe { next_out.write(std::ptr::null_mut()) };
    }
    let taken = (!decision.is_null()).then(|| {
        // SAFETY: a live decision, given up by the caller.
        unsafe { Box::from_raw(decision) }
    });
    call(error_out, || {
        let decision = taken.ok_or_else(|| invalid_argument("decision is NULL"))?;
        // SAFETY: forwarded from the caller.
        let outcome = to_outcome(unsafe { handle(outcome, "outcome") }?)?;
        boundary::require_out(next_out, "next_out")?;
        let engine = registry::get(engine)?;
        if let Some(inner) = engine.report(decision.inner, &outcome)? {
            // SAFETY: forwarded from the caller.
            unsafe { give(next_out, mesh_decision { inner }, "next_out") }?;
        }
        Ok(())
    })
}
