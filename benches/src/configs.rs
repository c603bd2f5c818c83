//! The mesh configurations the harness sends traffic through, as Istio
//! YAML loaded with `mesh_core::source::istio::load` (the same path as the
//! quickstart and the end-to-end tests).
//!
//! - [`static_yaml`]: the least a mesh does — one ServiceEntry, so one
//!   listener, one match-all route, one cluster of one endpoint, round
//!   robin, no timeout. It isolates the fixed cost of routing + picking +
//!   rewriting.
//! - [`full_chain_yaml`]: the order-service canary at its most expensive
//!   today. Three header-matched routes are scanned and miss before the
//!   request reaches the split route (exact, prefix and regex header
//!   matchers, a URI prefix), which draws 80/20 between subsets `v1` and
//!   `v2` selected by labels, balances by least request (P2C over requests
//!   in flight), arms the 800 ms route timeout and 250 ms per-try timeout
//!   (a tokio timer per attempt) and runs the whole resilience chain: the
//!   retry policy (the request head kept for a retry, the retry budget
//!   counted), the `max_requests` breaker and outlier detection. Nothing
//!   fails, so no retry is ever made: what is measured is the cost of
//!   being ready to. [`routing_only_yaml`] is the same without any of
//!   it, so the difference between the two is the resilience chain's cost.
//!   A consistent
//!   hash policy cannot apply here: Istio makes it the alternative to
//!   `LEAST_REQUEST`, and the request hash is computed only for ring-hash
//!   clusters.
//!
//! The workload's headers ([`crate::paths::WORKLOAD_HEADERS`]) carry
//! `x-user-group` and `x-request-id`, so the prefix and regex matchers run
//! on real values rather than stopping at a missing header (`x-canary` is
//! absent, as on most requests of a canary).

/// The host every mesh request names.
pub const HOST: &str = "order-service";

/// One ServiceEntry with one endpoint on 127.0.0.1:`port`.
pub fn static_yaml(port: u16) -> String {
    format!(
        r#"apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {{name: bench-static, namespace: default}}
spec:
  hosts: [{HOST}]
  location: MESH_INTERNAL
  ports: [{{number: 80, name: http, protocol: HTTP}}]
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {{http: {port}}}
"#
    )
}

/// The full chain's resilience: the route's retries, the rule's pool
/// limits and outlier detection.
const RESILIENCE: [&str; 2] = [
    "retries:
      attempts: 3
      perTryTimeout: 250ms
      retryOn: 5xx,reset,connect-failure",
    "    connectionPool:
      http: {http2MaxRequests: 1000, http1MaxPendingRequests: 100}
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 10s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
",
];

/// The same without them: no retries (Istio would otherwise apply its
/// default policy), no limits, no outlier detection.
const NO_RESILIENCE: [&str; 2] = ["retries: {attempts: 0}", ""];

/// The full chain over three endpoints on 127.0.0.1: `ports[0]` and
/// `ports[1]` are version v1, `ports[2]` is v2.
pub fn full_chain_yaml(ports: [u16; 3]) -> String {
    chain_yaml(ports, RESILIENCE)
}

/// [`full_chain_yaml`]'s routing and balancing alone: what the full chain
/// costs without its resilience.
pub fn routing_only_yaml(ports: [u16; 3]) -> String {
    chain_yaml(ports, NO_RESILIENCE)
}

fn chain_yaml(ports: [u16; 3], [retries, policies]: [&str; 2]) -> String {
    let [a, b, c] = ports;
    format!(
        r#"apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {{name: bench-full, namespace: default}}
spec:
  hosts: [{HOST}]
  http:
  - name: canary
    match:
    - headers:
        x-canary: {{exact: always}}
    route:
    - destination: {{host: {HOST}, subset: v2}}
  - name: beta
    match:
    - uri: {{prefix: /orders}}
      headers:
        x-user-group: {{prefix: beta-}}
    route:
    - destination: {{host: {HOST}, subset: v2}}
  - name: debug
    match:
    - headers:
        x-request-id: {{regex: "debug-[0-9a-f]+"}}
    route:
    - destination: {{host: {HOST}, subset: v1}}
  - name: split
    match:
    - uri: {{prefix: /orders}}
    route:
    - destination: {{host: {HOST}, subset: v1}}
      weight: 80
    - destination: {{host: {HOST}, subset: v2}}
      weight: 20
    timeout: 800ms
    {retries}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {{name: bench-full, namespace: default}}
spec:
  host: {HOST}
  trafficPolicy:
    loadBalancer: {{simple: LEAST_REQUEST}}
{policies}  subsets:
  - name: v1
    labels: {{version: v1}}
  - name: v2
    labels: {{version: v2}}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {{name: bench-full, namespace: default}}
spec:
  hosts: [{HOST}]
  location: MESH_INTERNAL
  ports: [{{number: 80, name: http, protocol: HTTP}}]
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {{http: {a}}}
    labels: {{version: v1}}
  - address: 127.0.0.1
    ports: {{http: {b}}}
    labels: {{version: v1}}
  - address: 127.0.0.1
    ports: {{http: {c}}}
    labels: {{version: v2}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> mesh_core::config::MeshConfig {
        mesh_core::source::istio::load(yaml)
            .and_then(|b| b.build())
            .expect("loads")
    }

    #[test]
    fn every_config_loads_and_routes() {
        let ports = [18081, 18082, 18083];
        for yaml in [
            static_yaml(18080),
            full_chain_yaml(ports),
            routing_only_yaml(ports),
        ] {
            assert!(load(&yaml).listeners().count() >= 1);
        }
    }

    #[test]
    fn routing_only_is_the_full_chain_without_its_resilience() {
        let ports = [18081, 18082, 18083];
        let split = |config: &mesh_core::config::MeshConfig| {
            let table = config.route_tables().next().expect("a table").clone();
            let route = table.virtual_hosts()[0]
                .routes
                .last()
                .expect("a route")
                .clone();
            route.action
        };
        let (full, bare) = (
            load(&full_chain_yaml(ports)),
            load(&routing_only_yaml(ports)),
        );
        assert!(split(&full).retry.is_some());
        assert!(split(&bare).retry.is_none());
        assert_eq!(split(&full).timeout, split(&bare).timeout);
        let cluster = |c: &mesh_core::config::MeshConfig| {
            let c = c.clusters().next().expect("a cluster").clone();
            (
                c.outlier_detection.is_some(),
                c.circuit_breakers.max_requests,
                c.lb_policy,
            )
        };
        assert!(cluster(&full).0);
        assert!(!cluster(&bare).0);
        assert_eq!(cluster(&full).1, 1000);
        assert_eq!(cluster(&bare).1, u32::MAX);
        assert_eq!(cluster(&full).2, cluster(&bare).2);
    }
}
