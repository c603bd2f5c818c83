//! The interval detectors: success rate and failure percentage, their
//! volume and minimum-hosts gates, and the interval boundary.

use super::*;

#[test]
fn success_rate_ejects_the_endpoint_below_mean_minus_stdev_margin() {
    let mut h = Harness::new(
        OutlierDetection {
            success_rate: Some((1900, 5, 100)),
            ..quiet()
        },
        5,
    );
    for i in 0..5 {
        let failures = if i == 2 { 50 } else { 0 };
        h.calls(i, E500, failures);
        h.calls(i, OK, 100 - failures);
    }
    // Rates {100, 100, 50, 100, 100}: mean 90, stdev 20, threshold 52.
    let events = h.tick_at(1);
    assert_eq!(ejections(&events), [(2, EjectionKind::SuccessRate)]);
    assert_eq!(h.ejected(), [2]);
}

#[test]
fn success_rate_needs_minimum_hosts_with_request_volume() {
    let config = OutlierDetection {
        success_rate: Some((1900, 5, 100)),
        ..quiet()
    };
    // Four endpoints only.
    let mut h = Harness::new(config, 4);
    for i in 0..4 {
        h.calls(i, if i == 0 { E500 } else { OK }, 100);
    }
    assert!(h.tick_at(1).is_empty());

    // Five endpoints, one of them a call short of the volume.
    let mut h = Harness::new(config, 5);
    for i in 0..5 {
        let calls = if i == 4 { 99 } else { 100 };
        h.calls(i, if i == 0 { E500 } else { OK }, calls);
    }
    assert!(h.tick_at(1).is_empty());
    assert!(h.ejected().is_empty());
}

#[test]
fn interval_detectors_see_only_the_interval_that_just_ended() {
    let mut h = Harness::new(
        OutlierDetection {
            failure_percentage: Some((50, 2, 10)),
            ..quiet()
        },
        2,
    );
    h.calls(0, E500, 9);
    h.calls(1, OK, 10);
    assert!(h.tick_at(1).is_empty(), "9 calls are below the volume");
    h.calls(0, E500, 1);
    h.calls(1, OK, 10);
    assert!(h.tick_at(2).is_empty(), "the 9 earlier calls are gone");
}

#[test]
fn failure_percentage_ejects_endpoints_at_or_above_the_threshold() {
    let mut h = Harness::new(
        OutlierDetection {
            failure_percentage: Some((50, 3, 10)),
            ..quiet()
        },
        4,
    );
    let failures = [5, 4, 0, 10];
    for (i, f) in failures.into_iter().enumerate() {
        h.calls(i, E500, f);
        h.calls(i, OK, 10 - f);
    }
    let events = h.tick_at(1);
    assert_eq!(
        ejections(&events),
        [
            (0, EjectionKind::FailurePercentage),
            (3, EjectionKind::FailurePercentage)
        ]
    );
}

#[test]
fn failure_percentage_needs_minimum_hosts() {
    let mut h = Harness::new(
        OutlierDetection {
            failure_percentage: Some((50, 3, 10)),
            ..quiet()
        },
        3,
    );
    h.calls(0, E500, 10);
    h.calls(1, OK, 10);
    h.calls(2, OK, 9);
    assert!(h.tick_at(1).is_empty());
}

#[test]
fn split_origins_run_success_rate_over_local_failures_too() {
    let mut h = Harness::new(
        OutlierDetection {
            success_rate: Some((1000, 3, 10)),
            split_external_local_origin_errors: true,
            ..quiet()
        },
        3,
    );
    h.calls(0, OK, 10);
    h.calls(1, OK, 10);
    h.calls(2, OK, 5);
    h.calls(2, CallResult::Timeout, 5);
    // External rates are all 100 %; local ones are {100, 100, 50}.
    let events = h.tick_at(1);
    assert_eq!(
        ejections(&events),
        [(2, EjectionKind::SuccessRateLocalOrigin)]
    );
}
