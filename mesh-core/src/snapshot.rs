//! Snapshot placeholder.
/// Placeholder.
#[derive(Debug)]
pub struct Snapshot;
/// Placeholder.
#[derive(Debug)]
pub struct SnapshotHandle;
/// Placeholder.
#[derive(Debug)]
pub struct Routed;
/// Placeholder.
#[derive(Debug)]
pub struct Picked;
