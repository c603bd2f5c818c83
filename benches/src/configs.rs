//! The two mesh configurations the harness sends traffic through, as Istio
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
//!   being ready to. A consistent
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

/// The full chain over three endpoints on 127.0.0.1: `ports[0]` and
/// `ports[1]` are version v1, `ports[2]` is v2.
pub fn full_chain_yaml(ports: [u16; 3]) -> String {
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
    retries:
      attempts: 3
      perTryTimeout: 250ms
      retryOn: 5xx,reset,connect-failure
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {{name: bench-full, namespace: default}}
spec:
  host: {HOST}
  trafficPolicy:
    loadBalancer: {{simple: LEAST_REQUEST}}
    connectionPool:
      http: {{http2MaxRequests: 1000, http1MaxPendingRequests: 100}}
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 10s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
  subsets:
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

    #[test]
    fn both_configs_load_and_route() {
        for yaml in [static_yaml(18080), full_chain_yaml([18081, 18082, 18083])] {
            let config = mesh_core::source::istio::load(&yaml)
                .and_then(|b| b.build())
                .expect("loads");
            assert!(config.listeners().count() >= 1);
        }
    }
}
