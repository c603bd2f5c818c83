//! The asynchronous entry: a request handed to the engine's runtime and
//! answered through a callback, for hosts with an event loop of their own
//! (Python's asyncio, a JVM's futures) that must not block a thread per
//! call.
//!
//! The callback runs exactly once: on an engine thread when the request
//! ends (with [`ErrorKind::Internal`] if it panicked), or, should its task
//! never run to the end (the engine closing under it), with
//! [`ErrorKind::Closed`] as the task is dropped, on the thread that closes
//! the engine. A host future waiting on it is therefore always answered.

use mesh_core::{Error, ErrorKind};

use crate::response::HttpResponse;

/// What a submitted request calls when it ends.
pub(crate) struct Completion<F: FnOnce(Result<HttpResponse, Error>)> {
    done: Option<F>,
}

impl<F: FnOnce(Result<HttpResponse, Error>)> Completion<F> {
    pub(crate) fn new(done: F) -> Self {
        Self { done: Some(done) }
    }

    /// Answers the request.
    pub(crate) fn complete(mut self, result: Result<HttpResponse, Error>) {
        if let Some(done) = self.done.take() {
            done(result);
        }
    }
}

impl<F: FnOnce(Result<HttpResponse, Error>)> Drop for Completion<F> {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done(Err(Error::new(
                ErrorKind::Closed,
                "the engine closed before the request ended",
            )));
        }
    }
}
