//! A submitted request's cancel switch, handed to Python so an asyncio
//! task that is cancelled can stop its request.

use pyo3::prelude::*;

/// Cancels one submitted request (idempotent, from any thread).
#[pyclass(frozen, module = "proxyless_mesh._native")]
#[derive(Debug)]
pub(crate) struct CancelHandle(pub(crate) facade::Cancel);

#[pymethods]
impl CancelHandle {
    /// Ends the request with `RequestCancelledError`; does nothing once
    /// it has ended.
    fn cancel(&self) {
        self.0.fire();
    }
}
