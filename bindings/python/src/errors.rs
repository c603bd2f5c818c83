//! Engine errors as Python exceptions: one class per [`ErrorKind`],
//! defined in Python (`proxyless_mesh.errors`, where they also inherit
//! from the built-in exception a Python caller expects: `TimeoutError`,
//! `ConnectionError`, `ValueError`) and looked up here by kind.

use facade::{Error, ErrorKind};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The Python class of each kind, by the name `proxyless_mesh.errors`
/// gives it.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NoRoute => "NoRouteError",
        ErrorKind::NoHealthyEndpoint => "NoHealthyEndpointError",
        ErrorKind::ConfigInvalid => "ConfigInvalidError",
        ErrorKind::InvalidRequest => "InvalidRequestError",
        ErrorKind::Timeout => "MeshTimeoutError",
        ErrorKind::Overloaded => "OverloadedError",
        ErrorKind::RateLimited => "RateLimitedError",
        ErrorKind::Transport => "TransportError",
        ErrorKind::Closed => "ClosedError",
        ErrorKind::Internal => "InternalError",
        ErrorKind::Cancelled => "RequestCancelledError",
        ErrorKind::BodyTooLarge => "BodyTooLargeError",
        ErrorKind::InvalidArgument => "InvalidArgumentError",
        // A kind newer than this module: the base class still catches it.
        _ => "MeshError",
    }
}

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The exception for `error`: its kind's class, with the message.
pub(crate) fn to_py(py: Python<'_>, error: &Error) -> PyErr {
    match class(py, error.kind()) {
        Ok(class) => PyErr::from_type(class, error.to_string()),
        Err(lookup) => {
            let fallback = PyRuntimeError::new_err(error.to_string());
            fallback.set_cause(py, Some(lookup));
            fallback
        }
    }
}

/// An exception of `kind` raised by the module itself (misuse it finds
/// before the engine does).
pub(crate) fn new(py: Python<'_>, kind: ErrorKind, message: impl Into<String>) -> PyErr {
    to_py(py, &Error::new(kind, message))
}

fn class(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyType>> {
    let module = ERRORS.get_or_try_init(py, || {
        PyModule::import(py, "proxyless_mesh.errors").map(Bound::unbind)
    })?;
    Ok(module
        .bind(py)
        .getattr(class_name(kind))?
        .cast_into::<PyType>()?)
}
