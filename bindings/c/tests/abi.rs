//! The C ABI's promises, called from Rust as C would call them: NULLs,
//! bad text, freed and foreign handles are errors with codes and
//! messages, never crashes.

use std::ffi::CStr;
use std::ptr::{null, null_mut};

use mesh::*;

mod common;

use common::CONFIG;

fn message(error: *const mesh_error) -> String {
    // SAFETY: a live error or NULL, from this library.
    unsafe { CStr::from_ptr(mesh_error_message(error)) }
        .to_string_lossy()
        .into_owned()
}

fn engine() -> *mut mesh_engine {
    let mut engine = null_mut();
    // SAFETY: valid pointers, as C would pass them.
    let code = unsafe {
        mesh_engine_new_static(
            null(),
            0,
            CONFIG.as_ptr(),
            CONFIG.len(),
            &mut engine,
            null_mut(),
        )
    };
    assert_eq!(code, mesh_result::Ok);
    engine
}

#[test]
fn nulls_and_bad_text_are_refused_with_codes_and_messages() {
    let mut error = null_mut();
    let mut request = null_mut();
    // SAFETY: every pointer is NULL or valid; the calls check the rest.
    unsafe {
        assert_eq!(
            mesh_request_new(
                null(),
                3,
                b"http://a/".as_ptr(),
                9,
                &mut request,
                &mut error
            ),
            mesh_result::InvalidArgument
        );
        assert!(message(error).contains("method"), "{}", message(error));
        assert_eq!(mesh_error_code(error), mesh_result::InvalidArgument);
        mesh_error_free(error);

        let url = b"http://order-service/\xff";
        assert_eq!(
            mesh_request_new(
                b"GET".as_ptr(),
                3,
                url.as_ptr(),
                url.len(),
                &mut request,
                &mut error
            ),
            mesh_result::InvalidRequest
        );
        assert!(message(error).contains("UTF-8"));
        mesh_error_free(error);

        assert_eq!(
            mesh_request_new(
                b"GET".as_ptr(),
                3,
                b"http://a/".as_ptr(),
                9,
                null_mut(),
                null_mut()
            ),
            mesh_result::InvalidArgument
        );
        let url = b"http://order-service/";
        assert_eq!(
            mesh_request_new(
                b"GET".as_ptr(),
                3,
                url.as_ptr(),
                url.len(),
                &mut request,
                null_mut()
            ),
            mesh_result::Ok
        );
        let value = b"ok\r\nx-admin: 1";
        assert_eq!(
            mesh_request_add_header(
                request,
                b"x-a".as_ptr(),
                3,
                value.as_ptr(),
                value.len(),
                &mut error
            ),
            mesh_result::InvalidRequest
        );
        assert!(message(error).contains("x-a"));
        mesh_error_free(error);
        assert_eq!(
            mesh_request_add_header(null_mut(), b"x-a".as_ptr(), 3, b"1".as_ptr(), 1, null_mut()),
            mesh_result::InvalidArgument
        );
        assert_eq!(
            mesh_engine_new_static(null(), 7, b"x".as_ptr(), 1, &mut null_mut(), null_mut()),
            mesh_result::InvalidArgument,
            "7 is not a mesh_format"
        );
        let mut response = null_mut();
        assert_eq!(
            mesh_engine_execute(null(), request, null(), &mut response, &mut error),
            mesh_result::InvalidArgument
        );
        assert_eq!(message(error), "invalid_argument: engine is NULL");
        mesh_error_free(error);

        assert_eq!(mesh_response_status(null()), 0);
        assert_eq!(mesh_response_header_count(null()), 0);
        assert_eq!(mesh_error_code(null()), mesh_result::InvalidArgument);
        assert_eq!(CStr::from_ptr(mesh_error_message(null())).to_bytes(), b"");
        mesh_request_free(request);
        mesh_request_free(null_mut());
        mesh_response_free(null_mut());
        mesh_error_free(null_mut());
        mesh_decision_free(null_mut());
        mesh_cancel_fire(null());
        assert_eq!(mesh_engine_free(null_mut()), mesh_result::Ok);
    }
}

#[test]
fn freed_and_foreign_engine_handles_are_errors_not_crashes() {
    let engine = engine();
    let url = b"http://order-service/";
    let mut request = null_mut();
    let mut response = null_mut();
    let mut error = null_mut();
    // SAFETY: valid pointers; the engine handle is an id checked by the
    // library, whatever its value.
    unsafe {
        mesh_request_new(
            b"GET".as_ptr(),
            3,
            url.as_ptr(),
            url.len(),
            &mut request,
            null_mut(),
        );
        // Port 9 (discard) refuses: a transport error, with retries spent.
        let code = mesh_engine_execute(engine, request, null(), &mut response, &mut error);
        assert_eq!(code, mesh_result::Transport, "{}", message(error));
        mesh_error_free(error);

        assert_eq!(mesh_engine_free(engine), mesh_result::Ok);
        assert_eq!(
            mesh_engine_free(engine),
            mesh_result::InvalidArgument,
            "freed twice"
        );
        assert_eq!(
            mesh_engine_execute(engine, request, null(), &mut response, &mut error),
            mesh_result::Closed
        );
        assert!(message(error).contains("freed"));
        mesh_error_free(error);
        let foreign = std::ptr::without_provenance_mut::<mesh_engine>(0xdead_beef);
        assert_eq!(
            mesh_engine_close(foreign, null_mut()),
            mesh_result::InvalidArgument
        );
        assert_eq!(mesh_engine_free(foreign), mesh_result::InvalidArgument);
        mesh_request_free(request);
    }
}

#[test]
fn every_code_has_a_stable_name() {
    let name = |code| {
        // SAFETY: static NUL-terminated strings.
        unsafe { CStr::from_ptr(mesh_result_name(code)) }
            .to_str()
            .unwrap()
    };
    assert_eq!(name(0), "ok");
    assert_eq!(name(mesh_result::BodyTooLarge as u32), "body_too_large");
    assert_eq!(
        name(mesh_result::InvalidArgument as u32),
        "invalid_argument"
    );
    assert_eq!(name(999), "unknown");
    assert_eq!(mesh_abi_version(), 1);
}

#[test]
fn telemetry_options_check_their_arguments() {
    let mut error = null_mut();
    // SAFETY: every pointer is NULL or valid; the calls check the rest.
    unsafe {
        let options = mesh_options_new();
        let address = b"not an address";
        assert_eq!(
            mesh_options_set_metrics_address(options, address.as_ptr(), address.len(), &mut error),
            mesh_result::InvalidArgument
        );
        assert!(message(error).contains("ip:port"), "{}", message(error));
        mesh_error_free(error);
        let endpoint = b"http://127.0.0.1:4317";
        assert_eq!(
            mesh_options_set_tracing(options, endpoint.as_ptr(), endpoint.len(), 1.5, null_mut()),
            mesh_result::InvalidArgument
        );
        assert_eq!(
            mesh_options_set_tracing(options, endpoint.as_ptr(), endpoint.len(), 0.5, null_mut()),
            mesh_result::Ok
        );
        let bad = b"\xff";
        assert_eq!(
            mesh_options_set_workload(options, bad.as_ptr(), 1, b"ns".as_ptr(), 2, null_mut()),
            mesh_result::InvalidArgument
        );
        assert_eq!(
            mesh_options_set_access_log(null_mut(), b"/tmp/x".as_ptr(), 6, 1.0, null_mut()),
            mesh_result::InvalidArgument
        );
        let loopback = b"127.0.0.1:0";
        assert_eq!(
            mesh_options_set_metrics_address(
                options,
                loopback.as_ptr(),
                loopback.len(),
                null_mut()
            ),
            mesh_result::Ok
        );
        mesh_options_free(options);

        // No response, or an untraced one: no traceparent, no crash.
        let (mut ptr, mut len) = (b"x".as_ptr(), 1);
        mesh_response_traceparent(null(), &mut ptr, &mut len);
        assert!(ptr.is_null());
        assert_eq!(len, 0);
        mesh_response_traceparent(null(), null_mut(), null_mut());
    }
}
