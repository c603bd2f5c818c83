//! The response future of [`MeshService`](super::MeshService) and
//! [`MeshClient`](crate::MeshClient).
//!
//! The attempt loop is an `async fn` (waiting for a backoff, a replayed
//! body, the next attempt), boxed once per request: one allocation, far
//! below the cost of the request itself, for a loop that reads as the
//! rules it follows.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use mesh_core::Error;

use super::MeshBody;

type Boxed<R> = Pin<Box<dyn Future<Output = Result<http::Response<MeshBody<R>>, Error>> + Send>>;

/// The future of a mesh response: the response head, its body counting
/// the request as in flight until it ends, or a mesh [`Error`].
pub struct ResponseFuture<R> {
    inner: Boxed<R>,
}

impl<R> ResponseFuture<R> {
    pub(crate) fn new(
        future: impl Future<Output = Result<http::Response<MeshBody<R>>, Error>> + Send + 'static,
    ) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl<R> Future for ResponseFuture<R> {
    type Output = Result<http::Response<MeshBody<R>>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<R> fmt::Debug for ResponseFuture<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
