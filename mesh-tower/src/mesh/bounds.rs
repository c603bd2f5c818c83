//! What the attempt loop asks of a transport and of a request body, said
//! once (the loop's functions would otherwise repeat the same seven
//! bounds each).

use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::BoxError;
use crate::retry::ReplayBody;

/// A transport the loop can clone per attempt and drive from a spawned
/// task (mirrors): any `Service` taking replayable bodies.
pub(crate) trait Transport<B, R>:
    Service<Request<ReplayBody<B>>, Response = Response<R>, Error: Into<BoxError>, Future: Send>
    + Clone
    + Send
    + 'static
{
}

impl<T, B, R> Transport<B, R> for T where
    T: Service<Request<ReplayBody<B>>, Response = Response<R>, Error: Into<BoxError>, Future: Send>
        + Clone
        + Send
        + 'static
{
}

/// A caller's request body the loop can read up front or replay.
pub(crate) trait RequestBody:
    Body<Data: bytes::Buf, Error: Into<BoxError>> + Send + 'static
{
}

impl<B> RequestBody for B where B: Body<Data: bytes::Buf, Error: Into<BoxError>> + Send + 'static {}

/// A response body the loop hands back.
pub(crate) trait ResponseBody: Body + Send + 'static {}

impl<R> ResponseBody for R where R: Body + Send + 'static {}
