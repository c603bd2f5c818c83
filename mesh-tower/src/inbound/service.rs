//! The service that opens a server span per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use mesh_core::rng::ThreadRng;
use mesh_core::telemetry::Telemetry;
use mesh_core::telemetry::trace::{OpenSpan, Propagation, SpanKind, extract};
use pin_project_lite::pin_project;
use tower_service::Service;

/// See [`InboundTraceLayer`](super::InboundTraceLayer).
#[derive(Debug, Clone)]
pub struct InboundTraceService<S> {
    inner: S,
    telemetry: Arc<Telemetry>,
}

impl<S> InboundTraceService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, telemetry: Arc<Telemetry>) -> Self {
        Self { inner, telemetry }
    }
}

impl<S, B, R> Service<Request<B>> for InboundTraceService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = InboundTraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let tracer = self.telemetry.tracer();
        let propagation = tracer.map_or_else(Propagation::default, |t| t.propagation());
        let parent = extract(request.headers(), propagation);
        let span = tracer.and_then(|tracer| {
            let name = || format!("{} {}", request.method(), request.uri().path());
            let mut span = tracer.start(parent.as_ref(), name, SpanKind::Server, &mut ThreadRng)?;
            span.set("http.request.method", request.method().as_str());
            span.set("url.path", request.uri().path());
            Some(span)
        });
        // The handler's calls hang under the server span, or under the
        // caller's context when this request is not recorded.
        if let Some(context) = span.as_ref().map(OpenSpan::context).or(parent) {
            request.extensions_mut().insert(context);
        }
        InboundTraceFuture {
            inner: self.inner.call(request),
            span: span.map(|span| (span, self.telemetry.clone())),
        }
    }
}

pin_project! {
    /// Ends the server span with the response head (or the error).
    #[derive(Debug)]
    pub struct InboundTraceFuture<F> {
        #[pin]
        inner: F,
        span: Option<(OpenSpan, Arc<Telemetry>)>,
    }
}

impl<F, R, E> Future for InboundTraceFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some((mut span, telemetry)) = this.span.take()
            && let Some(tracer) = telemetry.tracer()
        {
            match &result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    span.set("http.response.status_code", i64::from(status));
                    if status >= 500 {
                        span.fail(format!("status {status}"));
                    }
                }
                Err(_) => span.fail("the service failed"),
            }
            tracer.end(span);
        }
        Poll::Ready(result)
    }
}
