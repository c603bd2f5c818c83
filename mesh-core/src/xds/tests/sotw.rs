//! State of the world: versions, nonces, ACK/NACK, deletion, timer.

use std::time::{Duration, Instant, SystemTime};

use envoy_types::pb::google::protobuf::Any;

use super::fixtures::*;
use crate::xds::{Protocol, ResourceStatus, XdsOptions, XdsState};

#[test]
fn first_request_names_the_target_and_carries_the_node_once() {
    let mut c = client(Protocol::StateOfTheWorld);
    let out = sotw(c.stream_started(Instant::now()));
    assert_eq!(out.len(), 1, "only LDS is wanted before anything arrives");
    let lds = &out[0];
    assert_eq!(lds.type_url, LDS.type_url());
    assert_eq!(names(lds), [TARGET]);
    assert_eq!(lds.version_info, "");
    assert_eq!(lds.response_nonce, "");
    assert_eq!(lds.node.as_ref().map(|n| n.id.as_str()), Some("test-node"));

    let now = Instant::now();
    let out = sotw(c.on_response(response(LDS, "1", "l1", vec![listener(TARGET, "rt")]), now));
    assert!(
        out.iter().all(|r| r.node.is_none()),
        "node only on the first request"
    );
}

#[test]
fn accepted_response_is_acked_with_its_version_and_nonce_then_rds_is_requested() {
    let now = Instant::now();
    let mut c = client(Protocol::StateOfTheWorld);
    c.stream_started(now);
    let out = sotw(c.on_response(response(LDS, "v7", "n1", vec![listener(TARGET, "rt")]), now));
    assert_eq!(out.len(), 2);
    let (ack, rds) = (&out[0], &out[1]);
    assert_eq!(ack.type_url, LDS.type_url());
    assert_eq!(
        (ack.version_info.as_str(), ack.response_nonce.as_str()),
        ("v7", "n1")
    );
    assert!(ack.error_detail.is_none());
    assert_eq!(names(ack), [TARGET]);
    assert_eq!(rds.type_url, RDS.type_url());
    assert_eq!(names(rds), ["rt"]);
    assert_eq!(
        (rds.version_info.as_str(), rds.response_nonce.as_str()),
        ("", "")
    );
    assert_eq!(
        c.cache(LDS).entry(TARGET).unwrap().status,
        ResourceStatus::Acked
    );
}

#[test]
fn configuration_is_published_once_the_whole_tree_is_resolved() {
    let now = Instant::now();
    let mut c = client(Protocol::StateOfTheWorld);
    c.stream_started(now);
    c.on_response(response(LDS, "1", "l1", vec![listener(TARGET, "rt")]), now);
    assert!(c.take_config().is_none());
    let out = sotw(c.on_response(
        response(RDS, "1", "r1", vec![route("rt", &[("a", 80), ("b", 20)])]),
        now,
    ));
    assert_eq!(
        names(&out[1]),
        ["a", "b"],
        "CDS follows the route's clusters"
    );
    assert!(c.take_config().is_none());
    let out = sotw(c.on_response(
        response(CDS, "1", "c1", vec![cluster("a"), cluster("b")]),
        now,
    ));
    assert_eq!(out[1].type_url, EDS.type_url());
    assert_eq!(names(&out[1]), ["a", "b"]);
    assert!(c.take_config().is_none(), "EDS still missing");
    c.on_response(response(EDS, "1", "e1", vec![endpoints("a", &[8001])]), now);
    assert!(c.take_config().is_none(), "EDS of b still missing");
    c.on_response(
        response(EDS, "2", "e2", vec![endpoints("b", &[8002, 8003])]),
        now,
    );
    let config = c.take_config().expect("complete");
    assert!(c.take_config().is_none(), "handed out once");
    assert_eq!(config.listener(TARGET).unwrap().route_table.as_ref(), "rt");
    assert_eq!(config.cluster("a").unwrap().endpoints.len(), 1);
    assert_eq!(config.cluster("b").unwrap().endpoints.len(), 2);
    assert_eq!(c.stats().configs_published, 1);
}

#[test]
fn partly_bad_response_applies_the_valid_resources_and_nacks_naming_the_bad_one() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a", "b"], now);
    c.take_config();
    let bad = endpoints("b", &[70000]);
    let out = sotw(c.on_response(
        response(EDS, "2", "e2", vec![endpoints("a", &[9001]), bad]),
        now,
    ));
    let nack = &out[0];
    assert_eq!(
        nack.version_info, "1",
        "a NACK carries the last accepted version"
    );
    assert_eq!(nack.response_nonce, "e2");
    let error = nack.error_detail.as_ref().expect("NACK");
    assert_eq!(error.code, 3);
    assert!(error.message.contains("\"b\""), "{}", error.message);
    assert!(error.message.contains("70000"), "{}", error.message);
    assert!(!error.message.contains("\"a\""), "{}", error.message);

    let config = c.take_config().expect("a's change is applied");
    let a = &config.cluster("a").unwrap().endpoints;
    assert_eq!(a[0].port(), 9001);
    let b = &config.cluster("b").unwrap().endpoints;
    assert_eq!(b[0].port(), 8001, "b keeps its last good endpoints");
    let entry = c.cache(EDS).entry("b").unwrap();
    assert_eq!(entry.status, ResourceStatus::Nacked);
    assert_eq!(entry.version.as_deref(), Some("1"));
    assert!(entry.error.as_ref().unwrap().contains("70000"));
    assert_eq!(c.stats().updates_rejected, 1);
}

#[test]
fn the_same_nack_is_not_sent_twice() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a"], now);
    let bad = || response(EDS, "2", "", vec![endpoints("a", &[0])]);
    let mut first = bad();
    first.nonce = "e2".into();
    assert!(one(c.on_response(first, now)).error_detail.is_some());
    let mut again = bad();
    again.nonce = "e3".into();
    assert!(
        sotw(c.on_response(again, now)).is_empty(),
        "identical NACK suppressed"
    );
    assert_eq!(c.stats().nacks_suppressed, 1);
    let mut other = response(EDS, "3", "e4", vec![endpoints("a", &[0])]);
    other.nonce = "e4".into();
    let nack = one(c.on_response(other, now));
    assert_eq!(
        (nack.version_info.as_str(), nack.response_nonce.as_str()),
        ("1", "e4")
    );
    let good = one(c.on_response(response(EDS, "4", "e5", vec![endpoints("a", &[9000])]), now));
    assert!(good.error_detail.is_none());
    assert_eq!(good.version_info, "4");
}

#[test]
fn garbage_truncated_and_wrong_type_resources_are_nacked_and_serving_continues() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a"], now);
    let before = c.take_config().unwrap();
    let garbage = Any {
        type_url: EDS.type_url().into(),
        value: vec![0xff, 0xff, 0xff, 0x0f],
    };
    let mut truncated = endpoints("a", &[9000]);
    truncated.value.truncate(truncated.value.len() / 2);
    let wrong_type = cluster("a");
    for (i, bad) in [garbage, truncated, wrong_type].into_iter().enumerate() {
        let version = format!("bad{i}");
        let out = one(c.on_response(response(EDS, &version, &format!("x{i}"), vec![bad]), now));
        let error = out.error_detail.expect("NACK").message;
        assert!(
            error.contains("malformed") || error.contains("type"),
            "{error}"
        );
        assert_eq!(out.version_info, "1");
    }
    assert!(c.take_config().is_none(), "nothing changed");
    assert_eq!(
        c.current().unwrap().cluster("a").unwrap().endpoints.len(),
        1
    );
    assert!(std::sync::Arc::ptr_eq(c.current().unwrap(), &before));
}

#[test]
fn a_name_twice_in_one_response_is_refused() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a"], now);
    let out = one(c.on_response(
        response(
            EDS,
            "2",
            "e2",
            vec![endpoints("a", &[9000]), endpoints("a", &[9001])],
        ),
        now,
    ));
    assert!(out.error_detail.unwrap().message.contains("more than once"));
    assert_eq!(
        c.current().unwrap().cluster("a").unwrap().endpoints[0].port(),
        8000
    );
}

#[test]
fn unknown_type_is_nacked() {
    let mut c = client(Protocol::StateOfTheWorld);
    c.stream_started(Instant::now());
    let mut r = response(LDS, "1", "z", vec![]);
    r.type_url = "type.googleapis.com/envoy.config.listener.v3.Nope".into();
    let out = one(c.on_response(r, Instant::now()));
    assert_eq!(out.response_nonce, "z");
    assert!(out.error_detail.unwrap().message.contains("unsupported"));
}

#[test]
fn listener_absent_from_an_lds_response_is_deleted() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a"], now);
    c.take_config();
    let out = sotw(c.on_response(response(LDS, "2", "l2", vec![]), now));
    assert!(out[0].error_detail.is_none());
    assert_eq!(out[0].version_info, "2");
    let rds = out
        .iter()
        .find(|r| r.type_url == RDS.type_url())
        .expect("RDS released");
    assert!(rds.resource_names.is_empty());
    let entry = c.cache(LDS).entry(TARGET).unwrap();
    assert_eq!(entry.status, ResourceStatus::DoesNotExist);
    let config = c.take_config().expect("the listener is gone");
    assert!(config.listener(TARGET).is_none());
}

#[test]
fn cluster_absent_from_a_cds_response_is_deleted_but_eds_absence_is_not() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a", "b"], now);
    c.take_config();
    c.on_response(response(EDS, "2", "e2", vec![endpoints("a", &[9000])]), now);
    let config = c.take_config().unwrap();
    assert_eq!(
        config.cluster("b").unwrap().endpoints.len(),
        1,
        "EDS absence is not deletion"
    );
    c.on_response(response(CDS, "2", "c2", vec![cluster("a")]), now);
    assert_eq!(
        c.cache(CDS).entry("b").unwrap().status,
        ResourceStatus::DoesNotExist
    );
    let config = c.take_config().unwrap();
    assert!(
        config.cluster("b").unwrap().endpoints.is_empty(),
        "a stand-in without endpoints"
    );
    assert_eq!(config.cluster("a").unwrap().endpoints.len(), 1);
}

#[test]
fn ignore_resource_deletion_keeps_the_listener() {
    let now = Instant::now();
    let options = XdsOptions {
        targets: vec![TARGET.into()],
        ignore_resource_deletion: true,
        ..Default::default()
    };
    let mut c = XdsState::new(options, node());
    c.stream_started(now);
    c.on_response(response(LDS, "1", "l1", vec![listener(TARGET, "rt")]), now);
    c.on_response(response(LDS, "2", "l2", vec![]), now);
    let entry = c.cache(LDS).entry(TARGET).unwrap();
    assert!(entry.value.is_some());
    assert_eq!(entry.status, ResourceStatus::Acked);
}

#[test]
fn does_not_exist_timer_fires_after_15_s_for_resources_never_heard_of() {
    let t0 = Instant::now();
    let mut c = client(Protocol::StateOfTheWorld);
    c.stream_started(t0);
    assert_eq!(c.next_deadline(), Some(t0 + Duration::from_secs(15)));
    c.on_timer(t0 + Duration::from_millis(14_999));
    assert_eq!(
        c.cache(LDS).entry(TARGET).unwrap().status,
        ResourceStatus::Requested
    );
    c.on_timer(t0 + Duration::from_secs(15));
    assert_eq!(
        c.cache(LDS).entry(TARGET).unwrap().status,
        ResourceStatus::DoesNotExist
    );
    assert_eq!(c.stats().resources_timed_out, 1);
    assert_eq!(c.next_deadline(), None);
}

#[test]
fn timer_is_cancelled_by_the_resource_and_armed_for_new_subscriptions() {
    let t0 = Instant::now();
    let mut c = client(Protocol::StateOfTheWorld);
    c.stream_started(t0);
    let t1 = t0 + Duration::from_secs(5);
    c.on_response(response(LDS, "1", "l1", vec![listener(TARGET, "rt")]), t1);
    assert_eq!(
        c.next_deadline(),
        Some(t1 + Duration::from_secs(15)),
        "RDS timer only"
    );
    c.on_timer(t1 + Duration::from_secs(15));
    assert_eq!(
        c.cache(RDS).entry("rt").unwrap().status,
        ResourceStatus::DoesNotExist
    );
    assert_eq!(
        c.cache(LDS).entry(TARGET).unwrap().status,
        ResourceStatus::Acked
    );
}

#[test]
fn timers_stop_while_disconnected_and_restart_with_the_stream() {
    let t0 = Instant::now();
    let mut c = client(Protocol::StateOfTheWorld);
    c.stream_started(t0);
    c.stream_lost();
    assert_eq!(c.next_deadline(), None);
    let t1 = t0 + Duration::from_secs(60);
    c.on_timer(t1);
    assert_eq!(
        c.cache(LDS).entry(TARGET).unwrap().status,
        ResourceStatus::Requested
    );
    c.stream_started(t1);
    assert_eq!(c.next_deadline(), Some(t1 + Duration::from_secs(15)));
}

#[test]
fn restart_resubscribes_everything_with_accepted_versions_and_no_nonce() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a", "b"], now);
    c.on_response(response(EDS, "2", "e2", vec![endpoints("a", &[0])]), now);
    c.stream_lost();
    let config = c.current().cloned().unwrap();
    assert_eq!(
        config.cluster("a").unwrap().endpoints.len(),
        1,
        "last good keeps serving"
    );
    let out = sotw(c.stream_started(now));
    let summary: Vec<(&str, &str, &str, Vec<&str>)> = out
        .iter()
        .map(|r| {
            let ty = r.type_url.rsplit('.').next().unwrap();
            (
                ty,
                r.version_info.as_str(),
                r.response_nonce.as_str(),
                names(r),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("Listener", "1", "", vec![TARGET]),
            ("RouteConfiguration", "1", "", vec!["routes"]),
            ("Cluster", "1", "", vec!["a", "b"]),
            ("ClusterLoadAssignment", "1", "", vec!["a", "b"]),
        ]
    );
    assert!(out[0].node.is_some() && out[1..].iter().all(|r| r.node.is_none()));
    assert_eq!(c.stats().streams_started, 2);
    assert_eq!(c.stats().server_failures, 1);
}

#[test]
fn config_dump_lists_each_resource_with_version_status_and_error() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a"], now);
    c.on_response(
        response(EDS, "2", "e2", vec![endpoints("a", &[70000])]),
        now,
    );
    let dump = c.config_dump(now, SystemTime::now());
    let resources = dump["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 4);
    let eds = resources
        .iter()
        .find(|r| r["type_url"] == EDS.type_url())
        .unwrap();
    assert_eq!(eds["status"], "NACKED");
    assert_eq!(eds["version"], "1");
    assert!(eds["error"].as_str().unwrap().contains("70000"));
    assert!(eds["last_updated"].as_f64().unwrap() > 1.7e9);
    assert_eq!(dump["types"]["lds"]["version_info"], "1");
    assert_eq!(dump["stats"]["updates_rejected"], 1);
}

#[test]
fn the_same_bytes_sent_again_change_nothing_routing_sees() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a"], now);
    let before = c.take_config().unwrap();
    let ack = one(c.on_response(response(CDS, "2", "c2", vec![cluster("a")]), now));
    assert_eq!(ack.version_info, "2");
    c.on_response(response(EDS, "2", "e2", vec![endpoints("a", &[8000])]), now);
    assert!(
        c.take_config().is_none(),
        "no new configuration for a resend"
    );
    assert!(std::sync::Arc::ptr_eq(c.current().unwrap(), &before));
    assert_eq!(
        c.cache(EDS).entry("a").unwrap().version.as_deref(),
        Some("2")
    );
}

#[test]
fn an_unreadable_resource_in_an_lds_response_deletes_nothing() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a"], now);
    c.take_config();
    let garbage = Any {
        type_url: LDS.type_url().into(),
        value: vec![0x0a, 0xff, 0xff, 0xff],
    };
    let out = sotw(c.on_response(response(LDS, "2", "l2", vec![garbage]), now));
    assert!(out[0].error_detail.is_some());
    let entry = c.cache(LDS).entry(TARGET).unwrap();
    assert!(entry.value.is_some(), "the listener keeps serving");
    assert!(c.take_config().is_none());
}
