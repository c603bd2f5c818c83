//! What the Istio loader must know about the caller it loads for.
//!
//! istiod tailors each proxy's endpoints to where that proxy runs
//! (`localityLbSetting`, see [`super::locality`]); it learns the proxy's
//! locality and labels from the proxy's node metadata. A static loader
//! has no such channel, so the embedding application says where it runs.
//! Without a caller locality no locality rule applies, and the result is
//! the same as loading without options.

use crate::config::{Labels, Locality};

/// Options for [`load_with`](super::load_with) and friends.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    caller_locality: Option<Locality>,
    caller_labels: Labels,
}

impl LoadOptions {
    /// No caller locality, no caller labels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the caller runs: endpoints are prioritized (or weighted by
    /// `distribute`) relative to it.
    #[must_use]
    pub fn caller_locality(mut self, locality: Locality) -> Self {
        self.caller_locality = Some(locality);
        self
    }

    /// The caller's labels, which `failoverPriority` compares with the
    /// endpoints' (e.g. `topology.istio.io/network`).
    #[must_use]
    pub fn caller_labels(mut self, labels: Labels) -> Self {
        self.caller_labels = labels;
        self
    }

    pub(crate) fn locality(&self) -> Option<&Locality> {
        self.caller_locality.as_ref()
    }

    pub(crate) fn labels(&self) -> &Labels {
        &self.caller_labels
    }
}
