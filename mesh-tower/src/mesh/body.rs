//! The response body, counting the request as active until it ends.
//!
//! Least-request balancing needs the number of requests *in flight* per
//! endpoint, and a response is in flight until its last frame (a
//! streaming gRPC call can outlive its headers by minutes). The body
//! holds the endpoint's [`ActiveRequest`] and lets go of it at the end of
//! the stream, on an error, or when dropped unread.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use mesh_core::lb::ActiveRequest;
use pin_project_lite::pin_project;

pin_project! {
    /// A response body from the mesh: the transport's body, unchanged.
    #[derive(Debug)]
    pub struct MeshBody<B> {
        #[pin]
        inner: B,
        active: Option<ActiveRequest>,
    }
}

impl<B: Body> MeshBody<B> {
    pub(super) fn new(inner: B, active: ActiveRequest) -> Self {
        let active = (!inner.is_end_stream()).then_some(active);
        Self { inner, active }
    }

    /// The transport's body.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Body> Body for MeshBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            this.active.take();
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
