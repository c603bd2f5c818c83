//! The response future: the transport's, bounded by the route timeout,
//! holding the endpoint's active-request count until it completes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use mesh_core::lb::ActiveRequest;
use mesh_core::{Error, ErrorKind};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::service::transport_error;

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
            active: Option<ActiveRequest>,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn failed(error: Error) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }

    pub(super) fn sent(response: F, active: ActiveRequest, timeout: Option<Duration>) -> Self {
        Self {
            state: State::Sent {
                response,
                deadline: timeout.map(tokio::time::sleep),
                timeout: timeout.unwrap_or_default(),
                active: Some(active),
            },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProjected::Failed { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| Error::new(ErrorKind::Internal, "polled after completion")))),
            StateProjected::Sent {
                response,
                deadline,
                timeout,
                active,
            } => {
                if let Poll::Ready(result) = response.poll(cx) {
                    active.take();
                    return Poll::Ready(result.map_err(transport_error));
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
