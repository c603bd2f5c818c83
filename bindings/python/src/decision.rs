//! The decide mode in Python: a [`facade::Decision`] with its fields
//! ready to read, reported once.

use std::sync::Mutex;

use facade::{ErrorKind, Failure};
use pyo3::prelude::*;

use crate::errors;

/// Where and how to send one attempt of a request yourself; report how it
/// went with `Client.report`.
#[pyclass(frozen, module = "proxyless_mesh._native")]
#[derive(Debug)]
pub(crate) struct Decision {
    /// Taken by the report: a decision is reported once.
    inner: Mutex<Option<facade::Decision>>,
    /// The endpoint to connect to, `host:port`.
    #[pyo3(get)]
    endpoint: String,
    /// The `Host` (or `:authority`) to send: the logical service.
    #[pyo3(get)]
    authority: String,
    /// The cluster the endpoint belongs to.
    #[pyo3(get)]
    cluster: String,
    /// The attempt's timeout in seconds, or `None`.
    #[pyo3(get)]
    timeout: Option<f64>,
    /// How long to wait before sending, in seconds (a retry's backoff).
    #[pyo3(get)]
    delay: f64,
    /// This attempt's number, from 1.
    #[pyo3(get)]
    attempt: u32,
    /// The most attempts the route allows.
    #[pyo3(get)]
    max_attempts: u32,
    /// Headers to set on the attempt, as `(name, value)` pairs.
    #[pyo3(get)]
    headers: Vec<(String, String)>,
}

impl Decision {
    pub(crate) fn new(decision: facade::Decision) -> Self {
        Self {
            endpoint: decision.endpoint().to_owned(),
            authority: decision.authority().to_owned(),
            cluster: decision.cluster().to_owned(),
            timeout: decision.timeout().map(|t| t.as_secs_f64()),
            delay: decision.delay().as_secs_f64(),
            attempt: decision.attempt(),
            max_attempts: decision.max_attempts(),
            headers: decision
                .headers()
                .iter()
                .map(|(name, value)| {
                    let value = value.as_bytes().iter().map(|&b| char::from(b)).collect();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
            inner: Mutex::new(Some(decision)),
        }
    }

    /// Takes the decision for its report; a second report is refused.
    pub(crate) fn take(&self, py: Python<'_>) -> PyResult<facade::Decision> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .ok_or_else(|| {
                errors::new(
                    py,
                    ErrorKind::InvalidArgument,
                    "this decision was already reported",
                )
            })
    }
}

#[pymethods]
impl Decision {
    fn __repr__(&self) -> String {
        format!(
            "<Decision attempt {}/{} to {} ({})>",
            self.attempt, self.max_attempts, self.endpoint, self.cluster
        )
    }
}

/// A failure's name as the Python API spells it.
pub(crate) fn failure_from(py: Python<'_>, name: &str) -> PyResult<Failure> {
    Ok(match name {
        "connect" => Failure::Connect,
        "reset" => Failure::Reset,
        "timeout" => Failure::Timeout,
        "refused_stream" => Failure::RefusedStream,
        other => {
            return Err(errors::new(
                py,
                ErrorKind::InvalidArgument,
                format!(
                    "failure {other:?} is not one of \"connect\", \"reset\", \"timeout\", \"refused_stream\""
                ),
            ));
        }
    })
}
