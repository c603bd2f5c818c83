//! A span being recorded, and the record it becomes.

use std::time::SystemTime;

use super::context::SpanContext;
use crate::rng::MeshRng;

/// OpenTelemetry's span kinds that the mesh records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// The request through the mesh, around its attempts.
    Internal,
    /// One attempt, sent to an endpoint.
    Client,
    /// A request received (the inbound layer).
    Server,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Str(String),
    /// A number.
    Int(i64),
    /// A flag.
    Bool(bool),
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Self::Str(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Self::Str(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

/// A finished span, as exported.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// Its trace and id.
    pub context: SpanContext,
    /// Its parent's id, if any.
    pub parent: Option<[u8; 8]>,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: SpanKind,
    /// When it started.
    pub start: SystemTime,
    /// When it ended.
    pub end: SystemTime,
    /// Its attributes, in the order set.
    pub attributes: Vec<(&'static str, Value)>,
    /// The error it ended with, if any.
    pub error: Option<String>,
}

/// A sampled span being recorded; [`Tracer::end`](super::Tracer::end)
/// records it.
#[derive(Debug)]
pub struct OpenSpan {
    pub(super) record: SpanRecord,
}

impl OpenSpan {
    pub(super) fn new(
        context: SpanContext,
        parent: Option<[u8; 8]>,
        name: String,
        kind: SpanKind,
    ) -> Self {
        Self {
            record: SpanRecord {
                context,
                parent,
                name,
                kind,
                start: SystemTime::now(),
                end: SystemTime::UNIX_EPOCH,
                attributes: Vec::new(),
                error: None,
            },
        }
    }

    /// Its trace and id: what goes into `traceparent` for its children.
    pub fn context(&self) -> SpanContext {
        self.record.context
    }

    /// A child span, starting now, in the same (sampled) trace.
    pub fn child(&self, name: impl Into<String>, kind: SpanKind, rng: &mut dyn MeshRng) -> Self {
        let context = SpanContext {
            span_id: span_id(rng),
            ..self.record.context
        };
        Self::new(
            context,
            Some(self.record.context.span_id),
            name.into(),
            kind,
        )
    }

    /// Sets an attribute.
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        self.record.attributes.push((key, value.into()));
    }

    /// Marks the span failed.
    pub fn fail(&mut self, error: impl Into<String>) {
        self.record.error = Some(error.into());
    }

    /// The attributes set so far.
    pub fn attributes(&self) -> &[(&'static str, Value)] {
        &self.record.attributes
    }
}

/// A random span id (never zero).
pub(super) fn span_id(rng: &mut dyn MeshRng) -> [u8; 8] {
    (rng.next_u64() | 1).to_be_bytes()
}

/// A random trace id (never zero).
pub(super) fn trace_id(rng: &mut dyn MeshRng) -> [u8; 16] {
    let mut id = [0; 16];
    id[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
    id[8..].copy_from_slice(&(rng.next_u64() | 1).to_be_bytes());
    id
}
