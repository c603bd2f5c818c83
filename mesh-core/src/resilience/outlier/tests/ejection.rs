//! What an ejection does: how long it lasts, when the endpoint returns,
//! the cap on ejections, enforcing percentages and the picker's view.

use super::*;

#[test]
fn ejection_time_grows_with_each_ejection_and_is_capped() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_5xx: Some(1),
            ..quiet()
        },
        2,
    );
    let mut lasted = Vec::new();
    let mut at = 0;
    for _ in 0..4 {
        let until = until(h.call(0, E500));
        let secs = (until - h.now).as_secs();
        lasted.push(secs);
        at += secs;
        // Return, then fail again at the same instant: the multiplier has
        // had no healthy interval to decay.
        assert!(h.tick_at(at).contains(&Event::Returned { endpoint: 0 }));
    }
    assert_eq!(lasted, [10, 20, 25, 25]);
}

#[test]
fn the_multiplier_decays_while_the_endpoint_stays_healthy() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_5xx: Some(1),
            ..quiet()
        },
        2,
    );
    until(h.call(0, E500));
    h.tick_at(10);
    until(h.call(0, E500)); // 20 s, multiplier 2
    h.tick_at(30);
    // Two ticks at least an interval after the return: back to 0.
    h.tick_at(31);
    h.tick_at(32);
    let until = until(h.call(0, E500));
    assert_eq!(until - h.now, 10 * SEC);
}

#[test]
fn ejected_endpoints_return_at_the_first_tick_after_their_time() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_5xx: Some(2),
            ..quiet()
        },
        2,
    );
    h.calls(0, E500, 2);
    assert!(h.detector.is_ejected(0));
    assert!(h.tick_at(9).is_empty());
    assert!(h.detector.is_ejected(0));
    // Calls to an ejected endpoint (a picker in panic mode) change nothing.
    assert!(h.calls(0, E500, 5).is_empty());
    assert_eq!(h.tick_at(10), [Event::Returned { endpoint: 0 }]);
    assert!(!h.detector.is_ejected(0));
    assert_eq!(h.detector.ejected_count(), 0);
    // The run restarts from zero after the return.
    assert!(h.call(0, E500).is_none());
    assert!(h.call(0, E500).is_some());
}

#[test]
fn max_ejection_percent_counts_the_endpoint_about_to_go() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_5xx: Some(1),
            max_ejection_percent: 50,
            ..quiet()
        },
        5,
    );
    let events: Vec<Event> = (0..5).filter_map(|i| h.call(i, E500)).collect();
    // 100 * 2 / 5 = 40 <= 50, 100 * 3 / 5 = 60 > 50.
    assert_eq!(h.ejected(), [0, 1]);
    assert_eq!(
        events[2..],
        [2, 3, 4].map(|endpoint| Event::NotEjected {
            endpoint,
            kind: EjectionKind::ConsecutiveFiveXx,
            reason: NotEjectedReason::MaxEjectionPercent,
        })
    );
}

#[test]
fn max_ejection_percent_caps_interval_ejections_too() {
    let mut h = Harness::new(
        OutlierDetection {
            failure_percentage: Some((50, 1, 1)),
            max_ejection_percent: 34,
            ..quiet()
        },
        3,
    );
    for i in 0..3 {
        h.call(i, E500);
    }
    let events = h.tick_at(1);
    assert_eq!(ejections(&events).len(), 1);
    assert_eq!(h.detector.ejected_count(), 1);
    assert_eq!(events.len(), 3);
}

#[test]
fn a_single_endpoint_is_ejected_only_if_the_cap_allows_it() {
    let failing = OutlierDetection {
        consecutive_5xx: Some(1),
        ..quiet()
    };
    let mut h = Harness::new(failing, 1);
    assert!(matches!(h.call(0, E500), Some(Event::Ejected { .. })));
    assert_eq!(h.detector.healthy_fraction(), 0.0);

    // Envoy's default 10 %: one of one is 100 %, so it stays...
    let capped = OutlierDetection {
        max_ejection_percent: 10,
        ..failing
    };
    let mut h = Harness::new(capped, 1);
    assert_eq!(
        h.call(0, E500),
        Some(Event::NotEjected {
            endpoint: 0,
            kind: EjectionKind::ConsecutiveFiveXx,
            reason: NotEjectedReason::MaxEjectionPercent,
        })
    );
    // ...unless `always_eject_one_host` is on.
    let mut h = Harness::with(OutlierDetector::new(capped, 1).with_always_eject_one_host(true));
    assert!(matches!(h.call(0, E500), Some(Event::Ejected { .. })));
    assert_eq!(h.tick_at(10), [Event::Returned { endpoint: 0 }]);
}

#[test]
fn enforcing_zero_never_ejects() {
    let config = OutlierDetection {
        consecutive_5xx: Some(1),
        failure_percentage: Some((1, 1, 1)),
        ..quiet()
    };
    let enforcing = Enforcing {
        consecutive_5xx: 0,
        failure_percentage: 0,
        ..Enforcing::from_config(&config)
    };
    let mut h = Harness::with(OutlierDetector::new(config, 3).with_enforcing(enforcing));
    for i in 0..3 {
        assert!(h.calls(i, E500, 20).is_empty());
    }
    assert!(h.tick_at(1).is_empty());
    assert!(h.ejected().is_empty());
}

#[test]
fn a_partial_enforcing_percentage_ejects_about_that_share() {
    let config = OutlierDetection {
        consecutive_5xx: Some(1),
        ..quiet()
    };
    let enforcing = Enforcing {
        consecutive_5xx: 30,
        ..Enforcing::from_config(&config)
    };
    let mut h = Harness::with(OutlierDetector::new(config, 1000).with_enforcing(enforcing));
    let events: Vec<Event> = (0..1000).filter_map(|i| h.call(i, E500)).collect();
    let ejected = ejections(&events).len();
    assert!((240..360).contains(&ejected), "{ejected}");
    assert_eq!(
        events.len() - ejected,
        events
            .iter()
            .filter(|e| matches!(
                e,
                Event::NotEjected {
                    reason: NotEjectedReason::NotEnforced,
                    ..
                }
            ))
            .count()
    );
}

#[test]
fn the_view_sees_ejections_made_after_it_was_taken() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_5xx: Some(1),
            ..quiet()
        },
        4,
    );
    let view = h.detector.view();
    h.call(2, E500);
    assert!(view.is_ejected(2));
    assert_eq!(view.ejected_count(), 1);
    assert_eq!(view.healthy_fraction(), 0.75);
}
