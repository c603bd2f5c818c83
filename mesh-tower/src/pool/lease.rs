//! A request's hold on its connection, and the response body that keeps
//! it until the last frame.
//!
//! An HTTP/1.1 connection can take the next request only once the
//! response before it has been read to the end, and an HTTP/2 stream
//! counts against the connection's concurrency until then; so the lease
//! rides in the response body and goes back to the pool when the body
//! ends, fails or is dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;

/// A connection a lease can give back.
pub(super) trait Pooled: Send + Sync {
    /// The request ended; `reusable` is false when the connection must
    /// take no more (its request never left, or it failed).
    fn release(self: Arc<Self>, reusable: bool);
}

/// One request's hold on a connection, given back when dropped.
pub(crate) struct Lease {
    conn: Option<Arc<dyn Pooled>>,
}

impl Lease {
    pub(super) fn new(conn: Arc<dyn Pooled>) -> Self {
        Self { conn: Some(conn) }
    }

    /// Gives the connection back as one to take no more requests.
    pub(super) fn discard(mut self) {
        if let Some(conn) = self.conn.take() {
            conn.release(false);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.release(true);
        }
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("held", &self.conn.is_some())
            .finish()
    }
}

pin_project! {
    /// A response body from an endpoint: hyper's body, holding its
    /// connection until the last frame.
    #[derive(Debug)]
    pub struct UpstreamBody {
        #[pin]
        inner: Incoming,
        lease: Option<Lease>,
    }
}

impl UpstreamBody {
    pub(super) fn new(inner: Incoming, lease: Lease) -> Self {
        let lease = (!inner.is_end_stream()).then_some(lease);
        Self { inner, lease }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        match &frame {
            Some(Ok(_)) if !this.inner.is_end_stream() => {}
            Some(Err(_)) => {
                if let Some(lease) = this.lease.take() {
                    lease.discard();
                }
            }
            _ => {
                this.lease.take();
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
