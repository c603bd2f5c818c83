//! Python arguments to an [`HttpRequest`]: the method and URL as `str`,
//! headers as a mapping or pairs of `str`/`bytes`, the body as `bytes`,
//! `bytearray`, `memoryview` or `str` (UTF-8), the timeout in seconds.
//! Wrong types are `TypeError`s; everything about the HTTP itself is
//! checked once, by the engine, which names what is wrong.

use std::time::Duration;

use bytes::Bytes;
use facade::HttpRequest;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};

use crate::errors;

/// Builds a request from what Python passed.
pub(crate) fn build(
    py: Python<'_>,
    method: &str,
    url: &str,
    headers: Option<&Bound<'_, PyAny>>,
    body: Option<&Bound<'_, PyAny>>,
    timeout: Option<f64>,
) -> PyResult<HttpRequest> {
    let mut request =
        HttpRequest::new(method.as_bytes(), url.as_bytes()).map_err(|e| errors::to_py(py, &e))?;
    if let Some(headers) = headers {
        for_each_header(headers, |name, value| {
            request
                .add_header(name, value)
                .map_err(|e| errors::to_py(py, &e))
        })?;
    }
    if let Some(body) = body {
        request.set_body(body_bytes(body)?);
    }
    request.set_timeout(timeout_from(timeout)?);
    Ok(request)
}

/// Seconds as a `Duration`: `None` for no timeout; negative, NaN or
/// infinite values are refused.
pub(crate) fn timeout_from(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| PyValueError::new_err(format!("timeout must be seconds ≥ 0, got {s}")))
        })
        .transpose()
}

/// Calls `add` with each header's name and value, from a mapping
/// (`dict`, or anything with `items()`) or an iterable of `(name, value)`
/// pairs; names and values are `str` (UTF-8) or `bytes`.
pub(crate) fn for_each_header(
    headers: &Bound<'_, PyAny>,
    mut add: impl FnMut(&[u8], &[u8]) -> PyResult<()>,
) -> PyResult<()> {
    let mut add = |name: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>| -> PyResult<()> {
        add(
            &text_or_bytes(name, "header name")?,
            &text_or_bytes(value, "header value")?,
        )
    };
    if let Ok(dict) = headers.cast::<PyDict>() {
        for (name, value) in dict.iter() {
            add(&name, &value)?;
        }
        return Ok(());
    }
    let pairs = if headers.hasattr("items")? {
        headers.call_method0("items")?
    } else {
        headers.clone()
    };
    for pair in pairs.try_iter().map_err(|_| {
        PyTypeError::new_err("headers must be a mapping or an iterable of (name, value) pairs")
    })? {
        let pair = pair?;
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair
            .extract()
            .map_err(|_| PyTypeError::new_err("each header must be a (name, value) pair"))?;
        add(&name, &value)?;
    }
    Ok(())
}

/// A header part as bytes: `str` (UTF-8) or `bytes`.
fn text_or_bytes(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(text.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be str or bytes, not {}",
        value.get_type().name()?
    )))
}

/// The body: `bytes`, `bytearray`, `memoryview` (copied) or `str`
/// (UTF-8).
fn body_bytes(body: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(bytes) = body.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(bytes.as_bytes()));
    }
    if let Ok(text) = body.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(text.to_cow()?.as_bytes()));
    }
    if let Ok(array) = body.cast::<PyByteArray>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    if body.get_type().name()? == "memoryview" {
        let bytes = body.call_method0("tobytes")?;
        return body_bytes(&bytes);
    }
    Err(PyTypeError::new_err(format!(
        "body must be bytes, bytearray, memoryview or str, not {}",
        body.get_type().name()?
    )))
}
