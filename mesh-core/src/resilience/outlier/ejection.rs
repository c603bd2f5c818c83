//! Ejection bookkeeping: who is out, for how long, and whether one more
//! may go.
//!
//! This follows Envoy's `DetectorImpl::ejectHost`, `checkHostForUneject`
//! and the backoff decay of `onIntervalTimer`:
//!
//! - **The cap on ejections.** An outlier is ejected only if, counting it,
//!   at most `max_ejection_percent` of the endpoints would be out
//!   (`100 * (ejected + 1) / endpoints <= max_ejection_percent`), or, with
//!   `always_eject_one_host`, when none is out yet. Older Envoy releases
//!   compared the share *before* the ejection, so one endpoint could
//!   always go; current ones need `always_eject_one_host` for that.
//! - **How long.** Each endpoint has a multiplier, raised by one on each
//!   ejection (while `base * multiplier < max + base`, so it cannot grow
//!   without bound) and lowered by one at each interval tick it spends in
//!   service at least an interval after its last return. An ejection
//!   lasts `min(base * multiplier, max)`, where `max` is
//!   `max(base_ejection_time, max_ejection_time)` (Envoy rejects a max
//!   below the base; here the base wins) and never more than a year.
//! - **Return.** Ejected endpoints come back at the first interval tick at
//!   which their time is up.
//!
//! Envoy's `max_ejection_time_jitter` (default 0) is not in the model, so
//! ejections end without jitter.

use std::time::{Duration, Instant};

use super::enforcing::roll;
use super::event::{EjectionKind, Event, NotEjectedReason};
use super::view::EjectionView;
use crate::config::OutlierDetection;
use crate::rng::MeshRng;

/// The longest ejection, whatever the config says: keeps `Instant`
/// arithmetic far from overflow.
const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);

/// The knobs of ejection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    base: Duration,
    max: Duration,
    max_percent: u32,
    pub(super) always_eject_one_host: bool,
}

impl Policy {
    pub(super) fn from_config(config: &OutlierDetection) -> Self {
        let base = config.base_ejection_time.min(LONGEST);
        Self {
            base,
            max: config.max_ejection_time.min(LONGEST).max(base),
            max_percent: config.max_ejection_percent.min(100),
            always_eject_one_host: false,
        }
    }
}

/// One endpoint's ejection history.
#[derive(Debug, Clone, Copy, Default)]
struct History {
    /// Envoy's `eject_time_backoff`.
    multiplier: u32,
    /// When the current ejection started and how long it lasts.
    ejected: Option<(Instant, Duration)>,
    /// When it last returned.
    returned_at: Option<Instant>,
}

/// Who is ejected, behind the detector's lock; mirrors itself into the
/// lock-free [`EjectionView`].
#[derive(Debug)]
pub(super) struct Ejections {
    policy: Policy,
    view: EjectionView,
    hosts: Vec<History>,
    ejected: usize,
}

impl Ejections {
    pub(super) fn new(policy: Policy, endpoints: usize) -> Self {
        Self {
            policy,
            view: EjectionView::new(endpoints),
            hosts: vec![History::default(); endpoints],
            ejected: 0,
        }
    }

    pub(super) fn policy_mut(&mut self) -> &mut Policy {
        &mut self.policy
    }

    pub(super) fn view(&self) -> &EjectionView {
        &self.view
    }

    pub(super) fn is_ejected(&self, endpoint: usize) -> bool {
        self.hosts
            .get(endpoint)
            .is_some_and(|h| h.ejected.is_some())
    }

    /// Whether one more ejection stays within `max_ejection_percent`.
    fn room_for_one_more(&self) -> bool {
        let n = self.hosts.len() as u128;
        let within = (self.ejected as u128 + 1) * 100 <= u128::from(self.policy.max_percent) * n;
        within || (self.policy.always_eject_one_host && self.ejected == 0)
    }

    /// Ejects the outlier `endpoint` (not ejected, in range) found by
    /// `kind`, if the cap and the enforcing percentage allow.
    pub(super) fn try_eject(
        &mut self,
        endpoint: usize,
        kind: EjectionKind,
        enforcing: u32,
        now: Instant,
        rng: &mut dyn MeshRng,
    ) -> Event {
        let not_ejected = |reason| Event::NotEjected {
            endpoint,
            kind,
            reason,
        };
        if !self.room_for_one_more() {
            return not_ejected(NotEjectedReason::MaxEjectionPercent);
        }
        if !roll(enforcing, rng) {
            return not_ejected(NotEjectedReason::NotEnforced);
        }
        let Policy { base, max, .. } = self.policy;
        let h = &mut self.hosts[endpoint];
        if base.saturating_mul(h.multiplier) < max.saturating_add(base) {
            h.multiplier = h.multiplier.saturating_add(1);
        }
        let lasts = base.saturating_mul(h.multiplier).min(max);
        h.ejected = Some((now, lasts));
        self.ejected += 1;
        self.view.set(endpoint, true);
        Event::Ejected {
            endpoint,
            kind,
            until: now.checked_add(lasts).unwrap_or(now),
        }
    }

    /// Returns the endpoints whose time is up; `on_return` sees each one.
    pub(super) fn return_due(
        &mut self,
        now: Instant,
        events: &mut Vec<Event>,
        mut on_return: impl FnMut(usize),
    ) {
        for (endpoint, h) in self.hosts.iter_mut().enumerate() {
            let Some((at, lasts)) = h.ejected else {
                continue;
            };
            if now.saturating_duration_since(at) >= lasts {
                h.ejected = None;
                h.returned_at = Some(now);
                self.ejected -= 1;
                self.view.set(endpoint, false);
                on_return(endpoint);
                events.push(Event::Returned { endpoint });
            }
        }
    }

    /// Lowers the multiplier of endpoints in service for at least an
    /// interval since their last return.
    pub(super) fn decay(&mut self, now: Instant, interval: Duration) {
        for h in &mut self.hosts {
            if h.ejected.is_none()
                && h.returned_at
                    .is_some_and(|at| now.saturating_duration_since(at) >= interval)
            {
                h.multiplier = h.multiplier.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    fn ejections(endpoints: usize, max_percent: u32) -> Ejections {
        let config = OutlierDetection {
            base_ejection_time: Duration::from_secs(10),
            max_ejection_time: Duration::from_secs(25),
            max_ejection_percent: max_percent,
            ..OutlierDetection::default()
        };
        Ejections::new(Policy::from_config(&config), endpoints)
    }

    fn lasts(e: &Event, now: Instant) -> Duration {
        match *e {
            Event::Ejected { until, .. } => until - now,
            other => panic!("not ejected: {other:?}"),
        }
    }

    #[test]
    fn the_cap_counts_the_endpoint_about_to_go() {
        let mut rng = SeededRng::new(1);
        let now = Instant::now();
        // 100 * (0 + 1) / 4 = 25 > 20: nobody may go.
        let mut e = ejections(4, 20);
        let ev = e.try_eject(0, EjectionKind::SuccessRate, 100, now, &mut rng);
        assert!(matches!(
            ev,
            Event::NotEjected {
                reason: NotEjectedReason::MaxEjectionPercent,
                ..
            }
        ));
        e.policy_mut().always_eject_one_host = true;
        let ev = e.try_eject(0, EjectionKind::SuccessRate, 100, now, &mut rng);
        assert!(matches!(ev, Event::Ejected { .. }));
        let ev = e.try_eject(1, EjectionKind::SuccessRate, 100, now, &mut rng);
        assert!(matches!(ev, Event::NotEjected { .. }));
        assert_eq!(e.view().ejected_count(), 1);
    }

    #[test]
    fn the_multiplier_grows_to_the_cap_and_decays_in_service() {
        let mut rng = SeededRng::new(1);
        let mut e = ejections(1, 100);
        let mut now = Instant::now();
        let mut seen = Vec::new();
        for _ in 0..5 {
            let ev = e.try_eject(0, EjectionKind::ConsecutiveFiveXx, 100, now, &mut rng);
            seen.push(lasts(&ev, now).as_secs());
            now += Duration::from_secs(100);
            e.return_due(now, &mut Vec::new(), |_| {});
        }
        assert_eq!(seen, [10, 20, 25, 25, 25]);
        // The multiplier stopped at 4 (10 * 4 >= 25 + 10). A tick at the
        // return itself does not count; three later ticks bring it to 1,
        // so the next ejection lasts 2 * 10 s.
        let interval = Duration::from_secs(10);
        e.decay(now, interval);
        assert_eq!(e.hosts[0].multiplier, 4);
        for _ in 0..3 {
            now += interval;
            e.decay(now, interval);
        }
        let ev = e.try_eject(0, EjectionKind::ConsecutiveFiveXx, 100, now, &mut rng);
        assert_eq!(lasts(&ev, now).as_secs(), 20);
    }
}
