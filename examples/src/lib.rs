//! The pieces the examples (and the end-to-end tests) share: loopback
//! backends that say who they are, a small gRPC service, and the
//! order-service scenario with its ports filled in.

pub mod backend;
pub mod greeter;
pub mod scenario;
