//! Where submitted requests land, for one asyncio event loop.
//!
//! An engine thread finishing a request must not take the GIL: it would
//! wait for Python's thread (up to the interpreter's switch interval) while
//! every other request on that thread waits too. So the engine thread only
//! queues the result and, when the queue was empty, writes one byte to a
//! socket pair; the event loop watches the other end (`loop.add_reader`)
//! and, holding the GIL it already has, [`Completions::drain`]s the queue
//! and resolves the futures. One wake-up serves every result queued
//! before it.

use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use facade::{Error, HttpResponse};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use crate::errors;
use crate::response::Response;

/// A finished request: its token and how it ended.
type Finished = (u64, Result<HttpResponse, Error>);

/// The results queued for one event loop, and the socket pair that
/// wakes it.
#[pyclass(frozen, module = "proxyless_mesh._native")]
#[derive(Debug)]
pub(crate) struct Completions {
    queue: Arc<Queue>,
    /// The end the event loop watches.
    reader: UnixStream,
}

#[derive(Debug)]
pub(crate) struct Queue {
    finished: Mutex<Vec<Finished>>,
    /// The end engine threads write a wake-up byte to.
    writer: UnixStream,
}

impl Queue {
    /// Queues a result (on an engine thread; no GIL).
    pub(crate) fn push(&self, token: u64, result: Result<HttpResponse, Error>) {
        let mut finished = self
            .finished
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let wake = finished.is_empty();
        finished.push((token, result));
        drop(finished);
        if wake {
            // A full socket buffer means wake-ups are already pending:
            // the reader drains the whole queue on any of them.
            let _ = (&self.writer).write(&[1]);
        }
    }
}

impl Completions {
    pub(crate) fn queue(&self) -> Arc<Queue> {
        Arc::clone(&self.queue)
    }
}

#[pymethods]
impl Completions {
    #[new]
    fn new() -> PyResult<Self> {
        let os_error = |e: std::io::Error| PyOSError::new_err(format!("socket pair: {e}"));
        let (reader, writer) = UnixStream::pair().map_err(os_error)?;
        reader.set_nonblocking(true).map_err(os_error)?;
        writer.set_nonblocking(true).map_err(os_error)?;
        Ok(Self {
            queue: Arc::new(Queue {
                finished: Mutex::new(Vec::new()),
                writer,
            }),
            reader,
        })
    }

    /// The file descriptor to watch for reading.
    fn fileno(&self) -> i32 {
        self.reader.as_raw_fd()
    }

    /// Consumes the wake-ups and returns every queued result as
    /// `(token, ok, value)`: a `Response` when `ok`, else the exception
    /// to raise.
    fn drain(&self, py: Python<'_>) -> PyResult<Vec<(u64, bool, Py<PyAny>)>> {
        let mut buffer = [0u8; 256];
        loop {
            match (&self.reader).read(&mut buffer) {
                Ok(0) => break,
                Ok(n) if n < buffer.len() => break,
                Ok(_) => continue,
                Err(e) if e.kind() == IoErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let finished = std::mem::take(
            &mut *self
                .queue
                .finished
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        finished
            .into_iter()
            .map(|(token, result)| {
                Ok(match result {
                    Ok(response) => (
                        token,
                        true,
                        Py::new(py, Response::new(py, response)?)?.into_any(),
                    ),
                    Err(error) => (
                        token,
                        false,
                        errors::to_py(py, &error).into_value(py).into_any(),
                    ),
                })
            })
            .collect()
    }
}
