//! Delta xDS: per-resource versions, subscribe/unsubscribe differences,
//! removals, and the versions a new stream announces.

use std::time::Instant;

use envoy_types::pb::envoy::service::discovery::v3::DeltaDiscoveryRequest;

use super::fixtures::*;
use crate::xds::{Outgoing, Protocol, ResourceStatus};

fn delta(out: Vec<Outgoing>) -> Vec<DeltaDiscoveryRequest> {
    out.into_iter()
        .map(|o| match o {
            Outgoing::Delta(r) => r,
            Outgoing::Sotw(r) => panic!("SotW request on a delta stream: {r:?}"),
        })
        .collect()
}

fn resolved_delta(now: Instant) -> crate::xds::XdsState {
    let mut c = client(Protocol::Delta);
    c.stream_started(now);
    c.on_delta_response(
        delta_response(LDS, "l1", vec![(TARGET, "L1", listener(TARGET, "rt"))], &[]),
        now,
    );
    c.on_delta_response(
        delta_response(
            RDS,
            "r1",
            vec![("rt", "R1", route("rt", &[("a", 1), ("b", 1)]))],
            &[],
        ),
        now,
    );
    c.on_delta_response(
        delta_response(
            CDS,
            "c1",
            vec![("a", "CA1", cluster("a")), ("b", "CB1", cluster("b"))],
            &[],
        ),
        now,
    );
    c.on_delta_response(
        delta_response(
            EDS,
            "e1",
            vec![
                ("a", "EA1", endpoints("a", &[8000])),
                ("b", "EB1", endpoints("b", &[8001])),
            ],
            &[],
        ),
        now,
    );
    c
}

#[test]
fn delta_subscribes_by_difference_and_acks_by_nonce() {
    let now = Instant::now();
    let mut c = client(Protocol::Delta);
    let first = delta(c.stream_started(now));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].resource_names_subscribe, [TARGET]);
    assert!(first[0].node.is_some());
    assert!(first[0].initial_resource_versions.is_empty());
    let out = delta(c.on_delta_response(
        delta_response(LDS, "l1", vec![(TARGET, "L1", listener(TARGET, "rt"))], &[]),
        now,
    ));
    assert_eq!(out[0].response_nonce, "l1");
    assert!(out[0].error_detail.is_none());
    assert!(
        out[0].resource_names_subscribe.is_empty(),
        "an ACK is just the nonce"
    );
    assert_eq!(out[1].type_url, RDS.type_url());
    assert_eq!(out[1].resource_names_subscribe, ["rt"]);
    assert_eq!(
        c.cache(LDS).entry(TARGET).unwrap().version.as_deref(),
        Some("L1")
    );
}

#[test]
fn delta_publishes_the_resolved_tree_and_unsubscribes_what_is_dropped() {
    let now = Instant::now();
    let mut c = resolved_delta(now);
    assert_eq!(c.take_config().unwrap().clusters().count(), 2);
    let out = delta(c.on_delta_response(
        delta_response(RDS, "r2", vec![("rt", "R2", route("rt", &[("a", 1)]))], &[]),
        now,
    ));
    let cds = out.iter().find(|r| r.type_url == CDS.type_url()).unwrap();
    assert_eq!(cds.resource_names_unsubscribe, ["b"]);
    assert!(cds.resource_names_subscribe.is_empty());
    let eds = out.iter().find(|r| r.type_url == EDS.type_url()).unwrap();
    assert_eq!(eds.resource_names_unsubscribe, ["b"]);
    assert!(c.take_config().unwrap().cluster("b").is_none());
}

#[test]
fn delta_removed_resources_are_deleted() {
    let now = Instant::now();
    let mut c = resolved_delta(now);
    c.take_config();
    c.on_delta_response(delta_response(CDS, "c2", vec![], &["b"]), now);
    assert_eq!(
        c.cache(CDS).entry("b").unwrap().status,
        ResourceStatus::DoesNotExist
    );
    let config = c.take_config().unwrap();
    assert!(config.cluster("b").unwrap().endpoints.is_empty());
}

#[test]
fn delta_partial_nack_keeps_the_last_good_value_of_the_bad_resource() {
    let now = Instant::now();
    let mut c = resolved_delta(now);
    c.take_config();
    let out = delta(c.on_delta_response(
        delta_response(
            EDS,
            "e2",
            vec![
                ("a", "EA2", endpoints("a", &[9000])),
                ("b", "EB2", endpoints("b", &[70000])),
            ],
            &[],
        ),
        now,
    ));
    assert_eq!(out[0].response_nonce, "e2");
    let message = &out[0].error_detail.as_ref().unwrap().message;
    assert!(
        message.contains("\"b\"") && message.contains("70000"),
        "{message}"
    );
    let config = c.take_config().unwrap();
    assert_eq!(config.cluster("a").unwrap().endpoints[0].port(), 9000);
    assert_eq!(config.cluster("b").unwrap().endpoints[0].port(), 8001);
    assert_eq!(
        c.cache(EDS).entry("b").unwrap().version.as_deref(),
        Some("EB1")
    );
}

#[test]
fn delta_body_naming_another_resource_is_refused() {
    let now = Instant::now();
    let mut c = resolved_delta(now);
    let out = delta(c.on_delta_response(
        delta_response(EDS, "e2", vec![("a", "EA2", endpoints("b", &[9000]))], &[]),
        now,
    ));
    assert!(
        out[0]
            .error_detail
            .as_ref()
            .unwrap()
            .message
            .contains("another resource")
    );
}

#[test]
fn delta_restart_announces_the_versions_held() {
    let now = Instant::now();
    let mut c = resolved_delta(now);
    c.stream_lost();
    let out = delta(c.stream_started(now));
    assert_eq!(out.len(), 4);
    assert!(out[0].node.is_some());
    assert_eq!(out[0].response_nonce, "");
    let eds = &out[3];
    assert_eq!(eds.resource_names_subscribe, ["a", "b"]);
    assert_eq!(
        eds.initial_resource_versions.get("a").map(String::as_str),
        Some("EA1")
    );
    assert_eq!(
        eds.initial_resource_versions.get("b").map(String::as_str),
        Some("EB1")
    );
    assert_eq!(
        out[1]
            .initial_resource_versions
            .get("rt")
            .map(String::as_str),
        Some("R1")
    );
}
