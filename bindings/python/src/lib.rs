//! `proxyless_mesh._native`: the mesh engine as a Python extension module.
//!
//! This crate only translates: Python values in, [`facade`] calls, Python
//! values and exceptions out. Everything the mesh decides is decided in
//! `mesh-engine` and below, so a Python caller gets the same routing,
//! retries and breakers as a Rust or Go one. The pure-Python package
//! around it (`python/proxyless_mesh`) adds what is Python's own: the
//! asyncio glue, fork handling, the `requests` and `httpx` adapters.
//!
//! Two rules hold at this boundary: the GIL is released whenever the
//! engine may wait (a request, building an engine over xDS, closing), and
//! no Rust panic reaches Python as anything but an exception (pyo3 turns
//! a panic in a method into `PanicException`; the engine does not panic
//! on bad input, it returns errors).

use pyo3::prelude::*;

mod cancel;
mod completions;
mod decision;
mod engine;
mod errors;
mod request;
mod response;

/// Does nothing: the floor of a call from Python into the module, which
/// the benchmarks measure.
#[pyfunction]
fn noop() {}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<engine::Engine>()?;
    m.add_class::<response::Response>()?;
    m.add_class::<decision::Decision>()?;
    m.add_class::<completions::Completions>()?;
    m.add_class::<cancel::CancelHandle>()?;
    m.add_function(wrap_pyfunction!(noop, m)?)?;
    m.add(
        "DEFAULT_MAX_BODY_BYTES",
        facade::EngineOptions::DEFAULT_MAX_BODY_BYTES,
    )?;
    Ok(())
}
