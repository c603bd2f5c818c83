//! Placeholder, replaced by the real picker.
use super::{EndpointSlot, Picker};
use crate::rng::MeshRng;
use std::sync::Arc;
/// Placeholder.
#[derive(Debug)]
pub struct LeastRequest;
impl LeastRequest {
    /// Placeholder.
    pub fn new(_endpoints: &[Arc<EndpointSlot>], _choice_count: u32) -> Self {
        Self
    }
}
impl Picker for LeastRequest {
    fn pick(&self, _hash: Option<u64>, _rng: &mut dyn MeshRng) -> Option<usize> {
        None
    }
}
