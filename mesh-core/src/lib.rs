//! mesh-core: the logic of the embeddable service mesh, sans-IO but for
//! the xDS stream.
//!
//! Configuration comes in through [`source`] and becomes the validated
//! [`config`] model; [`routing`] maps a request to a route and a weighted
//! backend; [`lb`] picks an endpoint. A [`Snapshot`] bundles one
//! configuration with its balancers and is what a request reads, start to
//! end; [`SnapshotHandle`] swaps snapshots atomically. [`xds`] keeps a
//! handle up to date from a control plane: a sans-IO state machine plus
//! the one I/O task of this crate (an ADS stream). Request transport
//! lives in `mesh-tower`.

pub mod config;
pub mod decide;
pub mod error;
pub mod fast_hash;
pub mod lb;
mod request;
pub mod resilience;
pub mod rng;
pub mod routing;
mod snapshot;
pub mod source;
pub mod telemetry;
pub mod xds;

pub use error::{Error, ErrorKind};
pub use request::{RequestHead, is_grpc};
pub use snapshot::{ArmTarget, MirrorTarget, Picked, RouteRef, Routed, Snapshot, SnapshotHandle};
