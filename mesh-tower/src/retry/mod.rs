//! Retries: sending a request again when an attempt fails, as mesh-core's
//! [`RetryState`](mesh_core::resilience::retry::RetryState) decides.
//!
//! This folder holds the parts that touch real requests; the decisions
//! (conditions, backoff, budget, hedging) are mesh-core's.

mod replay_body;
mod replay_head;

pub use replay_body::{DEFAULT_REPLAY_LIMIT, ReplayBody, Replayer};
pub(crate) use replay_head::ReplayHead;
