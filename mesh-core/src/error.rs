//! The one error type the engine shows the outside, and its stable kinds.
//!
//! Inside, each module has its own `thiserror` type; at the engine's edge
//! they become an [`Error`]: a stable [`ErrorKind`] that code matches on
//! (and that every binding maps to a C code, a Python exception class, a
//! Java code and a Go error value) plus a message for people.

use std::fmt;

use crate::config::ConfigError;

/// The stable classification of every failure. New kinds may be added;
/// existing ones never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No listener, virtual host or route matches the request.
    NoRoute,
    /// The chosen cluster or subset has no usable endpoint.
    NoHealthyEndpoint,
    /// Configuration was rejected.
    ConfigInvalid,
    /// The request itself is malformed (bad URI, header, method).
    InvalidRequest,
    /// A timeout elapsed.
    Timeout,
    /// A circuit breaker or limit refused the request.
    Overloaded,
    /// A local rate limit refused the request.
    RateLimited,
    /// Connecting to or talking with the endpoint failed.
    Transport,
    /// The engine was used after being closed.
    Closed,
    /// A bug: something that should not happen did.
    Internal,
    /// The caller cancelled the request.
    Cancelled,
    /// A request or response body is larger than the engine accepts.
    BodyTooLarge,
    /// An API was misused: a missing (NULL) or unknown handle, text that
    /// is not UTF-8 where text is required. Bindings return it for what
    /// their language cannot rule out at compile time.
    InvalidArgument,
}

impl ErrorKind {
    /// A stable, lower-case name (`no_route`, ...), used in logs, metrics
    /// and by the bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoRoute => "no_route",
            Self::NoHealthyEndpoint => "no_healthy_endpoint",
            Self::ConfigInvalid => "config_invalid",
            Self::InvalidRequest => "invalid_request",
            Self::Timeout => "timeout",
            Self::Overloaded => "overloaded",
            Self::RateLimited => "rate_limited",
            Self::Transport => "transport",
            Self::Closed => "closed",
            Self::Internal => "internal",
            Self::Cancelled => "cancelled",
            Self::BodyTooLarge => "body_too_large",
            Self::InvalidArgument => "invalid_argument",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of the engine: a kind for code, a message for people, and
/// the underlying cause when there is one.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, for people.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::new(ErrorKind::ConfigInvalid, e.to_string())
    }
}
