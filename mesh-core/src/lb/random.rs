//! Placeholder, replaced by the real picker.
use super::{EndpointSlot, Picker};
use crate::rng::MeshRng;
use std::sync::Arc;
/// Placeholder.
#[derive(Debug)]
pub struct WeightedRandom;
impl WeightedRandom {
    /// Placeholder.
    pub fn new(_endpoints: &[Arc<EndpointSlot>]) -> Self {
        Self
    }
}
impl Picker for WeightedRandom {
    fn pick(&self, _hash: Option<u64>, _rng: &mut dyn MeshRng) -> Option<usize> {
        None
    }
}
