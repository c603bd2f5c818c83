//! The built-in `/metrics` listener: Prometheus scrapes the mesh over
//! HTTP/1.1 without the host application serving anything.
//!
//! One task accepts connections on the given listener and answers
//! `GET /metrics` with whatever the render function returns (the text
//! exposition, format 0.0.4), anything else with 404. It holds no state:
//! each scrape renders afresh.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What a scrape returns.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// The content type of Prometheus's text format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `render` at `/metrics` on `listener` until the task is dropped
/// (with the runtime, or aborted).
pub async fn serve_metrics(listener: TcpListener, render: Render) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: try again shortly.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let render = render.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let render = render.clone();
                async move { Ok::<_, Infallible>(answer(&request, &render)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer<B>(request: &Request<B>, render: &Render) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    if request.uri().path() != "/metrics" {
        *response.status_mut() = StatusCode::NOT_FOUND;
    } else if request.method() != Method::GET && request.method() != Method::HEAD {
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    } else {
        *response.body_mut() = Full::new(Bytes::from(render()));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    }
    response
}
