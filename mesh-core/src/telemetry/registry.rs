//! The registry of one mesh: its source labels and a destination per
//! distinct set of destination labels, each holding its series.
//!
//! Requests find their destination without touching the registry: the
//! endpoint's slot (or, for a request that reached no endpoint, its
//! cluster's live state) caches it the first time. Only that first time
//! takes the registry's lock, to intern the labels, so a configuration
//! update that rebuilds an endpoint counts on into the same series.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::access_log::AccessLog;
use super::flags::ResponseFlags;
use super::labels::{DestinationLabels, SourceLabels, UNKNOWN};
use super::series::{Destination, Protocol, SeriesValues};
use super::trace::Tracer;
use crate::lb::EndpointSlot;
use crate::resilience::ClusterResilience;

/// Where a request got to.
#[derive(Debug, Clone, Copy)]
pub enum Reached<'a> {
    /// An endpoint of the named cluster (its last attempt's).
    Endpoint {
        /// The cluster's name.
        cluster: &'a str,
        /// The endpoint.
        slot: &'a EndpointSlot,
    },
    /// The cluster, but no endpoint (none in service, a breaker, the rate
    /// limit, an injected abort).
    Cluster(&'a ClusterResilience),
    /// Nothing: no route matched.
    Nothing,
}

/// What one request did, as Istio's metrics describe it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// The status the caller saw (for a request the mesh failed, the
    /// status a sidecar would have answered with; 0 when the caller gave
    /// up).
    pub response_code: u16,
    /// The gRPC status, for gRPC.
    pub grpc_status: Option<u8>,
    /// Why it ended so.
    pub flags: ResponseFlags,
    /// HTTP or gRPC.
    pub protocol: Protocol,
    /// From the call to the end of the response body.
    pub duration: Duration,
    /// Bytes of the request body.
    pub request_bytes: u64,
    /// Bytes of the response body.
    pub response_bytes: u64,
}

/// Istio's labels of one series, in exposition order.
pub(crate) type IstioLabels = Vec<(&'static str, String)>;

/// A per-destination cache, kept where requests already are (an endpoint
/// slot, a cluster's state).
pub type DestinationCache = OnceLock<Arc<Destination>>;

/// The telemetry of one mesh (one [`SnapshotHandle`](crate::SnapshotHandle)).
#[derive(Debug)]
pub struct Telemetry {
    id: u64,
    source: SourceLabels,
    destinations: Mutex<HashMap<DestinationLabels, Arc<Destination>>>,
    no_route: Arc<Destination>,
    tracer: Option<Tracer>,
    access_log: Option<AccessLog>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new(SourceLabels::default())
    }
}

impl Telemetry {
    /// A registry reporting as `source`.
    pub fn new(source: SourceLabels) -> Self {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        let no_route = Arc::new(Destination::new(DestinationLabels::unknown(), id));
        let destinations = HashMap::from([(no_route.labels.clone(), no_route.clone())]);
        Self {
            id,
            source,
            destinations: Mutex::new(destinations),
            no_route,
            tracer: None,
            access_log: None,
        }
    }

    /// The registry, with requests logged to `log`.
    #[must_use]
    pub fn with_access_log(mut self, log: AccessLog) -> Self {
        self.access_log = Some(log);
        self
    }

    /// The access log, when requests are logged.
    #[inline]
    pub fn access_log(&self) -> Option<&AccessLog> {
        self.access_log.as_ref()
    }

    /// The registry, with requests traced by `tracer`.
    #[must_use]
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.tracer = Some(tracer);
        self
    }

    /// The tracer, when requests are traced.
    #[inline]
    pub fn tracer(&self) -> Option<&Tracer> {
        self.tracer.as_ref()
    }

    /// Who this mesh reports as.
    pub fn source(&self) -> &SourceLabels {
        &self.source
    }

    /// Records one request.
    #[inline]
    pub fn record(&self, reached: Reached<'_>, exchange: &Exchange) {
        self.destination(reached).record(exchange);
    }

    /// The destination of `reached`, from its cache when it is this
    /// registry's.
    #[inline]
    pub fn destination(&self, reached: Reached<'_>) -> Arc<Destination> {
        let (cache, labels): (&DestinationCache, &dyn Fn() -> DestinationLabels) = match reached {
            Reached::Endpoint { cluster, slot } => (slot.telemetry(), &|| {
                DestinationLabels::of_cluster(cluster, Some(&slot.endpoint().labels))
            }),
            Reached::Cluster(state) => (state.telemetry(), &|| {
                DestinationLabels::of_cluster(state.name(), None)
            }),
            Reached::Nothing => return self.no_route.clone(),
        };
        match cache.get() {
            Some(cached) if cached.owner == self.id => cached.clone(),
            _ => {
                let interned = self.intern(labels());
                // A slot shared by two registries keeps the first one's.
                let _ = cache.set(interned.clone());
                interned
            }
        }
    }

    #[cold]
    fn intern(&self, labels: DestinationLabels) -> Arc<Destination> {
        let mut destinations = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
        destinations
            .entry(labels)
            .or_insert_with_key(|labels| Arc::new(Destination::new(labels.clone(), self.id)))
            .clone()
    }

    /// Istio's series: each with its labels in exposition order, summed
    /// over destinations whose labels are equal (two clusters of one
    /// service host), sorted.
    pub(crate) fn istio_series(&self) -> BTreeMap<IstioLabels, SeriesValues> {
        let mut series: BTreeMap<IstioLabels, SeriesValues> = BTreeMap::new();
        for destination in self.destinations() {
            for (key, values) in destination.series() {
                let mut labels: IstioLabels = vec![("reporter", "source".to_owned())];
                let pairs = self.source.pairs().into_iter();
                let pairs = pairs.chain(destination.labels.pairs());
                labels.extend(pairs.map(|(name, value)| (name, value.to_owned())));
                labels.extend([
                    ("request_protocol", key.protocol.as_str().to_owned()),
                    ("response_code", key.code.to_string()),
                    (
                        "grpc_response_status",
                        key.grpc_status.map(|s| s.to_string()).unwrap_or_default(),
                    ),
                    ("response_flags", key.flags.to_string()),
                    ("connection_security_policy", UNKNOWN.to_owned()),
                ]);
                series.entry(labels).or_default().merge(&values);
            }
        }
        series
    }

    /// Every destination, in no particular order.
    pub(crate) fn destinations(&self) -> Vec<Arc<Destination>> {
        let destinations = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
        destinations.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cluster, Endpoint};

    fn exchange(code: u16) -> Exchange {
        Exchange {
            response_code: code,
            grpc_status: None,
            flags: ResponseFlags::NONE,
            protocol: Protocol::Http,
            duration: Duration::from_millis(3),
            request_bytes: 0,
            response_bytes: 42,
        }
    }

    #[test]
    fn endpoints_with_equal_labels_count_into_one_destination() {
        let telemetry = Telemetry::default();
        let labels = [("version".to_owned(), "v1".to_owned())]
            .into_iter()
            .collect();
        let a = EndpointSlot::new(Endpoint::new("10.0.0.1", 80).unwrap().with_labels(labels));
        let b = EndpointSlot::new(a.endpoint().clone());
        for slot in [&a, &b, &a] {
            let reached = Reached::Endpoint {
                cluster: "outbound|80||orders",
                slot,
            };
            telemetry.record(reached, &exchange(200));
        }
        let one = telemetry.destination(Reached::Endpoint {
            cluster: "outbound|80||orders",
            slot: &b,
        });
        assert_eq!(one.labels().version, "v1");
        assert_eq!(one.series()[0].1.requests, 3);
        assert!(Arc::ptr_eq(&one, a.telemetry().get().unwrap()));
    }

    #[test]
    fn another_registry_does_not_take_a_cached_destination() {
        let first = Telemetry::default();
        let second = Telemetry::default();
        let state = ClusterResilience::new(&Cluster::new("c", Vec::new()));
        first.record(Reached::Cluster(&state), &exchange(503));
        second.record(Reached::Cluster(&state), &exchange(503));
        let mine = second.destination(Reached::Cluster(&state));
        assert_eq!(mine.owner, second.id);
        assert_eq!(mine.series()[0].1.requests, 1);
        second.record(Reached::Nothing, &exchange(404));
        assert_eq!(second.no_route.series()[0].1.requests, 1);
    }
}
