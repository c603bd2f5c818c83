//! Which traces are recorded.
//!
//! Parent-based by default, as OpenTelemetry's default sampler: a request
//! that arrives inside a trace follows its caller's decision (so a trace
//! is whole or absent); a request that starts a trace is sampled with the
//! configured probability, decided from its trace id (OpenTelemetry's
//! `TraceIdRatioBased`: the same id gets the same answer everywhere), as
//! does one whose caller deferred the decision (B3 without a flag).

use super::context::SpanContext;

/// The sampling rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    /// The share of new traces recorded, from 0 to 1.
    pub ratio: f64,
    /// Whether a caller's decision wins over the ratio.
    pub parent_based: bool,
}

impl Default for Sampler {
    /// Parent-based, recording 1 % of new traces.
    fn default() -> Self {
        Self {
            ratio: 0.01,
            parent_based: true,
        }
    }
}

impl Sampler {
    /// Records every trace.
    pub const ALWAYS: Self = Self {
        ratio: 1.0,
        parent_based: false,
    };

    /// Records nothing.
    pub const NEVER: Self = Self {
        ratio: 0.0,
        parent_based: false,
    };

    /// Whether the trace `trace_id`, under `parent` if any, is recorded.
    #[inline]
    pub fn samples(&self, parent: Option<&SpanContext>, trace_id: &[u8; 16]) -> bool {
        if self.parent_based
            && let Some(parent) = parent.filter(|p| !p.deferred)
        {
            return parent.sampled;
        }
        if self.ratio >= 1.0 {
            return true;
        }
        if self.ratio <= 0.0 || self.ratio.is_nan() {
            return false;
        }
        // The id's low 63 bits against the ratio's share of them.
        let mut low = [0; 8];
        low.copy_from_slice(&trace_id[8..]);
        let value = u64::from_be_bytes(low) >> 1;
        (value as f64) < self.ratio * (1u64 << 63) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{MeshRng, SeededRng};

    #[test]
    fn a_parent_decides_and_new_traces_follow_the_ratio() {
        let parent = SpanContext {
            trace_id: [1; 16],
            span_id: [1; 8],
            sampled: true,
            deferred: false,
        };
        let never_new = Sampler {
            ratio: 0.0,
            parent_based: true,
        };
        assert!(never_new.samples(Some(&parent), &[0; 16]));
        assert!(!never_new.samples(None, &[7; 16]));
        assert!(!Sampler::NEVER.samples(Some(&parent), &[1; 16]));
        let deferred = SpanContext {
            sampled: false,
            deferred: true,
            ..parent
        };
        assert!(Sampler::ALWAYS.samples(Some(&deferred), &[1; 16]));
        let parent_based_always = Sampler {
            ratio: 1.0,
            parent_based: true,
        };
        assert!(
            parent_based_always.samples(Some(&deferred), &[1; 16]),
            "the ratio decides"
        );
        let quarter = Sampler {
            ratio: 0.25,
            parent_based: true,
        };
        let mut rng = SeededRng::new(7);
        let sampled = (0..10_000)
            .filter(|_| {
                let mut id = [0; 16];
                id[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
                quarter.samples(None, &id)
            })
            .count();
        assert!((2_200..2_800).contains(&sampled), "{sampled} of 10 000");
    }
}
