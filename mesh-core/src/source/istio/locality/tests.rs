//! `localityLbSetting` through the whole loader: priorities and weights
//! for a caller, and each rejection with its field.

use std::num::NonZeroU32;

use crate::config::{ConfigError, Endpoint, Labels, Locality, MeshConfig};
use crate::source::istio::tests::head;
use crate::source::istio::{LoadOptions, load, load_with};

const CLUSTER: &str = "outbound|80||orders.svc";

/// A ServiceEntry for `orders.svc` with one endpoint per locality given,
/// `10.0.0.{i}`, and a DestinationRule with `traffic_policy`.
fn resources(localities: &[&str], traffic_policy: &str) -> String {
    let endpoints: String = localities
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!("  - {{address: 10.0.0.{i}, locality: {l}, labels: {{net: n{i}}}}}\n")
        })
        .collect();
    format!(
        "{}spec:\n  hosts: [orders.svc]\n  resolution: STATIC\n  ports: [{{number: 80, name: http, protocol: HTTP}}]\n  endpoints:\n{endpoints}---\n{}spec:\n  host: orders.svc\n  trafficPolicy:\n{traffic_policy}",
        head("ServiceEntry", "orders"),
        head("DestinationRule", "orders"),
    )
}

fn caller(text: &str) -> LoadOptions {
    let mut parts = text.split('/');
    let mut next = || parts.next().unwrap_or("").into();
    LoadOptions::new().caller_locality(Locality {
        region: next(),
        zone: next(),
        sub_zone: next(),
    })
}

fn endpoints(yaml: &str, options: &LoadOptions) -> Vec<Endpoint> {
    let config: MeshConfig = load_with(yaml, options).unwrap().build().unwrap();
    config.cluster(CLUSTER).unwrap().endpoints.clone()
}

/// `(host, priority)` of each endpoint.
fn priorities(endpoints: &[Endpoint]) -> Vec<(String, u32)> {
    endpoints
        .iter()
        .map(|e| (e.host().to_owned(), e.priority))
        .collect()
}

fn reject(yaml: &str) -> ConfigError {
    load(yaml).map(|_| ()).unwrap_err()
}

const OUTLIERS: &str = "    outlierDetection: {consecutive5xxErrors: 3}\n";

const SPREAD: [&str; 5] = [
    "us-east/a/r1",
    "us-east/a/r2",
    "us-east/b/r1",
    "eu-west/c/r1",
    "ap-south/d/r1",
];

#[test]
fn endpoints_near_the_caller_come_first() {
    let got = priorities(&endpoints(
        &resources(&SPREAD, OUTLIERS),
        &caller("us-east/a/r1"),
    ));
    let want = [
        ("10.0.0.0", 0),
        ("10.0.0.1", 1),
        ("10.0.0.2", 2),
        ("10.0.0.3", 3),
        ("10.0.0.4", 3),
    ];
    assert_eq!(got, want.map(|(h, p)| (h.to_owned(), p)));
}

#[test]
fn priorities_are_renumbered_without_gaps() {
    // No endpoint in the caller's subzone or zone: same region is 0.
    let got = priorities(&endpoints(
        &resources(&["us-east/b/r1", "eu-west/c/r1"], OUTLIERS),
        &caller("us-east/a/r1"),
    ));
    assert_eq!(
        got,
        [("10.0.0.0".to_owned(), 0), ("10.0.0.1".to_owned(), 1)]
    );
}

#[test]
fn without_caller_outlier_detection_or_with_enabled_false_nothing_changes() {
    let all_zero = |endpoints: Vec<Endpoint>| endpoints.iter().all(|e| e.priority == 0);
    assert!(all_zero(endpoints(
        &resources(&SPREAD, OUTLIERS),
        &LoadOptions::new()
    )));
    let no_outliers = "    loadBalancer: {simple: RANDOM}\n";
    assert!(all_zero(endpoints(
        &resources(&SPREAD, no_outliers),
        &caller("us-east/a/r1")
    )));
    let disabled =
        format!("{OUTLIERS}    loadBalancer: {{localityLbSetting: {{enabled: false}}}}\n");
    assert!(all_zero(endpoints(
        &resources(&SPREAD, &disabled),
        &caller("us-east/a/r1")
    )));
}

#[test]
fn failover_sends_other_regions_last_except_the_named_one() {
    let policy = format!(
        "{OUTLIERS}    loadBalancer:\n      localityLbSetting:\n        failover: [{{from: us-east, to: ap-south}}]\n"
    );
    let got = priorities(&endpoints(
        &resources(&SPREAD, &policy),
        &caller("us-east/a/r1"),
    ));
    // ap-south (3) before eu-west (4, renumbered 4).
    let want = [
        ("10.0.0.0", 0),
        ("10.0.0.1", 1),
        ("10.0.0.2", 2),
        ("10.0.0.3", 4),
        ("10.0.0.4", 3),
    ];
    assert_eq!(got, want.map(|(h, p)| (h.to_owned(), p)));
}

#[test]
fn failover_priority_ranks_by_labels_first() {
    let policy = format!(
        "{OUTLIERS}    loadBalancer:\n      localityLbSetting:\n        failoverPriority: [net, topology.kubernetes.io/region]\n"
    );
    let mut labels = Labels::new();
    labels.insert("net".into(), "n3".into());
    let options = caller("us-east/a/r1").caller_labels(labels);
    let got = priorities(&endpoints(&resources(&SPREAD, &policy), &options));
    // 10.0.0.3 matches the caller's net and not its region: rank 2 - 1;
    // every other endpoint differs on net already: rank 2. Renumbered.
    let want = [
        ("10.0.0.0", 1),
        ("10.0.0.1", 1),
        ("10.0.0.2", 1),
        ("10.0.0.3", 0),
        ("10.0.0.4", 1),
    ];
    assert_eq!(got, want.map(|(h, p)| (h.to_owned(), p)));
    // `label=value` replaces the caller's value.
    let policy = format!(
        "{OUTLIERS}    loadBalancer:\n      localityLbSetting:\n        failoverPriority: [net=n4]\n"
    );
    let got = priorities(&endpoints(
        &resources(&SPREAD, &policy),
        &caller("us-east/a/r1"),
    ));
    assert_eq!(got[4], ("10.0.0.4".to_owned(), 0));
    assert_eq!(got[0], ("10.0.0.0".to_owned(), 1));
}

#[test]
fn distribute_turns_into_locality_weights() {
    let policy = "    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: us-east/a/*\n          to: {\"us-east/a/*\": 80, \"eu-west\": 20}\n";
    let got = endpoints(&resources(&SPREAD, policy), &caller("us-east/a/r1"));
    let weights: Vec<(String, Option<u32>)> = got
        .iter()
        .map(|e| (e.host().to_owned(), e.locality_weight.map(NonZeroU32::get)))
        .collect();
    // us-east/a has two localities of weight 1: 40 each; ap-south and
    // us-east/b are named by no entry and dropped.
    assert_eq!(
        weights,
        [
            ("10.0.0.0".to_owned(), Some(40)),
            ("10.0.0.1".to_owned(), Some(40)),
            ("10.0.0.3".to_owned(), Some(20)),
        ]
    );
    assert!(got.iter().all(|e| e.priority == 0));
    // A caller no entry is from keeps every endpoint, unweighted.
    let got = endpoints(&resources(&SPREAD, policy), &caller("eu-west/c/r1"));
    assert_eq!(got.len(), 5);
    assert!(got.iter().all(|e| e.locality_weight.is_none()));
}

#[test]
fn invalid_settings_are_rejected_with_their_field() {
    let setting = |body: &str| format!("    loadBalancer:\n      localityLbSetting: {body}\n");
    let base = "spec.trafficPolicy.loadBalancer.localityLbSetting";
    let cases = [
        (
            "{distribute: [{from: us-east, to: {eu-west: 100}}], failover: [{from: us-east, to: eu-west}]}",
            "failover",
        ),
        (
            "{distribute: [{from: us-east, to: {eu-west: 60, us-east: 30}}]}",
            "distribute[0].to",
        ),
        (
            "{distribute: [{from: us-east, to: {eu-west: 0, us-east: 100}}]}",
            "distribute[0].to[\"eu-west\"]",
        ),
        (
            "{distribute: [{from: \"us-east//a\", to: {eu-west: 100}}]}",
            "distribute[0].from",
        ),
        (
            "{distribute: [{from: \"us-*\", to: {eu-west: 100}}]}",
            "distribute[0].from",
        ),
        (
            "{distribute: [{from: \"a/b/c/d\", to: {eu-west: 100}}]}",
            "distribute[0].from",
        ),
        (
            "{distribute: [{from: \"*/a\", to: {eu-west: 100}}]}",
            "distribute[0].from",
        ),
        (
            "{distribute: [{from: us-east, to: {eu-west: 50, \"eu-west/a\": 50}}]}",
            "distribute[0].to[\"eu-west/a\"]",
        ),
        (
            "{distribute: [{from: us-east, to: {eu-west: 100}}, {from: \"*\", to: {eu-west: 100}}]}",
            "distribute[1].from",
        ),
        (
            "{failover: [{from: us-east, to: us-east}]}",
            "failover[0].to",
        ),
        (
            "{failover: [{from: us-east/a, to: eu-west}]}",
            "failover[0].from",
        ),
        ("{failover: [{from: us-east, to: \"*\"}]}", "failover[0].to"),
        (
            "{failover: [{from: us-east, to: eu-west}], failoverPriority: [topology.kubernetes.io/zone]}",
            "failoverPriority[0]",
        ),
        ("{failoverPriority: [\"=x\"]}", "failoverPriority[0]"),
    ];
    for (body, field) in cases {
        let e = reject(&resources(&SPREAD, &setting(body)));
        assert_eq!(e.resource, "DestinationRule default/orders", "{body}");
        assert_eq!(e.field, format!("{base}.{field}"), "{body}: {e}");
    }
}

/// The share of 10 000 picks through a snapshot of `config` that land in
/// zone `zone`, in percent.
fn zone_share(config: MeshConfig, zone: &str) -> f64 {
    let snapshot = crate::Snapshot::new(std::sync::Arc::new(config));
    let headers = http::HeaderMap::new();
    let head = crate::RequestHead {
        method: "GET",
        scheme: "http",
        authority: "orders.svc",
        path: "/",
        query: "",
        headers: &headers,
        source_ip: None,
    };
    let mut rng = crate::rng::SeededRng::new(21);
    let picks = 10_000;
    let hits = (0..picks)
        .filter(|_| {
            let routed = snapshot.route(&head, &mut rng).unwrap();
            let picked = routed.pick(&mut rng).unwrap();
            &*picked.endpoint().locality.zone == zone
        })
        .count();
    hits as f64 * 100.0 / picks as f64
}

#[test]
fn distribute_steers_picks_through_a_snapshot_unless_the_cluster_turns_weighting_off() {
    // Zone a has one endpoint, zone b three: 80/20 by locality, where
    // plain round robin would give a 25 %.
    let spread = [
        "us-east/a/r1",
        "us-east/b/r1",
        "us-east/b/r2",
        "us-east/b/r3",
    ];
    let policy = "    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: us-east/a\n          to: {\"us-east/a\": 80, \"us-east/b\": 20}\n";
    let yaml = resources(&spread, policy);
    let options = caller("us-east/a/r1");
    let config = load_with(&yaml, &options).unwrap().build().unwrap();
    let share = zone_share(config, "a");
    assert!((77.0..=83.0).contains(&share), "{share}");

    // The same endpoints and weights, weighting off: round robin.
    let mut builder = load_with(&yaml, &options).unwrap();
    for cluster in builder.clusters_mut() {
        cluster.locality_weighted_lb = false;
    }
    let share = zone_share(builder.build().unwrap(), "a");
    assert!((22.0..=28.0).contains(&share), "{share}");
}
