//! The consecutive detectors, fed call by call: which runs count, what
//! breaks them, the split of origins, and concurrent recording.

use super::*;

#[test]
fn consecutive_5xx_ejects_the_failing_endpoint_and_no_other() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_5xx: Some(3),
            ..quiet()
        },
        3,
    );
    assert!(h.calls(1, E500, 2).is_empty());
    h.calls(0, OK, 5);
    h.calls(2, E500, 2);
    let events = h.calls(1, CallResult::Status(599), 1);
    assert_eq!(ejections(&events), [(1, EjectionKind::ConsecutiveFiveXx)]);
    assert_eq!(h.ejected(), [1]);
    assert_eq!(h.detector.ejected_count(), 1);
}

#[test]
fn consecutive_gateway_failure_counts_502_503_504_and_a_500_breaks_the_run() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_gateway_failure: Some(3),
            ..quiet()
        },
        2,
    );
    h.call(0, CallResult::Status(502));
    h.call(0, CallResult::Status(503));
    h.call(0, E500);
    h.call(0, CallResult::Status(504));
    h.call(0, CallResult::Status(502));
    assert!(h.ejected().is_empty());
    h.calls(1, E500, 10);
    assert!(h.ejected().is_empty(), "500s are not gateway failures");
    let event = h.call(0, E503);
    assert_eq!(
        ejections(&[event.unwrap()]),
        [(0, EjectionKind::ConsecutiveGatewayFailure)]
    );
    assert_eq!(h.ejected(), [0]);
}

#[test]
fn a_gateway_failure_run_completing_both_thresholds_reports_the_gateway_kind() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_5xx: Some(2),
            consecutive_gateway_failure: Some(2),
            ..quiet()
        },
        1,
    );
    h.call(0, E503);
    let event = h.call(0, E503).unwrap();
    assert_eq!(
        ejections(&[event]),
        [(0, EjectionKind::ConsecutiveGatewayFailure)]
    );
}

#[test]
fn a_success_resets_the_consecutive_counters() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_5xx: Some(3),
            consecutive_gateway_failure: Some(3),
            ..quiet()
        },
        1,
    );
    for _ in 0..10 {
        h.calls(0, E503, 2);
        // A 4xx is a success for outlier detection.
        h.call(0, CallResult::Status(404));
    }
    assert!(h.ejected().is_empty());
    assert_eq!(h.calls(0, E503, 3).len(), 1);
    assert_eq!(h.ejected(), [0]);
}

#[test]
fn unsplit_local_failures_count_as_503_and_504() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_gateway_failure: Some(3),
            // Ignored without the split, as in Envoy.
            consecutive_local_origin_failure: Some(1),
            ..quiet()
        },
        1,
    );
    h.call(0, CallResult::ConnectFailed);
    h.call(0, CallResult::Reset);
    let event = h.call(0, CallResult::Timeout).unwrap();
    assert_eq!(
        ejections(&[event]),
        [(0, EjectionKind::ConsecutiveGatewayFailure)]
    );
}

#[test]
fn split_local_failures_feed_only_the_local_origin_detector() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_5xx: Some(2),
            consecutive_gateway_failure: Some(2),
            consecutive_local_origin_failure: Some(3),
            split_external_local_origin_errors: true,
            ..quiet()
        },
        2,
    );
    // Local failures do not touch the 5xx or gateway runs...
    h.calls(0, CallResult::Timeout, 2);
    assert!(h.ejected().is_empty());
    // ...and any answer, even a 5xx, proves the connection and ends the
    // local run.
    h.call(0, E500);
    h.calls(0, CallResult::ConnectFailed, 2);
    assert!(h.ejected().is_empty());
    let event = h.call(0, CallResult::Reset).unwrap();
    assert_eq!(
        ejections(&[event]),
        [(0, EjectionKind::ConsecutiveLocalOrigin)]
    );
    // External 5xx still count on their own.
    let events = h.calls(1, E500, 2);
    assert_eq!(ejections(&events), [(1, EjectionKind::ConsecutiveFiveXx)]);
}

#[test]
fn concurrent_failures_eject_exactly_once() {
    let detector = OutlierDetector::new(
        OutlierDetection {
            consecutive_5xx: Some(5),
            ..quiet()
        },
        2,
    );
    let now = Instant::now();
    let ejected: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let detector = &detector;
                s.spawn(move || {
                    let mut rng = SeededRng::new(t);
                    (0..2000)
                        .filter(|_| {
                            matches!(
                                detector.record(0, E500, now, &mut rng),
                                Some(Event::Ejected { .. })
                            )
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(ejected, 1);
    assert_eq!(detector.ejected_count(), 1);
    assert!(detector.is_ejected(0) && !detector.is_ejected(1));
}
#[test]
fn out_of_range_endpoints_are_ignored() {
    let mut h = Harness::new(
        OutlierDetection {
            consecutive_5xx: Some(1),
            ..quiet()
        },
        0,
    );
    assert_eq!(h.call(3, E500), None);
    assert!(!h.detector.is_ejected(3));
    assert!(h.tick_at(1).is_empty());
    assert_eq!(h.detector.healthy_fraction(), 1.0);
}
