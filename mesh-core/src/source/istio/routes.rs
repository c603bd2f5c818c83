//! `http[]` of a VirtualService → the routes of one listener.
//!
//! Each `http` entry, in order, becomes one route per applicable `match`
//! block (several blocks are alternatives: same action, Istio's OR), or
//! one match-all route when it has none. The action:
//! - `route[]`: one destination (its weight, if any, is moot) or a
//!   weighted split; weights are relative (need not sum to 100), arms of
//!   weight 0 are dropped as Istio drops them, and an all-zero split is an
//!   error. A destination's `port.number` defaults to the only port of a
//!   declared service, else the listener's port; `subset` must be one the
//!   host's DestinationRule defines.
//! - `timeout` (`0s` or absent: none); it also caps a gRPC request's
//!   `grpc-timeout`, as the proxyless generator sets `max_stream_duration`.
//! - `retries` (see [`super::retry`]), `fault` (see [`super::fault`]).
//! - `mirror` + `mirrorPercentage.value` (or the deprecated integer
//!   `mirrorPercent`; default 100, 0 turns mirroring off) and the newer
//!   `mirrors[]` list (exclusive with `mirror`).
//! - the consistent-hash policy of each destination host's
//!   DestinationRule.
//! - the route's `name`, joined with the match block's as
//!   `route.match`.
//!
//! Rejected, because the engine cannot carry them out and silently
//! dropping them would send traffic somewhere else: `redirect`,
//! `directResponse`, `delegate`, `rewrite`. Ignored: `headers`
//! manipulation and `corsPolicy` (a browser concern).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::duration;
use super::fault;
use super::host::{self, cluster_name};
use super::matching::route_match;
use super::registry::Registry;
use super::retry;
use super::spec::{DestinationSpec, HttpRouteSpec, RouteDestinationSpec};
use super::values;
use crate::config::{
    Backend, ConfigError, Destination, Fraction, HashPolicy, MirrorPolicy, ResultExt, Route,
    RouteAction, RouteMatch, SubsetRef, WeightedBackend, WeightedBackends,
};

/// The clusters routes refer to, as (host, port).
pub(crate) type ClusterRefs = BTreeSet<(String, u16)>;

/// Converts routes for one listener port, collecting the clusters they
/// use.
#[derive(Debug)]
pub(crate) struct RouteBuilder<'a> {
    registry: &'a Registry,
    listener_port: u16,
    clusters: &'a mut ClusterRefs,
    /// References of the entry being converted, kept only if it yields a
    /// route on this listener.
    pending: Vec<(String, u16)>,
}

impl<'a> RouteBuilder<'a> {
    /// A builder for the listener on `listener_port`, adding the clusters
    /// its routes use to `clusters`.
    pub(crate) fn new(
        registry: &'a Registry,
        listener_port: u16,
        clusters: &'a mut ClusterRefs,
    ) -> Self {
        Self {
            registry,
            listener_port,
            clusters,
            pending: Vec::new(),
        }
    }

    /// The routes of an `http` list; errors are located under `http[i]`.
    pub(crate) fn http_routes(
        &mut self,
        http: &[HttpRouteSpec],
    ) -> Result<Vec<Route>, ConfigError> {
        let mut out = Vec::new();
        for (i, spec) in http.iter().enumerate() {
            self.http_route(spec, &mut out).at(format!("http[{i}]"))?;
        }
        Ok(out)
    }

    fn http_route(
        &mut self,
        spec: &HttpRouteSpec,
        out: &mut Vec<Route>,
    ) -> Result<(), ConfigError> {
        let unsupported = [
            ("redirect", spec.redirect.is_some()),
            ("directResponse", spec.direct_response.is_some()),
            ("delegate", spec.delegate.is_some()),
            ("rewrite", spec.rewrite.is_some()),
        ];
        if let Some((field, _)) = unsupported.iter().find(|(_, set)| *set) {
            return Err(ConfigError::field(
                *field,
                "not supported by the embedded engine",
            ));
        }
        let mut matchers = Vec::with_capacity(spec.matches.len().max(1));
        if spec.matches.is_empty() {
            matchers.push((spec.name.clone(), RouteMatch::any()));
        }
        for (j, block) in spec.matches.iter().enumerate() {
            let Some(matcher) = route_match(block, self.listener_port).at(format!("match[{j}]"))?
            else {
                continue;
            };
            let name = match (spec.name.as_str(), block.name.as_str()) {
                (route, "") => route.to_owned(),
                ("", block) => block.to_owned(),
                (route, block) => format!("{route}.{block}"),
            };
            matchers.push((name, matcher));
        }
        // Validated even when no match block applies to this listener.
        let action = self.action(spec)?;
        if matchers.is_empty() {
            self.pending.clear();
        } else {
            self.clusters.extend(self.pending.drain(..));
        }
        out.extend(matchers.into_iter().map(|(name, matcher)| Route {
            name: name.into(),
            matcher,
            action: action.clone(),
        }));
        Ok(())
    }

    fn action(&mut self, spec: &HttpRouteSpec) -> Result<RouteAction, ConfigError> {
        let (destination, hosts) = self.destination(&spec.route).at("route")?;
        let mut action = RouteAction::to(destination);
        for host in &hosts {
            if let Some(hash) = self.registry.hash_policy(host)
                && !action.hash_policy.contains(hash)
            {
                action.hash_policy.push(hash.clone());
            }
        }
        if let Some(timeout) = &spec.timeout {
            let timeout = duration::parse(timeout).at("timeout")?;
            action.timeout = (!timeout.is_zero()).then_some(timeout);
            action.max_stream_duration = action.timeout;
        }
        action.retry = retry::convert(spec.retries.as_ref())
            .at("retries")?
            .map(Arc::new);
        if let Some(f) = &spec.fault {
            action.fault = fault::convert(f).at("fault")?;
        }
        action.mirrors = self.mirrors(spec)?;
        Ok(action)
    }

    /// The destination of `route[]` and the hosts it sends to. Every
    /// entry is validated; only those kept (weight > 0 in a split) count
    /// as references, as in Istio.
    fn destination(
        &mut self,
        route: &[RouteDestinationSpec],
    ) -> Result<(Destination, Vec<String>), ConfigError> {
        if route.is_empty() {
            return Err(ConfigError::field("", "needs at least one destination"));
        }
        let mut arms = Vec::with_capacity(route.len());
        for (k, entry) in route.iter().enumerate() {
            let at = format!("[{k}]");
            let weight = entry
                .weight
                .map(|w| values::count(w).at("weight"))
                .transpose()
                .at(&at)?;
            let dest = entry
                .destination
                .as_ref()
                .ok_or_else(|| ConfigError::field("destination", "required"))
                .at(&at)?;
            let target = self.backend(dest).at("destination").at(&at)?;
            arms.push((target, weight.unwrap_or(0)));
        }
        if arms.len() > 1 {
            arms.retain(|(_, weight)| *weight > 0);
            if arms.is_empty() {
                return Err(ConfigError::field(
                    "",
                    "the destination weights sum to zero",
                ));
            }
        }
        let mut hosts = Vec::with_capacity(arms.len());
        let mut split = Vec::with_capacity(arms.len());
        for (target, weight) in arms {
            hosts.push(target.host.clone());
            split.push(WeightedBackend {
                backend: self.reference(target),
                weight,
            });
        }
        if route.len() == 1 {
            let only = split.remove(0);
            return Ok((Destination::Backend(only.backend), hosts));
        }
        let split = WeightedBackends::new(split).map_err(|e| ConfigError::field("", e.reason))?;
        Ok((Destination::Weighted(split), hosts))
    }

    /// Resolves a destination to its host, port and subset. Errors are
    /// located inside the destination.
    fn backend(&self, spec: &DestinationSpec) -> Result<Target, ConfigError> {
        let host = host::normalize(&spec.host).at("host")?;
        let explicit = spec
            .port
            .and_then(|p| p.number)
            .map(|n| values::port(n).at("port.number"))
            .transpose()?;
        let port = self
            .registry
            .resolve_port(&host, explicit, self.listener_port)?;
        let subset = spec
            .subset
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| self.registry.subset(&host, s))
            .transpose()?;
        Ok(Target { host, port, subset })
    }

    /// Records that a route uses the target's cluster.
    fn reference(&mut self, target: Target) -> Backend {
        let cluster = Arc::from(cluster_name(&target.host, target.port));
        self.pending.push((target.host, target.port));
        Backend {
            cluster,
            subset: target.subset,
        }
    }

    fn mirrors(&mut self, spec: &HttpRouteSpec) -> Result<Vec<MirrorPolicy>, ConfigError> {
        let mut out = Vec::new();
        if let Some(mirror) = &spec.mirror {
            if !spec.mirrors.is_empty() {
                return Err(ConfigError::field(
                    "mirrors",
                    "mirror and mirrors are mutually exclusive",
                ));
            }
            let fraction = match (spec.mirror_percentage, spec.mirror_percent) {
                (Some(p), _) => values::percent(p).at("mirrorPercentage")?,
                (None, Some(p)) if (0..=100).contains(&p) => Fraction::new(p as u64, 100),
                (None, Some(p)) => {
                    return Err(ConfigError::field(
                        "mirrorPercent",
                        format!("{p} is not within 0..=100"),
                    ));
                }
                (None, None) => Fraction::ALL,
            };
            let target = self.backend(mirror).at("mirror")?;
            if fraction.per_million() > 0 {
                let backend = self.reference(target);
                out.push(MirrorPolicy { backend, fraction });
            }
        }
        for (k, mirror) in spec.mirrors.iter().enumerate() {
            let at = format!("mirrors[{k}]");
            let dest = mirror
                .destination
                .as_ref()
                .ok_or_else(|| ConfigError::field("destination", "required"))
                .at(&at)?;
            let target = self.backend(dest).at("destination").at(&at)?;
            let fraction = match mirror.percentage {
                Some(p) => values::percent(p).at("percentage").at(&at)?,
                None => Fraction::ALL,
            };
            if fraction.per_million() > 0 {
                let backend = self.reference(target);
                out.push(MirrorPolicy { backend, fraction });
            }
        }
        Ok(out)
    }
}

/// A resolved destination, not yet recorded as a reference.
#[derive(Debug)]
struct Target {
    host: String,
    port: u16,
    subset: Option<SubsetRef>,
}

/// The route of a host that has no VirtualService: everything to its
/// cluster on `port`, with Istio's default retries and the host's hash
/// policy.
pub(crate) fn default_route(
    registry: &Registry,
    host: &str,
    port: u16,
    clusters: &mut ClusterRefs,
) -> Route {
    clusters.insert((host.to_owned(), port));
    let backend = Backend::cluster(cluster_name(host, port));
    let mut action = RouteAction::to(Destination::Backend(backend));
    action.retry = Some(Arc::new(retry::istio_default()));
    action.hash_policy = registry
        .hash_policy(host)
        .cloned()
        .into_iter()
        .collect::<Vec<HashPolicy>>();
    Route {
        name: "default".into(),
        matcher: RouteMatch::any(),
        action,
    }
}
