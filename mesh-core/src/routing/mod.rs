//! Routing: from a request to a route and one of its backends, without I/O.
//!
//! A route table is searched the way Envoy searches a `RouteConfiguration`:
//! the virtual host by the request's authority (exact, then the longest
//! suffix wildcard, the longest prefix wildcard, then `*`), then its routes
//! in order, the first whose match holds winning. A weighted destination
//! then draws one arm with the injected random generator.

mod hash;
mod matching;

pub use hash::request_hash;
pub use matching::route_matches;

use crate::RequestHead;
use crate::config::{Backend, Destination, RouteTable};
use crate::rng::MeshRng;

/// Where in a table a request landed: virtual host and route indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteIndex {
    /// Index of the virtual host.
    pub virtual_host: usize,
    /// Index of the route inside it.
    pub route: usize,
}

/// Why a table did not route a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrouted {
    /// No virtual host serves the authority.
    NoVirtualHost,
    /// The virtual host has no route that matches.
    NoRoute,
}

/// The first route of the right virtual host that `request` satisfies
/// (`rng` draws for fractional routes).
pub fn select_route(
    table: &RouteTable,
    request: &RequestHead<'_>,
    rng: &mut dyn MeshRng,
) -> Result<RouteIndex, Unrouted> {
    let virtual_host = table
        .virtual_host_for(request.authority)
        .ok_or(Unrouted::NoVirtualHost)?;
    let routes = &table.virtual_hosts()[virtual_host].routes;
    let route = routes
        .iter()
        .position(|r| route_matches(&r.matcher, request, rng))
        .ok_or(Unrouted::NoRoute)?;
    Ok(RouteIndex {
        virtual_host,
        route,
    })
}

/// Draws the backend of `destination`: the only one, or a weighted arm.
/// Returns the arm's index (in [`Destination::backends`] order) with it.
pub fn choose_backend<'d>(
    destination: &'d Destination,
    rng: &mut dyn MeshRng,
) -> (usize, &'d Backend) {
    match destination {
        Destination::Backend(backend) => (0, backend),
        Destination::Weighted(split) => {
            let point = rng.below(u64::from(split.total())) as u32;
            split.select(point)
        }
    }
}
