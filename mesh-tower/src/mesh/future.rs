//! The response future: the transport's, bounded by the route timeout,
//! handing the endpoint's active-request count on to the response body
//! and the routing decision ([`Target`]) on to the response extensions.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use mesh_core::lb::ActiveRequest;
use mesh_core::{Error, ErrorKind};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::MeshBody;
use super::service::{Prepared, transport_error};
use crate::Target;

pin_project! {
    /// The future of [`MeshService`](super::MeshService)'s response.
    #[project = Projected]
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProjected]
    #[derive(Debug)]
    enum State<F> {
        /// Routing failed before anything was sent.
        Failed { error: Option<Error> },
        /// The request is with the transport.
        Sent {
            #[pin]
            response: F,
            #[pin]
            deadline: Option<Sleep>,
            timeout: Duration,
            target: Option<Target>,
            active: Option<ActiveRequest>,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn failed(error: Error) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }

    pub(crate) fn sent(response: F, prepared: Prepared) -> Self {
        let Prepared {
            target,
            active,
            timeout,
        } = prepared;
        Self {
            state: State::Sent {
                response,
                deadline: timeout.map(tokio::time::sleep),
                timeout: timeout.unwrap_or_default(),
                target: Some(target),
                active: Some(active),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: http_body::Body,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<http::Response<MeshBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProjected::Failed { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| Error::new(ErrorKind::Internal, "polled after completion")))),
            StateProjected::Sent {
                response,
                deadline,
                timeout,
                target,
                active,
            } => {
                if let Poll::Ready(result) = response.poll(cx) {
                    let mut response = result.map_err(transport_error)?;
                    let (Some(target), Some(active)) = (target.take(), active.take()) else {
                        return Poll::Ready(Err(Error::new(
                            ErrorKind::Internal,
                            "polled after completion",
                        )));
                    };
                    response.extensions_mut().insert(target);
                    return Poll::Ready(Ok(response.map(|body| MeshBody::new(body, active))));
                }
                if let Some(deadline) = deadline.as_pin_mut()
                    && deadline.poll(cx).is_ready()
                {
                    active.take();
                    return Poll::Ready(Err(Error::new(
                        ErrorKind::Timeout,
                        format!("route timeout of {timeout:?} elapsed"),
                    )));
                }
                Poll::Pending
            }
        }
    }
}
