//! One request of the execute mode, start to end, as its caller's thread
//! runs it: the mesh call, the response body read whole under
//! the body limit, the call's own timeout, and the two ways it ends early
//! (the caller's cancel, the engine's close).

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use mesh_core::telemetry::trace::{SpanContext, traceparent};
use mesh_core::{Error, ErrorKind};
use mesh_tower::MeshClient;

use crate::cancel::Cancel;
use crate::response::HttpResponse;

/// The bounds of one call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The whole call's deadline, if any.
    pub(crate) timeout: Option<Duration>,
    /// The largest response body read.
    pub(crate) max_body_bytes: usize,
}

/// Sends `request` through `client` and reads the whole response.
pub(crate) async fn run(
    client: &MeshClient<Full<Bytes>>,
    request: Request<Full<Bytes>>,
    limits: Limits,
    shutdown: &Cancel,
    cancel: Option<&Cancel>,
) -> Result<HttpResponse, Error> {
    let bounded = async {
        let exchange = send(client, request, limits.max_body_bytes);
        match limits.timeout {
            None => exchange.await,
            Some(timeout) => tokio::time::timeout(timeout, exchange)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::new(
                        ErrorKind::Timeout,
                        format!("the call's timeout of {timeout:?} elapsed"),
                    ))
                }),
        }
    };
    let cancelled = async {
        match cancel {
            Some(cancel) => cancel.fired().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        () = shutdown.fired() => Err(Error::new(
            ErrorKind::Closed,
            "the engine closed while the request was in flight",
        )),
        () = cancelled => Err(Error::new(ErrorKind::Cancelled, "the caller cancelled the request")),
        result = bounded => result,
    }
}

async fn send(
    client: &MeshClient<Full<Bytes>>,
    request: Request<Full<Bytes>>,
    max_body_bytes: usize,
) -> Result<HttpResponse, Error> {
    let response = client.request(request).await?;
    let (parts, body) = response.into_parts();
    let target = body.target().cloned();
    let body = Limited::new(body, max_body_bytes)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                Error::new(
                    ErrorKind::BodyTooLarge,
                    format!("response body is over the limit of {max_body_bytes} bytes"),
                )
            } else {
                Error::new(ErrorKind::Transport, "reading the response body failed").with_source(e)
            }
        })?
        .to_bytes();
    let mut headers = Vec::with_capacity(parts.headers.len());
    let mut last = None;
    for (name, value) in parts.headers {
        // A repeated name comes without its name after the first value.
        if let Some(name) = name {
            last = Some(name);
        }
        if let Some(name) = &last {
            headers.push((name.clone(), value));
        }
    }
    Ok(HttpResponse {
        status: parts.status,
        headers,
        body,
        cluster: target.as_ref().map(|t| t.cluster().name.clone()),
        endpoint: target.map(|t| t.endpoint().endpoint().uri_authority().clone()),
        traceparent: parts.extensions.get::<SpanContext>().map(traceparent),
    })
}
