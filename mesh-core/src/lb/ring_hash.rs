//! Placeholder, replaced by the real picker.
use super::{EndpointSlot, Picker};
use crate::rng::MeshRng;
use std::sync::Arc;
/// Placeholder.
#[derive(Debug)]
pub struct RingHash;
impl RingHash {
    /// Placeholder.
    pub fn new(_endpoints: &[Arc<EndpointSlot>], _min: u64, _max: u64) -> Self {
        Self
    }
}
impl Picker for RingHash {
    fn pick(&self, _hash: Option<u64>, _rng: &mut dyn MeshRng) -> Option<usize> {
        None
    }
}
