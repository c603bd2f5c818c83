//! The view of a request that routing and balancing read.
//!
//! Borrowed pieces of the request head, so building it costs nothing: the
//! tower layer fills it from an `http::Request`, a binding from its own
//! request type.

use std::net::IpAddr;

use http::HeaderMap;

/// What routing looks at: method, authority, path, query, headers.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// `host[:port]` as the caller addressed it.
    pub authority: &'a str,
    /// The path, without the query (`/orders/1`).
    pub path: &'a str,
    /// The query without the `?` (`""` when none).
    pub query: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The caller's own address, for source-IP hashing, when known.
    pub source_ip: Option<IpAddr>,
}

/// Whether a request is gRPC: its `content-type` is `application/grpc`
/// (or `+proto`, `+json`...).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

impl<'a> RequestHead<'a> {
    /// A head from the parts of an `http` request; the authority comes
    /// from the URI or, failing that, the `Host` header.
    pub fn from_http(method: &'a http::Method, uri: &'a http::Uri, headers: &'a HeaderMap) -> Self {
        let authority = uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| {
                headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
            })
            .unwrap_or("");
        Self {
            method: method.as_str(),
            scheme: uri.scheme_str().unwrap_or("http"),
            authority,
            path: if uri.path().is_empty() {
                "/"
            } else {
                uri.path()
            },
            query: uri.query().unwrap_or(""),
            headers,
            source_ip: None,
        }
    }
}
