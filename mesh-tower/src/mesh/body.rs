//! The response body, counting the request as active until it ends.
//!
//! Least-request balancing needs the number of requests *in flight* per
//! endpoint, and the cluster's `max_requests` breaker the number per
//! cluster; a response is in flight until its last frame (a streaming
//! gRPC call can outlive its headers by minutes). The body holds the
//! endpoint's [`ActiveRequest`] and the breaker's permit and lets go of
//! them at the end of the stream, on an error, or when dropped unread.
//! Then too the request is reported to telemetry, with the bytes the body
//! carried (see `report`): flagged `UR` when the upstream broke it off,
//! `DC` when it was dropped before its end.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use mesh_core::lb::ActiveRequest;
use mesh_core::resilience::breaker::LimitPermit;
use mesh_core::telemetry::ResponseFlags;
use pin_project_lite::pin_project;

use super::report::PendingReport;
use crate::Target;

pin_project! {
    /// A response body from the mesh: the transport's body, unchanged, or
    /// no body at all for an answer the mesh made itself (an injected
    /// abort).
    #[derive(Debug)]
    pub struct MeshBody<B> {
        #[pin]
        inner: Option<B>,
        in_flight: Option<InFlight>,
        report: Option<PendingReport>,
        target: Option<Target>,
    }
}

/// What a request holds while it is in flight; both are released when
/// dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    pub(crate) _active: ActiveRequest,
    pub(crate) _permit: LimitPermit,
}

impl<B: Body> MeshBody<B> {
    pub(super) fn new(inner: B, in_flight: InFlight, target: Target) -> Self {
        let in_flight = (!inner.is_end_stream()).then_some(in_flight);
        Self {
            inner: Some(inner),
            in_flight,
            report: None,
            target: Some(target),
        }
    }

    /// An empty body, for an answer that never reached an endpoint.
    pub(super) fn empty() -> Self {
        Self {
            inner: None,
            in_flight: None,
            report: None,
            target: None,
        }
    }

    /// Reports the request when the body ends (at once if it already has,
    /// and so holds no place in flight: asking the body again would take
    /// an HTTP/2 stream's lock once more).
    pub(super) fn report_at_end(&mut self, mut report: PendingReport) {
        if self.in_flight.is_none() {
            report.ended();
        } else {
            self.report = Some(report);
        }
    }

    /// Where the mesh sent the request that this body answers: the
    /// endpoint, cluster and route of its last attempt; `None` when the
    /// mesh answered itself. (On the body rather than in the response's
    /// extensions, where it would cost every response a map of its own.)
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }

    /// The transport's body; `None` when the mesh answered itself.
    pub fn into_inner(self) -> Option<B> {
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
        let Some(mut inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(None);
        };
        let frame = ready!(inner.as_mut().poll_frame(cx));
        match (&frame, this.report.as_mut()) {
            (Some(Ok(frame)), Some(report)) => {
                if let Some(data) = frame.data_ref() {
                    report.add_bytes(data.remaining());
                } else if let Some(trailers) = frame.trailers_ref() {
                    report.trailers(trailers);
                }
                if inner.is_end_stream() {
                    report.ended();
                }
            }
            (Some(Ok(_)), None) => {}
            (None, report) | (Some(Err(_)), report) => {
                if let Some(report) = report {
                    match &frame {
                        None => report.ended(),
                        // The upstream broke the body off: Envoy's `UR`.
                        _ => {
                            report.flag(ResponseFlags::UPSTREAM_REMOTE_RESET);
                            report.ended();
                        }
                    }
                }
                this.in_flight.take();
                this.report.take();
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
