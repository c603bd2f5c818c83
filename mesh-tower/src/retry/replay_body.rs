//! A request body that can be sent again.
//!
//! Retrying a request means sending its body again, but request bodies
//! are streams: read once, gone. [`ReplayBody`] wraps the caller's body
//! for the first attempt and records what it yields (data and trailers),
//! up to a cap; a retry gets a [`ReplayBody::replay`] of the recording.
//!
//! A body whose size is known to fit under the cap (a unary request's,
//! usually: one ready frame) is read up front instead
//! ([`ReplayBody::retryable`]), so even an attempt that failed before
//! sending a byte of it, such as one whose connection was refused, can be
//! retried. Otherwise a replay exists only when the first attempt sent the
//! whole body and the whole body fit under the cap. A body larger than the cap, or one the
//! first attempt did not finish sending (it failed mid-upload), is not
//! retried: Envoy's rule for bodies past its buffer limit. The recording
//! costs reference counts, not copies (`Bytes` chunks are shared), and a
//! request whose route does not retry is not recorded at all.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// The default cap on a recorded body: 1 MiB, what Envoy buffers for a
/// retry by default (`per_connection_buffer_limit_bytes`) and gRPC-Java's
/// per-call retry buffer.
pub const DEFAULT_REPLAY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Default)]
struct Recording {
    chunks: Vec<Bytes>,
    trailers: Option<HeaderMap>,
    bytes: usize,
    complete: bool,
    overflowed: bool,
}

pin_project! {
    /// A request body the mesh may send more than once.
    #[derive(Debug)]
    pub struct ReplayBody<B> {
        #[pin]
        inner: Inner<B>,
    }
}

pin_project! {
    #[project = Projected]
    #[derive(Debug)]
    enum Inner<B> {
        /// The caller's body, passed through and recorded.
        Recording {
            #[pin]
            body: B,
            recording: Arc<Mutex<Recording>>,
            limit: usize,
        },
        /// The caller's body, passed through unrecorded (no retries).
        Passthrough {
            #[pin]
            body: B,
        },
        /// A recorded body, sent again (trailers boxed: rare, and the
        /// body rides in every request's future).
        Replay {
            chunks: Vec<Bytes>,
            next: usize,
            trailers: Option<Box<HeaderMap>>,
        },
    }
}

/// A handle on a recording, to replay it for a retry.
#[derive(Debug, Clone)]
pub struct Replayer {
    /// `None` for an empty body: nothing to record, always replayable
    /// (most requests that retry are bodiless GETs; they allocate nothing).
    recording: Option<Arc<Mutex<Recording>>>,
}

impl<B> ReplayBody<B> {
    /// Wraps `body` for an attempt that may be retried; bodies past
    /// `limit` bytes are not recorded.
    pub fn recording(body: B, limit: usize) -> (Self, Replayer) {
        let recording = Arc::new(Mutex::new(Recording::default()));
        let replayer = Replayer {
            recording: Some(recording.clone()),
        };
        let inner = Inner::Recording {
            body,
            recording,
            limit,
        };
        (Self { inner }, replayer)
    }

    /// Wraps `body` for a request that may be retried: read up front when
    /// its size hint says it fits under `limit`, else recorded as the first
    /// attempt streams it. Fails when reading the body up front fails.
    pub async fn retryable(body: B, limit: usize) -> Result<(Self, Replayer), B::Error>
    where
        B: Body,
        B::Data: Buf,
    {
        if body.is_end_stream() {
            return Ok((Self::empty(), Replayer { recording: None }));
        }
        let fits = body.size_hint().upper().is_some_and(|n| n <= limit as u64);
        if !fits {
            return Ok(Self::recording(body, limit));
        }
        let mut recording = Recording::default();
        let mut body = std::pin::pin!(body);
        while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            let frame = frame?;
            if let Some(trailers) = frame.trailers_ref() {
                recording.trailers = Some(trailers.clone());
            } else if let Ok(data) = frame.into_data() {
                let data = into_bytes(data);
                recording.bytes += data.len();
                recording.chunks.push(data);
            }
        }
        recording.complete = true;
        let replayer = Replayer {
            recording: Some(Arc::new(Mutex::new(recording))),
        };
        let body = replayer.replay().unwrap_or_else(|| Self::empty());
        Ok((body, replayer))
    }

    fn empty() -> Self {
        Self {
            inner: Inner::Replay {
                chunks: Vec::new(),
                next: 0,
                trailers: None,
            },
        }
    }

    /// Wraps `body` for a request that is never retried.
    pub fn passthrough(body: B) -> Self {
        Self {
            inner: Inner::Passthrough { body },
        }
    }
}

impl Replayer {
    /// The body again, if the first attempt sent all of it and it fit.
    pub fn replay<B>(&self) -> Option<ReplayBody<B>> {
        let Some(recording) = &self.recording else {
            return Some(ReplayBody::empty());
        };
        let recording = recording.lock().unwrap_or_else(|p| p.into_inner());
        (recording.complete && !recording.overflowed).then(|| ReplayBody {
            inner: Inner::Replay {
                chunks: recording.chunks.clone(),
                next: 0,
                trailers: recording.trailers.clone().map(Box::new),
            },
        })
    }

    /// Whether [`Self::replay`] would give a body now.
    pub fn is_replayable(&self) -> bool {
        self.recording.as_ref().is_none_or(|recording| {
            let recording = recording.lock().unwrap_or_else(|p| p.into_inner());
            recording.complete && !recording.overflowed
        })
    }
}

impl<B> Body for ReplayBody<B>
where
    B: Body,
    B::Data: Buf,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project().inner.project() {
            Projected::Passthrough { body } => body
                .poll_frame(cx)
                .map(|frame| frame.map(|f| f.map(|f| f.map_data(into_bytes)))),
            Projected::Recording {
                body,
                recording,
                limit,
            } => {
                let polled = body.poll_frame(cx);
                let mut r = recording.lock().unwrap_or_else(|p| p.into_inner());
                match polled {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(None) => {
                        r.complete = true;
                        Poll::Ready(None)
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(Some(Ok(frame))) => {
                        let frame = frame.map_data(into_bytes);
                        if !r.overflowed {
                            if let Some(data) = frame.data_ref() {
                                r.bytes += data.len();
                                if r.bytes > *limit {
                                    r.overflowed = true;
                                    r.chunks = Vec::new();
                                } else {
                                    r.chunks.push(data.clone());
                                }
                            } else if let Some(trailers) = frame.trailers_ref() {
                                r.trailers = Some(trailers.clone());
                            }
                        }
                        Poll::Ready(Some(Ok(frame)))
                    }
                }
            }
            Projected::Replay {
                chunks,
                next,
                trailers,
            } => {
                if let Some(chunk) = chunks.get(*next) {
                    *next += 1;
                    return Poll::Ready(Some(Ok(Frame::data(chunk.clone()))));
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(*t))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Passthrough { body } | Inner::Recording { body, .. } => body.is_end_stream(),
            Inner::Replay {
                chunks,
                next,
                trailers,
            } => *next >= chunks.len() && trailers.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Passthrough { body } | Inner::Recording { body, .. } => body.size_hint(),
            Inner::Replay { chunks, next, .. } => {
                SizeHint::with_exact(chunks[*next..].iter().map(|c| c.len() as u64).sum())
            }
        }
    }
}

fn into_bytes(mut data: impl Buf) -> Bytes {
    data.copy_to_bytes(data.remaining())
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, Full, StreamBody};

    use super::*;

    async fn collect<B: Body<Data = Bytes>>(body: B) -> (Bytes, Option<HeaderMap>)
    where
        B::Error: std::fmt::Debug,
    {
        let collected = body.collect().await.expect("body");
        let trailers = collected.trailers().cloned();
        (collected.to_bytes(), trailers)
    }

    #[tokio::test]
    async fn a_fully_sent_body_replays_identically() {
        let (body, replayer) =
            ReplayBody::recording(Full::new(Bytes::from_static(b"order 42")), 1024);
        assert!(!replayer.is_replayable(), "nothing sent yet");
        assert_eq!(collect(body).await.0, "order 42");
        let again: ReplayBody<Full<Bytes>> = replayer.replay().expect("replayable");
        assert!(!again.is_end_stream());
        assert_eq!(again.size_hint().exact(), Some(8));
        assert_eq!(collect(again).await.0, "order 42");
        let third: ReplayBody<Full<Bytes>> = replayer.replay().unwrap();
        assert_eq!(collect(third).await.0, "order 42", "any number of times");
    }

    #[tokio::test]
    async fn chunks_and_trailers_are_replayed() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = vec![
            Ok(Frame::data(Bytes::from_static(b"a"))),
            Ok(Frame::data(Bytes::from_static(b"bc"))),
            Ok(Frame::trailers(trailers.clone())),
        ];
        let stream = StreamBody::new(tokio_stream::iter(frames));
        let (body, replayer) = ReplayBody::recording(stream, 1024);
        assert_eq!(
            collect(body).await,
            (Bytes::from_static(b"abc"), Some(trailers.clone()))
        );
        let again: ReplayBody<Full<Bytes>> = replayer.replay().unwrap();
        assert_eq!(
            collect(again).await,
            (Bytes::from_static(b"abc"), Some(trailers))
        );
    }

    #[tokio::test]
    async fn a_small_body_is_read_up_front_and_replays_unsent() {
        let (first, replayer) =
            ReplayBody::retryable(Full::new(Bytes::from_static(b"order 42")), 1024)
                .await
                .unwrap();
        drop(first);
        let again: ReplayBody<Full<Bytes>> = replayer.replay().expect("replayable unsent");
        assert_eq!(collect(again).await.0, "order 42");
        let (big, replayer) = ReplayBody::retryable(Full::new(Bytes::from(vec![1u8; 10])), 9)
            .await
            .unwrap();
        assert!(!replayer.is_replayable(), "too big: recorded as it streams");
        assert_eq!(collect(big).await.0.len(), 10);
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_not_replayable() {
        let (body, replayer) = ReplayBody::recording(Full::new(Bytes::from(vec![7u8; 100])), 99);
        assert_eq!(collect(body).await.0.len(), 100, "still sent in full");
        assert!(replayer.replay::<Full<Bytes>>().is_none());
    }

    #[tokio::test]
    async fn a_body_not_sent_to_the_end_is_not_replayable() {
        let (body, replayer) = ReplayBody::recording(Full::new(Bytes::from_static(b"x")), 10);
        drop(body);
        assert!(replayer.replay::<Full<Bytes>>().is_none());
    }
}
