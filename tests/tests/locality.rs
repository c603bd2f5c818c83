//! End to end, locality: an Istio ServiceEntry whose endpoints (real
//! backends on loopback) sit in three zones of two regions, loaded for a
//! caller in one zone, behind `MeshClient`. Traffic stays in the caller's
//! zone while it is healthy, spills to its region when the zone's endpoint
//! is ejected, comes back when it returns, and follows `distribute`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use mesh_core::config::Locality;
use mesh_core::source::istio::{self, LoadOptions};
use mesh_tests::faulty::{Behavior, FaultyBackend};
use mesh_tests::get;
use mesh_tower::MeshClient;

/// Fails a request that would otherwise hang.
const GUARD: Duration = Duration::from_secs(20);

/// The caller runs in `us-east/zone-a`.
fn caller() -> Locality {
    Locality {
        region: "us-east".into(),
        zone: "zone-a".into(),
        sub_zone: "".into(),
    }
}

/// Backends in `us-east/zone-a`, `us-east/zone-b` and `us-west/zone-c`,
/// and a client loaded for the caller with `traffic_policy` (YAML, indented
/// for the DestinationRule's `trafficPolicy`).
async fn mesh(traffic_policy: &str) -> ([FaultyBackend; 3], MeshClient<Full<Bytes>>) {
    let mut backends = Vec::new();
    for name in ["zone-a", "zone-b", "west"] {
        backends.push(
            FaultyBackend::start(name, Behavior::Ok)
                .await
                .expect("a backend"),
        );
    }
    let port = |i: usize| backends[i].addr().port();
    let yaml = format!(
        "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: svc, namespace: default}}
spec:
  hosts: [svc]
  resolution: STATIC
  ports: [{{number: 80, name: http}}]
  endpoints:
  - {{address: 127.0.0.1, ports: {{http: {}}}, locality: us-east/zone-a}}
  - {{address: 127.0.0.1, ports: {{http: {}}}, locality: us-east/zone-b}}
  - {{address: 127.0.0.1, ports: {{http: {}}}, locality: us-west/zone-c}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: svc, namespace: default}}
spec:
  host: svc
  trafficPolicy:
{traffic_policy}",
        port(0),
        port(1),
        port(2)
    );
    let options = LoadOptions::new().caller_locality(caller());
    let config = istio::load_with(&yaml, &options)
        .expect("the documents load")
        .build()
        .expect("a valid config");
    let backends: [FaultyBackend; 3] = backends.try_into().expect("three backends");
    (backends, MeshClient::from_config(config))
}

async fn send(client: &MeshClient<Full<Bytes>>, n: usize) {
    for _ in 0..n {
        let answered = tokio::time::timeout(GUARD, client.request(get("http://svc/x", &[])))
            .await
            .expect("the mesh answered in time");
        // Failures are expected while a backend fails; only where the
        // requests went matters.
        drop(answered);
    }
}

#[tokio::test]
async fn traffic_stays_in_the_callers_zone_spills_to_its_region_and_comes_back() {
    let (backends, client) = mesh(
        "    outlierDetection:
      consecutive5xxErrors: 3
      interval: 50ms
      baseEjectionTime: 300ms
      maxEjectionPercent: 100
",
    )
    .await;
    let [zone_a, zone_b, west] = &backends;

    send(&client, 30).await;
    assert_eq!(zone_a.requests(), 30, "the caller's zone takes everything");

    zone_a.set(Behavior::Status(503));
    send(&client, 20).await;
    assert_eq!(zone_a.requests(), 33, "ejected after 3 consecutive 5xx");
    // Istio's default retry (503 on another host) sends each of the three
    // failures to the caller's region, as it does the 17 requests after.
    assert_eq!(zone_b.requests(), 20, "then the caller's region takes over");
    assert_eq!(west.requests(), 0, "and the other region gets nothing");

    zone_a.set(Behavior::Ok);
    let mut returned = false;
    for _ in 0..100 {
        send(&client, 1).await;
        if zone_a.requests() > 33 {
            returned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(returned, "the zone's endpoint returns after its ejection");
    let before = zone_b.requests();
    send(&client, 20).await;
    assert_eq!(zone_b.requests(), before, "and takes its traffic back");
    assert_eq!(west.requests(), 0);
}

#[tokio::test]
async fn distribute_splits_the_callers_traffic_across_localities() {
    let (backends, client) = mesh(
        "    loadBalancer:
      localityLbSetting:
        distribute:
        - from: us-east/zone-a/*
          to: {\"us-east/zone-a/*\": 80, \"us-west/*\": 20}
",
    )
    .await;
    let [zone_a, zone_b, west] = &backends;
    send(&client, 1000).await;
    assert_eq!(
        zone_b.requests(),
        0,
        "a locality no entry names gets nothing"
    );
    // 80 % of 1000, binomial: a standard deviation is about 13.
    let near = zone_a.requests();
    assert!((720..=880).contains(&near), "{near} of 1000 in zone-a");
    assert_eq!(near + west.requests(), 1000);
}
