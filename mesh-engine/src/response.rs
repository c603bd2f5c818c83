//! A response as a binding hands it back: status, headers in arrival
//! order, the whole body.

use std::sync::Arc;

use bytes::Bytes;
use http::uri::Authority;
use http::{HeaderName, HeaderValue, StatusCode};

/// One buffered response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers, in the order they arrived (indexable, as bindings
    /// read them one by one).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, read to its end.
    pub body: Bytes,
    /// The cluster that served it.
    pub cluster: Option<Arc<str>>,
    /// The endpoint that served it, `host:port`.
    pub endpoint: Option<Authority>,
    /// The request's span, as a W3C `traceparent`, when the request was
    /// traced (and sampled): the caller's own spans continue from it.
    pub traceparent: Option<HeaderValue>,
}
