//! Subscriptions follow the tree; configurations are never torn.

use std::sync::Arc;
use std::time::Instant;

use super::fixtures::*;
use crate::xds::{Protocol, ResourceStatus, XdsOptions, XdsState};

#[test]
fn a_new_cluster_keeps_the_previous_configuration_until_it_is_resolved() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a"], now);
    let before = c.take_config().unwrap();
    let out = sotw(c.on_response(
        response(RDS, "2", "r2", vec![route("routes", &[("a", 1), ("c", 1)])]),
        now,
    ));
    assert_eq!(names(&out[1]), ["a", "c"]);
    assert!(
        c.take_config().is_none(),
        "the new route waits for cluster c"
    );
    assert!(Arc::ptr_eq(c.current().unwrap(), &before));
    c.on_response(
        response(CDS, "2", "c2", vec![cluster("a"), cluster("c")]),
        now,
    );
    assert!(c.take_config().is_none(), "and for c's endpoints");
    c.on_response(response(EDS, "2", "e2", vec![endpoints("c", &[8100])]), now);
    let after = c.take_config().expect("complete again");
    assert!(after.cluster("c").is_some());
    let table = after.route_table("routes").unwrap();
    assert_eq!(
        table.virtual_hosts()[0].routes[0]
            .action
            .destination
            .backends()
            .count(),
        2
    );
}

#[test]
fn clusters_no_route_names_are_unsubscribed_once_the_new_configuration_is_in_use() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a", "b"], now);
    c.take_config();
    let out = sotw(c.on_response(
        response(
            RDS,
            "2",
            "r2",
            vec![route("routes", &["a"].map(|n| (n, 1)))],
        ),
        now,
    ));
    let cds = out
        .iter()
        .find(|r| r.type_url == CDS.type_url())
        .expect("CDS shrinks");
    assert_eq!(names(cds), ["a"]);
    let eds = out
        .iter()
        .find(|r| r.type_url == EDS.type_url())
        .expect("EDS shrinks");
    assert_eq!(names(eds), ["a"]);
    assert_eq!(eds.version_info, "1");
    assert_eq!(
        eds.response_nonce, "e1",
        "a subscription change carries the last nonce"
    );
    let config = c.take_config().unwrap();
    assert!(config.cluster("b").is_none());
    assert!(c.cache(CDS).entry("b").is_none());
}

#[test]
fn listener_switching_route_tables_keeps_the_old_one_until_the_new_arrives() {
    let now = Instant::now();
    let mut c = resolved_sotw(&["a"], now);
    let before = c.take_config().unwrap();
    let out = sotw(c.on_response(
        response(LDS, "2", "l2", vec![listener(TARGET, "routes-2")]),
        now,
    ));
    let rds = out.iter().find(|r| r.type_url == RDS.type_url()).unwrap();
    assert_eq!(names(rds), ["routes", "routes-2"], "old table still in use");
    assert!(c.take_config().is_none());
    assert!(Arc::ptr_eq(c.current().unwrap(), &before));
    let out = sotw(c.on_response(
        response(RDS, "2", "r2", vec![route("routes-2", &[("a", 1)])]),
        now,
    ));
    let config = c.take_config().expect("switched");
    assert_eq!(
        config.listener(TARGET).unwrap().route_table.as_ref(),
        "routes-2"
    );
    assert_eq!(names(&out[0]), ["routes-2"], "the ACK drops the old table");
}

#[test]
fn inline_route_tables_need_no_rds() {
    let now = Instant::now();
    let mut c = client(Protocol::StateOfTheWorld);
    c.stream_started(now);
    let out = sotw(c.on_response(
        response(
            LDS,
            "1",
            "l1",
            vec![inline_listener(TARGET, route_proto("inline", &[("a", 1)]))],
        ),
        now,
    ));
    assert_eq!(out[1].type_url, CDS.type_url());
    c.on_response(response(CDS, "1", "c1", vec![cluster("a")]), now);
    c.on_response(response(EDS, "1", "e1", vec![endpoints("a", &[8000])]), now);
    let config = c.take_config().unwrap();
    assert!(config.route_table("inline").is_some());
}

#[test]
fn istio_subset_cluster_names_route_like_any_other() {
    let now = Instant::now();
    let v1 = "outbound|80|v1|order-service.default.svc.cluster.local";
    let v2 = "outbound|80|v2|order-service.default.svc.cluster.local";
    let c = resolved_sotw(&[v1, v2], now);
    let config = c.current().unwrap();
    assert_eq!(config.cluster(v1).unwrap().endpoints[0].port(), 8000);
    assert_eq!(config.cluster(v2).unwrap().endpoints[0].port(), 8001);
}

#[test]
fn a_route_to_a_cluster_that_does_not_exist_fails_alone() {
    let now = Instant::now();
    let mut c = client(Protocol::StateOfTheWorld);
    c.stream_started(now);
    c.on_response(response(LDS, "1", "l1", vec![listener(TARGET, "rt")]), now);
    c.on_response(
        response(RDS, "1", "r1", vec![route("rt", &[("a", 1), ("ghost", 1)])]),
        now,
    );
    c.on_response(response(CDS, "1", "c1", vec![cluster("a")]), now);
    assert_eq!(
        c.cache(CDS).entry("ghost").unwrap().status,
        ResourceStatus::DoesNotExist
    );
    c.on_response(response(EDS, "1", "e1", vec![endpoints("a", &[8000])]), now);
    let config = c
        .take_config()
        .expect("published without waiting for ghost");
    assert!(config.cluster("ghost").unwrap().endpoints.is_empty());
}

#[test]
fn wildcard_clusters_subscribe_to_everything_and_follow_the_full_state() {
    let now = Instant::now();
    let options = XdsOptions {
        targets: vec![TARGET.into()],
        wildcard_clusters: true,
        ..Default::default()
    };
    let mut c = XdsState::new(options, node());
    let out = sotw(c.stream_started(now));
    let cds = out
        .iter()
        .find(|r| r.type_url == CDS.type_url())
        .expect("wildcard CDS at once");
    assert!(cds.resource_names.is_empty());
    let out = sotw(c.on_response(
        response(CDS, "1", "c1", vec![cluster("x"), cluster("y")]),
        now,
    ));
    assert!(out[0].resource_names.is_empty(), "ACK stays wildcard");
    assert_eq!(names(&out[1]), ["x", "y"], "EDS for every cluster");
    c.on_response(response(CDS, "2", "c2", vec![cluster("y")]), now);
    assert!(c.cache(CDS).entry("x").is_none());
}

#[test]
fn invalid_listener_without_a_previous_value_resolves_to_no_route() {
    let now = Instant::now();
    let mut c = client(Protocol::StateOfTheWorld);
    c.stream_started(now);
    let mut bad = listener(TARGET, "rt");
    bad.value = route_proto("x", &[("a", 1)]).encode_to_vec_for_test();
    let out = one(c.on_response(response(LDS, "1", "l1", vec![bad]), now));
    assert!(out.error_detail.is_some());
}

trait EncodeForTest {
    fn encode_to_vec_for_test(&self) -> Vec<u8>;
}

impl<M: prost::Message> EncodeForTest for M {
    fn encode_to_vec_for_test(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}
