//! The policy JSON.
