//! A request's hold on its connection, and the response body that keeps
//! it until the last frame (a body dropped early, or an exchange abandoned
//! before its response, gives the connection back as not clean).
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
    /// The request ended; `clean` when its response was read to the end.
    /// An HTTP/1.1 connection is reused only after a clean end: one whose
    /// exchange was abandoned (a timeout, a body dropped unread) may still
    /// be waiting for, or reading, that response.
    fn release(self: Arc<Self>, clean: bool);
}

/// One request's hold on a connection, given back when dropped.
pub(crate) struct Lease {
    conn: Option<Arc<dyn Pooled>>,
    clean: bool,
}

impl Lease {
    pub(super) fn new(conn: Arc<dyn Pooled>) -> Self {
        Self {
            conn: Some(conn),
            clean: false,
        }
    }

    /// Gives the connection back after the response was read to the end.
    fn finish(mut self) {
        self.clean = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.release(self.clean);
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
    /// connection until the last frame. A body dropped once its data is
    /// all read gives the connection back clean (asking hyper whether the
    /// stream ended only then: for HTTP/2 that takes a lock).
    #[derive(Debug)]
    pub struct UpstreamBody {
        #[pin]
        inner: Incoming,
        lease: Option<Lease>,
    }

    impl PinnedDrop for UpstreamBody {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(lease) = this.lease.take()
                && this.inner.is_end_stream()
            {
                lease.finish();
            }
        }
    }
}

impl UpstreamBody {
    pub(super) fn new(inner: Incoming, lease: Lease) -> Self {
        if inner.is_end_stream() {
            lease.finish();
            return Self { inner, lease: None };
        }
        Self {
            inner,
            lease: Some(lease),
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) if !frame.is_trailers() => {}
            Some(Err(_)) => {
                this.lease.take();
            }
            // The end, or the trailers that end it.
            _ => {
                if let Some(lease) = this.lease.take() {
                    lease.finish();
                }
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
