//! The detector of one cluster: counters on the hot path, decisions under
//! a lock, ejections published to a lock-free view.
//!
//! Envoy counts on worker threads and decides on the main thread (workers
//! post "threshold crossed" to it). Here the same split is a lock: every
//! call updates atomics only ([`super::consecutive`]); the rare call that
//! crosses a consecutive threshold, and the interval tick, take the
//! detector's mutex to decide, so decisions never race each other and the
//! request path never waits on a lock in the common case.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::consecutive::{Crossed, HostCounters, Thresholds};
use super::ejection::{Ejections, Policy};
use super::enforcing::Enforcing;
use super::event::{EjectionKind, Event};
use super::result::CallResult;
use super::tally::{Scored, Tally, scored};
use super::view::EjectionView;
use super::{failure_percentage, success_rate};
use crate::config::OutlierDetection;
use crate::rng::MeshRng;

/// Envoy's defaults for the interval detectors' parameters, used by the
/// local-origin detectors when the model has dropped them (the external
/// detector is off).
const DEFAULT_SUCCESS_RATE: success_rate::Params = (1900, 5, 100);
const DEFAULT_FAILURE_PERCENTAGE: failure_percentage::Params = (85, 5, 50);

/// Outlier detection over the endpoints `0..len` of one cluster (indices
/// as in the cluster's endpoint list). Share it (`Arc`) between the
/// request path, which calls [`record`](Self::record), and one task that
/// calls [`on_interval`](Self::on_interval) every
/// [`interval`](Self::interval).
#[derive(Debug)]
pub struct OutlierDetector {
    config: OutlierDetection,
    thresholds: Thresholds,
    enforcing: Enforcing,
    counters: Box<[HostCounters]>,
    view: EjectionView,
    ejections: Mutex<Ejections>,
}

impl OutlierDetector {
    /// A detector for `endpoints` endpoints, all in service, enforcing the
    /// configured detectors always ([`Enforcing::from_config`]).
    pub fn new(config: OutlierDetection, endpoints: usize) -> Self {
        let enforcing = Enforcing::from_config(&config);
        let ejections = Ejections::new(Policy::from_config(&config), endpoints);
        Self {
            thresholds: Thresholds::new(&config, &enforcing),
            enforcing,
            counters: (0..endpoints).map(|_| HostCounters::default()).collect(),
            view: ejections.view().clone(),
            ejections: Mutex::new(ejections),
            config,
        }
    }

    /// Sets Envoy's `enforcing_*` percentages; a detector at 0 % is off.
    pub fn with_enforcing(mut self, enforcing: Enforcing) -> Self {
        self.thresholds = Thresholds::new(&self.config, &enforcing);
        self.enforcing = enforcing;
        self
    }

    /// Envoy's `always_eject_one_host`: allow one ejection even when
    /// `max_ejection_percent` would not (off by default, as in Envoy).
    pub fn with_always_eject_one_host(mut self, yes: bool) -> Self {
        let ejections = self
            .ejections
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        ejections.policy_mut().always_eject_one_host = yes;
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &OutlierDetection {
        &self.config
    }

    /// How often to call [`on_interval`](Self::on_interval).
    pub fn interval(&self) -> Duration {
        self.config.interval
    }

    /// The number of endpoints.
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// Whether there is no endpoint.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// The lock-free view of ejections, for pickers.
    pub fn view(&self) -> EjectionView {
        self.view.clone()
    }

    /// Whether `endpoint` is ejected (one atomic load).
    #[inline]
    pub fn is_ejected(&self, endpoint: usize) -> bool {
        self.view.is_ejected(endpoint)
    }

    /// How many endpoints are ejected.
    pub fn ejected_count(&self) -> usize {
        self.view.ejected_count()
    }

    /// The share of endpoints in service (see
    /// [`EjectionView::healthy_fraction`]).
    pub fn healthy_fraction(&self) -> f64 {
        self.view.healthy_fraction()
    }

    /// Records the outcome of one call to `endpoint`. Returns an event when
    /// the call completed a run of consecutive failures: the ejection, or
    /// why there was none. An `endpoint` out of range is ignored.
    pub fn record(
        &self,
        endpoint: usize,
        result: CallResult,
        now: Instant,
        rng: &mut dyn MeshRng,
    ) -> Option<Event> {
        let counters = self.counters.get(endpoint)?;
        let crossed = counters.record(result, &self.thresholds);
        if crossed == [None, None] {
            return None;
        }
        self.on_consecutive(endpoint, crossed, now, rng)
    }

    /// Envoy's `onConsecutiveErrorWorker`, for each crossed threshold.
    #[cold]
    fn on_consecutive(
        &self,
        endpoint: usize,
        crossed: Crossed,
        now: Instant,
        rng: &mut dyn MeshRng,
    ) -> Option<Event> {
        let mut ejections = self.lock();
        let mut reported = None;
        for kind in crossed.into_iter().flatten() {
            if ejections.is_ejected(endpoint) {
                // Envoy ignores detections on an ejected endpoint; its
                // counters restart when it returns.
                break;
            }
            let event = ejections.try_eject(endpoint, kind, self.enforcing.of(kind), now, rng);
            self.counters[endpoint].reset(kind);
            // Report the ejection if one happened, else the first refusal.
            if reported.is_none() || matches!(event, Event::Ejected { .. }) {
                reported = Some(event);
            }
        }
        reported
    }

    /// The interval tick: returns endpoints whose ejection time is up,
    /// runs the success-rate and failure-percentage detectors over the
    /// interval that just ended (and starts a new one), and lets the
    /// ejection multiplier of endpoints in service decay. Returns what
    /// happened, returns first.
    pub fn on_interval(&self, now: Instant, rng: &mut dyn MeshRng) -> Vec<Event> {
        let mut ejections = self.lock();
        let mut events = Vec::new();
        ejections.return_due(now, &mut events, |endpoint| {
            self.counters[endpoint].reset_all();
        });

        let tallies: Vec<(Tally, Tally)> = self
            .counters
            .iter()
            .map(|c| (c.external.take(), c.local_origin.take()))
            .collect();

        let e = &self.enforcing;
        let external = Sweep {
            local: false,
            success_rate: self.config.success_rate,
            failure_percentage: self.config.failure_percentage,
            kinds: (EjectionKind::SuccessRate, EjectionKind::FailurePercentage),
            enforcing: (e.success_rate, e.failure_percentage),
        };
        self.sweep(&mut ejections, &tallies, external, now, rng, &mut events);
        if self.config.split_external_local_origin_errors {
            let local = Sweep {
                local: true,
                success_rate: Some(self.config.success_rate.unwrap_or(DEFAULT_SUCCESS_RATE)),
                failure_percentage: Some(
                    self.config
                        .failure_percentage
                        .unwrap_or(DEFAULT_FAILURE_PERCENTAGE),
                ),
                kinds: (
                    EjectionKind::SuccessRateLocalOrigin,
                    EjectionKind::FailurePercentageLocalOrigin,
                ),
                enforcing: (
                    e.local_origin_success_rate,
                    e.failure_percentage_local_origin,
                ),
            };
            self.sweep(&mut ejections, &tallies, local, now, rng, &mut events);
        }

        ejections.decay(now, self.config.interval);
        events
    }

    /// Envoy's `processSuccessRateEjections` for one origin.
    fn sweep(
        &self,
        ejections: &mut Ejections,
        tallies: &[(Tally, Tally)],
        sweep: Sweep,
        now: Instant,
        rng: &mut dyn MeshRng,
        events: &mut Vec<Event>,
    ) {
        let sr = sweep.success_rate.filter(|_| sweep.enforcing.0 > 0);
        let fp = sweep.failure_percentage.filter(|_| sweep.enforcing.1 > 0);
        if sr.is_none() && fp.is_none() {
            return;
        }
        // Ejected endpoints take no part, including those the other origin
        // ejected a moment ago.
        let hosts: Vec<Scored> = scored(
            tallies
                .iter()
                .enumerate()
                .filter(|&(i, _)| !ejections.is_ejected(i))
                .map(|(i, &(external, local))| (i, if sweep.local { local } else { external })),
        );
        let mut outliers: Vec<(usize, EjectionKind, u32)> = Vec::new();
        if let Some(params) = sr {
            outliers.extend(
                success_rate::outliers(&hosts, params)
                    .into_iter()
                    .map(|i| (i, sweep.kinds.0, sweep.enforcing.0)),
            );
        }
        if let Some(params) = fp {
            outliers.extend(
                failure_percentage::outliers(&hosts, params)
                    .into_iter()
                    .map(|i| (i, sweep.kinds.1, sweep.enforcing.1)),
            );
        }
        for (endpoint, kind, percent) in outliers {
            if !ejections.is_ejected(endpoint) {
                events.push(ejections.try_eject(endpoint, kind, percent, now, rng));
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ejections> {
        self.ejections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The two interval detectors of one origin.
#[derive(Debug, Clone, Copy)]
struct Sweep {
    /// Over local-origin outcomes rather than external ones.
    local: bool,
    success_rate: Option<success_rate::Params>,
    failure_percentage: Option<failure_percentage::Params>,
    kinds: (EjectionKind, EjectionKind),
    enforcing: (u32, u32),
}
