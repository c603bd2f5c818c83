//! A request as a binding hands it over: raw bytes, checked here once for
//! every language.
//!
//! Each check names the part that is wrong (method, URL, a header by its
//! name, the body) in an [`ErrorKind::InvalidRequest`] or
//! [`ErrorKind::BodyTooLarge`] error, so a CR/LF smuggled into a header
//! value from Python reads the same as from Go.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use mesh_core::{Error, ErrorKind};

/// One buffered request: method, absolute URL, headers, body, and an
/// optional deadline for the whole call.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    timeout: Option<Duration>,
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidRequest, message)
}

impl HttpRequest {
    /// A request with no headers and an empty body. The URL must be
    /// absolute (`http://order-service/orders/1`): its authority is what
    /// the mesh routes by.
    pub fn new(method: &[u8], url: &[u8]) -> Result<Self, Error> {
        let method = Method::from_bytes(method).map_err(|_| {
            invalid(format!(
                "method {:?} is not a valid HTTP method",
                String::from_utf8_lossy(method)
            ))
        })?;
        let url =
            std::str::from_utf8(url).map_err(|_| invalid("URL is not valid UTF-8".to_owned()))?;
        let uri: Uri = url
            .parse()
            .map_err(|e| invalid(format!("URL {url:?} is invalid: {e}")))?;
        let Some(authority) = uri.authority() else {
            return Err(invalid(format!(
                "URL {url:?} is not absolute (http://host[:port]/path)"
            )));
        };
        // Named without the URL: it would show the credentials.
        if authority.as_str().contains('@') {
            return Err(invalid(
                "the URL carries credentials (user:password@); send them in an Authorization header"
                    .to_owned(),
            ));
        }
        // As behind a sidecar, the application speaks plain HTTP to the
        // mesh and each cluster's settings decide whether the hop to the
        // endpoint is TLS: an `https://` URL would promise what the URL
        // cannot decide.
        if uri.scheme() != Some(&http::uri::Scheme::HTTP) {
            return Err(invalid(format!(
                "URL {url:?}: only http:// URLs are sent through the mesh (TLS to the endpoint is the cluster's setting)"
            )));
        }
        Ok(Self {
            method,
            uri,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: None,
        })
    }

    /// Adds a header (repeated names add values). `content-length` and
    /// `transfer-encoding` are refused: the engine frames the body it
    /// holds itself, and a length that disagrees with it would truncate
    /// the request or stall it.
    pub fn add_header(&mut self, name: &[u8], value: &[u8]) -> Result<(), Error> {
        let header = HeaderName::from_bytes(name).map_err(|_| {
            invalid(format!(
                "header name {:?} is not a valid HTTP header name",
                String::from_utf8_lossy(name)
            ))
        })?;
        if header == http::header::CONTENT_LENGTH || header == http::header::TRANSFER_ENCODING {
            return Err(invalid(format!(
                "header {header:?} is set by the engine from the body; leave it out"
            )));
        }
        let value = HeaderValue::from_bytes(value).map_err(|_| {
            invalid(format!(
                "header {header:?}: the value contains a control character (CR, LF or NUL)"
            ))
        })?;
        self.headers.append(header, value);
        Ok(())
    }

    /// Sets the body (the engine refuses one over its `max_body_bytes`
    /// when the request is sent).
    pub fn set_body(&mut self, body: Bytes) {
        self.body = body;
    }

    /// Refuses a body over `limit` bytes.
    pub(crate) fn check_body(&self, limit: usize) -> Result<(), Error> {
        if self.body.len() > limit {
            return Err(Error::new(
                ErrorKind::BodyTooLarge,
                format!(
                    "request body of {} bytes is over the limit of {limit} bytes",
                    self.body.len()
                ),
            ));
        }
        Ok(())
    }

    /// Bounds the whole call (every attempt, and reading the response):
    /// past it the call fails with [`ErrorKind::Timeout`].
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The deadline of the whole call, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The request as `http` types (the body shared, not copied).
    pub(crate) fn to_http(&self) -> Request<http_body_util::Full<Bytes>> {
        let mut request = Request::new(http_body_util::Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(result: Result<impl std::fmt::Debug, Error>) -> ErrorKind {
        result.expect_err("refused").kind()
    }

    #[test]
    fn each_malformed_part_is_refused_and_named() {
        assert_eq!(
            kind(HttpRequest::new(b"GE T", b"http://a/")),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(HttpRequest::new(b"GET", b"/relative")),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(HttpRequest::new(b"GET", b"http://a/\xff")),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(HttpRequest::new(b"GET", b"http://a b/")),
            ErrorKind::InvalidRequest
        );

        let mut request = HttpRequest::new(b"POST", b"http://order-service/orders").unwrap();
        let smuggled = request
            .add_header(b"x-note", b"a\r\nx-admin: 1")
            .unwrap_err();
        assert_eq!(smuggled.kind(), ErrorKind::InvalidRequest);
        assert!(smuggled.message().contains("x-note"), "{smuggled}");
        assert_eq!(
            kind(request.add_header(b"bad name", b"v").map(|_| 0)),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(request.add_header(b"x\xff", b"v").map(|_| 0)),
            ErrorKind::InvalidRequest
        );

        request.set_body(Bytes::from_static(b"0123456789"));
        assert_eq!(
            request.check_body(9).unwrap_err().kind(),
            ErrorKind::BodyTooLarge
        );
        request.check_body(10).unwrap();
    }

    #[test]
    fn repeated_headers_keep_every_value() {
        let mut request = HttpRequest::new(b"GET", b"http://order-service/").unwrap();
        request.add_header(b"Accept", b"text/plain").unwrap();
        request.add_header(b"accept", b"application/json").unwrap();
        let http = request.to_http();
        assert_eq!(http.headers().get_all("accept").iter().count(), 2);
        assert_eq!(http.uri(), "http://order-service/");
    }
}
