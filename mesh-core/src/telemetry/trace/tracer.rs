//! The tracer: samples requests, opens their spans, and hands finished
//! spans to the exporter through a bounded queue.
//!
//! A request never waits for the exporter: a span that finds the queue
//! full is dropped and counted (`dropped_queue_full`), so a slow or
//! absent collector costs spans, never latency or unbounded memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use tokio::sync::mpsc;

use super::context::{Propagation, SpanContext};
use super::sampler::Sampler;
use super::span::{OpenSpan, SpanKind, SpanRecord, span_id, trace_id};
use crate::rng::MeshRng;

/// How a tracer samples and propagates.
#[derive(Debug, Clone, Copy)]
pub struct TracerConfig {
    /// Which traces are recorded.
    pub sampler: Sampler,
    /// Which headers carry the context to endpoints.
    pub propagation: Propagation,
    /// Finished spans waiting for export, at most.
    pub queue_capacity: usize,
}

impl Default for TracerConfig {
    fn default() -> Self {
        Self {
            sampler: Sampler::default(),
            propagation: Propagation::default(),
            queue_capacity: 2_048,
        }
    }
}

/// What the tracer did with spans.
#[derive(Debug, Default)]
pub struct TraceStats {
    /// Spans recorded (sampled and ended).
    pub ended: AtomicU64,
    /// Spans the exporter delivered.
    pub exported: AtomicU64,
    /// Spans dropped because the queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Spans dropped because their export failed.
    pub dropped_export_failed: AtomicU64,
}

impl TraceStats {
    fn load(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// `(ended, exported, dropped because full, dropped on failure)`.
    pub fn read(&self) -> (u64, u64, u64, u64) {
        (
            Self::load(&self.ended),
            Self::load(&self.exported),
            Self::load(&self.dropped_queue_full),
            Self::load(&self.dropped_export_failed),
        )
    }
}

/// The spans waiting for export: the exporter's end of the queue.
#[derive(Debug)]
pub struct SpanQueue {
    pub(super) receiver: mpsc::Receiver<SpanRecord>,
    pub(super) stats: Arc<TraceStats>,
}

impl SpanQueue {
    /// Takes every span queued now, without waiting (so no producer ever
    /// wakes the consumer); `None` once every tracer is dropped and the
    /// queue is empty.
    pub fn drain(&mut self) -> Option<Vec<SpanRecord>> {
        let mut spans = Vec::new();
        loop {
            match self.receiver.try_recv() {
                Ok(span) => spans.push(span),
                Err(mpsc::error::TryRecvError::Empty) => return Some(spans),
                Err(mpsc::error::TryRecvError::Disconnected) if spans.is_empty() => return None,
                Err(mpsc::error::TryRecvError::Disconnected) => return Some(spans),
            }
        }
    }
}

/// Samples, opens and queues spans.
#[derive(Debug)]
pub struct Tracer {
    config: TracerConfig,
    queue: mpsc::Sender<SpanRecord>,
    stats: Arc<TraceStats>,
}

impl Tracer {
    /// A tracer and the queue its exporter reads.
    pub fn new(config: TracerConfig) -> (Self, SpanQueue) {
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let stats = Arc::new(TraceStats::default());
        let tracer = Self {
            config,
            queue,
            stats: stats.clone(),
        };
        (tracer, SpanQueue { receiver, stats })
    }

    /// How context goes to endpoints.
    pub fn propagation(&self) -> Propagation {
        self.config.propagation
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<TraceStats> {
        &self.stats
    }

    /// Spans waiting for export now.
    pub fn queued(&self) -> usize {
        self.config.queue_capacity.max(1) - self.queue.capacity()
    }

    /// A span for a request under `parent` (the caller's context), or a
    /// new trace; `None` when the sampler says not to record it.
    #[inline]
    pub fn start(
        &self,
        parent: Option<&SpanContext>,
        name: impl FnOnce() -> String,
        kind: SpanKind,
        rng: &mut dyn MeshRng,
    ) -> Option<OpenSpan> {
        let trace = match parent {
            Some(parent) => parent.trace_id,
            None => trace_id(rng),
        };
        if !self.config.sampler.samples(parent, &trace) {
            return None;
        }
        let context = SpanContext {
            trace_id: trace,
            span_id: span_id(rng),
            sampled: true,
            deferred: false,
        };
        Some(OpenSpan::new(
            context,
            parent.map(|p| p.span_id),
            name(),
            kind,
        ))
    }

    /// Ends `span` now and queues it for export (or drops it, counted,
    /// when the queue is full).
    pub fn end(&self, span: OpenSpan) {
        let mut record = span.record;
        record.end = SystemTime::now();
        self.stats.ended.fetch_add(1, Ordering::Relaxed);
        if self.queue.try_send(record).is_err() {
            self.stats
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (tracer, mut queue) = Tracer::new(TracerConfig {
            sampler: Sampler::ALWAYS,
            queue_capacity: 4,
            ..TracerConfig::default()
        });
        let mut rng = SeededRng::new(3);
        for _ in 0..10 {
            let span = tracer
                .start(None, || "request".into(), SpanKind::Internal, &mut rng)
                .expect("sampled");
            tracer.end(span);
        }
        assert_eq!(tracer.queued(), 4);
        let (ended, _, full, _) = tracer.stats().read();
        assert_eq!((ended, full), (10, 6));
        assert!(queue.receiver.try_recv().is_ok());
        assert_eq!(tracer.queued(), 3);
    }

    #[test]
    fn children_share_the_trace_and_name_their_parent() {
        let (tracer, _queue) = Tracer::new(TracerConfig {
            sampler: Sampler::ALWAYS,
            ..TracerConfig::default()
        });
        let mut rng = SeededRng::new(5);
        let parent = SpanContext {
            trace_id: [9; 16],
            span_id: [8; 8],
            sampled: true,
            deferred: false,
        };
        let request = tracer
            .start(Some(&parent), || "r".into(), SpanKind::Internal, &mut rng)
            .unwrap();
        assert_eq!(request.context().trace_id, [9; 16]);
        assert_eq!(request.record.parent, Some([8; 8]));
        let attempt = request.child("GET", SpanKind::Client, &mut rng);
        assert_eq!(attempt.record.parent, Some(request.context().span_id));
        assert_ne!(attempt.context().span_id, request.context().span_id);
        let unsampled = SpanContext {
            sampled: false,
            ..parent
        };
        let (parent_based, _q) = Tracer::new(TracerConfig::default());
        assert!(
            parent_based
                .start(
                    Some(&unsampled),
                    || "r".into(),
                    SpanKind::Internal,
                    &mut rng
                )
                .is_none()
        );
    }
}
