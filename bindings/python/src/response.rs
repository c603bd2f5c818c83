//! A response as Python sees it: built once, with the GIL held, from the
//! engine's [`HttpResponse`].

use facade::HttpResponse;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

/// An HTTP response received through the mesh.
#[pyclass(frozen, module = "proxyless_mesh._native")]
#[derive(Debug)]
pub(crate) struct Response {
    /// The status code.
    #[pyo3(get)]
    status: u16,
    /// The headers in the order received, as `(name, value)` pairs of
    /// `str`: names lower-case, values decoded as Latin-1 (as
    /// `http.client` does) so no byte is lost.
    #[pyo3(get)]
    headers: Py<PyList>,
    /// The whole body.
    #[pyo3(get)]
    body: Py<PyBytes>,
    /// The cluster that served the request, when one did.
    #[pyo3(get)]
    cluster: Option<String>,
    /// The endpoint (`host:port`) that answered, when one did.
    #[pyo3(get)]
    endpoint: Option<String>,
    /// The engine's span of the request as a W3C `traceparent`, when the
    /// request was traced: the caller's trace continues from it.
    #[pyo3(get)]
    traceparent: Option<String>,
}

impl Response {
    pub(crate) fn new(py: Python<'_>, response: HttpResponse) -> PyResult<Self> {
        let headers = PyList::empty(py);
        for (name, value) in &response.headers {
            let value: String = value.as_bytes().iter().map(|&b| char::from(b)).collect();
            headers.append(PyTuple::new(py, [name.as_str(), value.as_str()])?)?;
        }
        Ok(Self {
            status: response.status.as_u16(),
            headers: headers.unbind(),
            body: PyBytes::new(py, &response.body).unbind(),
            cluster: response.cluster.as_deref().map(str::to_owned),
            endpoint: response.endpoint.as_ref().map(|e| e.as_str().to_owned()),
            traceparent: response
                .traceparent
                .as_ref()
                .and_then(|t| t.to_str().ok())
                .map(str::to_owned),
        })
    }
}

#[pymethods]
impl Response {
    /// The first value of header `name` (any case), or `default`.
    #[pyo3(signature = (name, default=None))]
    fn header(
        &self,
        py: Python<'_>,
        name: &str,
        default: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        for pair in self.headers.bind(py).iter() {
            let (key, value): (String, Py<PyAny>) = pair.extract()?;
            if key.eq_ignore_ascii_case(name) {
                return Ok(value);
            }
        }
        Ok(default.unwrap_or_else(|| py.None()))
    }

    /// The body decoded as UTF-8 (undecodable bytes replaced).
    fn text(&self, py: Python<'_>) -> String {
        String::from_utf8_lossy(self.body.bind(py).as_bytes()).into_owned()
    }

    /// The body parsed as JSON (`json.loads`).
    fn json(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let json = py.import("json")?;
        Ok(json.call_method1("loads", (self.body.bind(py),))?.unbind())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<Response [{}] {} bytes from {}>",
            self.status,
            self.body.bind(py).as_bytes().len(),
            self.endpoint.as_deref().unwrap_or("no endpoint")
        )
    }
}
