//! State-machine tests of the xDS client, named after the rule each one
//! proves. No sockets: events in, requests and configurations out, with
//! time passed explicitly.

mod delta;
mod fixtures;
mod fuzz;
mod persist;
mod sotw;
mod subscriptions;
