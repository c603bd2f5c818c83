//! Every rejection names the resource and the field to fix.

use super::{fixture, head, reject, subsets_rule, virtual_service};

/// A ServiceEntry `default/se` for `order-service` with `spec` lines.
fn service_entry(spec: &str) -> String {
    head("ServiceEntry", "se") + "spec:\n  hosts: [order-service]\n" + spec
}

/// A DestinationRule `default/dr` for `order-service` with a traffic
/// policy given as YAML lines under `trafficPolicy:`.
fn traffic_policy(lines: &str) -> String {
    head("DestinationRule", "dr") + "spec:\n  host: order-service\n  trafficPolicy:\n" + lines
}

fn one_route(extra: &str) -> String {
    virtual_service(&format!(
        "  - route:\n    - destination: {{host: order-service}}\n{extra}"
    ))
}

fn check(case: &str, yaml: &str, resource: &str, field: &str, reason: &str) {
    let e = reject(yaml);
    assert_eq!(e.resource, resource, "{case}: {e}");
    assert_eq!(e.field, field, "{case}: {e}");
    assert!(e.reason.contains(reason), "{case}: {e}");
}

const VS: &str = "VirtualService default/vs";
const DR: &str = "DestinationRule default/dr";
const SE: &str = "ServiceEntry default/se";

#[test]
fn unknown_subset() {
    let yaml = subsets_rule()
        + "---\n"
        + &virtual_service(
            "  - route:
    - destination: {host: order-service, subset: v1}
  - route:
    - destination: {host: order-service, subset: v3}
",
        );
    let vs = yaml.replace("name: vs", "name: order-service-route");
    check(
        "unknown subset",
        &vs,
        "VirtualService default/order-service-route",
        "spec.http[1].route[0].destination.subset",
        r#"unknown subset "v3" of host "order-service""#,
    );
    // Without any DestinationRule, no subset exists.
    check(
        "no rule",
        &virtual_service("  - route:\n    - destination: {host: order-service, subset: v1}\n"),
        VS,
        "spec.http[0].route[0].destination.subset",
        "unknown subset",
    );
}

#[test]
fn route_rejections() {
    let zero = virtual_service(
        "  - route:
    - destination: {host: a}
      weight: 0
    - destination: {host: b}
",
    );
    check(
        "zero weights",
        &zero,
        VS,
        "spec.http[0].route",
        "sum to zero",
    );
    let negative = virtual_service(
        "  - route:
    - destination: {host: a}
      weight: 10
    - destination: {host: b}
      weight: -1
",
    );
    check(
        "negative weight",
        &negative,
        VS,
        "spec.http[0].route[1].weight",
        "-1",
    );
    check(
        "empty route",
        &virtual_service("  - route: []\n"),
        VS,
        "spec.http[0].route",
        "at least one destination",
    );
    check(
        "missing destination",
        &virtual_service("  - route:\n    - weight: 100\n"),
        VS,
        "spec.http[0].route[0].destination",
        "required",
    );
    check(
        "bad host",
        &virtual_service("  - route:\n    - destination: {host: 'a b'}\n"),
        VS,
        "spec.http[0].route[0].destination.host",
        "invalid host",
    );
    check(
        "port out of range",
        &virtual_service("  - route:\n    - destination: {host: a, port: {number: 70000}}\n"),
        VS,
        "spec.http[0].route[0].destination.port.number",
        "70000",
    );
    check(
        "redirect",
        &one_route("    redirect: {uri: /x}\n"),
        VS,
        "spec.http[0].redirect",
        "not supported",
    );
    check(
        "rewrite",
        &one_route("    rewrite: {uri: /x}\n"),
        VS,
        "spec.http[0].rewrite",
        "not supported",
    );
}

#[test]
fn match_rejections() {
    let regex = virtual_service(
        "  - match:
    - uri: {prefix: /ok}
    - uri: {regex: '('}
    route:
    - destination: {host: order-service}
",
    );
    check(
        "bad uri regex",
        &regex,
        VS,
        "spec.http[0].match[1].uri.regex",
        "invalid regex",
    );
    let header = virtual_service(
        "  - match:
    - headers:
        x-a: {regex: '[z-a]'}
    route:
    - destination: {host: order-service}
",
    );
    check(
        "bad header regex",
        &header,
        VS,
        "spec.http[0].match[0].headers.x-a.regex",
        "invalid regex",
    );
    let both = virtual_service(
        "  - match:
    - queryParams:
        q: {exact: a, prefix: b}
    route:
    - destination: {host: order-service}
",
    );
    check(
        "two rules",
        &both,
        VS,
        "spec.http[0].match[0].queryParams.q",
        "mutually exclusive",
    );
    let labels = virtual_service(
        "  - match:
    - sourceLabels: {app: web}
    route:
    - destination: {host: order-service}
",
    );
    check(
        "source labels",
        &labels,
        VS,
        "spec.http[0].match[0].sourceLabels",
        "not supported",
    );
    let claims = virtual_service(
        "  - match:
    - headers:
        '@request.auth.claims.group': {exact: admin}
    route:
    - destination: {host: order-service}
",
    );
    check(
        "jwt claims",
        &claims,
        VS,
        "spec.http[0].match[0].headers.@request.auth.claims.group",
        "JWT",
    );
}

#[test]
fn durations_and_policies() {
    check(
        "timeout",
        &one_route("    timeout: 10\n"),
        VS,
        "spec.http[0].timeout",
        "missing unit",
    );
    check(
        "per-try timeout",
        &one_route("    retries: {attempts: 2, perTryTimeout: soon}\n"),
        VS,
        "spec.http[0].retries.perTryTimeout",
        "invalid duration",
    );
    check(
        "retry on",
        &one_route("    retries: {attempts: 2, retryOn: '5xx,sometimes'}\n"),
        VS,
        "spec.http[0].retries.retryOn",
        "sometimes",
    );
    check(
        "mirror percentage",
        &one_route("    mirror: {host: b}\n    mirrorPercentage: {value: 150}\n"),
        VS,
        "spec.http[0].mirrorPercentage.value",
        "150",
    );
    check(
        "abort status",
        &one_route("    fault: {abort: {httpStatus: 99, percentage: {value: 1}}}\n"),
        VS,
        "spec.http[0].fault.abort.httpStatus",
        "99",
    );
    check(
        "grpc status",
        &one_route("    fault: {abort: {grpcStatus: NOPE}}\n"),
        VS,
        "spec.http[0].fault.abort.grpcStatus",
        "NOPE",
    );
    check(
        "delay without duration",
        &one_route("    fault: {delay: {percentage: {value: 1}}}\n"),
        VS,
        "spec.http[0].fault.delay.fixedDelay",
        "required",
    );
    check(
        "outlier interval",
        &traffic_policy("    outlierDetection: {interval: -1s}\n"),
        DR,
        "spec.trafficPolicy.outlierDetection.interval",
        "negative",
    );
    check(
        "ejection percent",
        &traffic_policy("    outlierDetection: {maxEjectionPercent: 150}\n"),
        DR,
        "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
        "150",
    );
    check(
        "passthrough",
        &traffic_policy("    loadBalancer: {simple: PASSTHROUGH}\n"),
        DR,
        "spec.trafficPolicy.loadBalancer.simple",
        "PASSTHROUGH",
    );
    check(
        "ring size",
        &traffic_policy(
            "    loadBalancer:\n      consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 99999999}}\n",
        ),
        DR,
        "spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize",
        "8388608",
    );
    check(
        "hash key",
        &traffic_policy("    loadBalancer:\n      consistentHash: {}\n"),
        DR,
        "spec.trafficPolicy.loadBalancer.consistentHash",
        "needs one of",
    );
    check(
        "tls mode",
        &traffic_policy("    tls: {mode: SOMETIMES}\n"),
        DR,
        "spec.trafficPolicy.tls.mode",
        "SOMETIMES",
    );
    check(
        "negative limit",
        &traffic_policy("    connectionPool: {tcp: {maxConnections: -5}}\n"),
        DR,
        "spec.trafficPolicy.connectionPool.tcp.maxConnections",
        "-5",
    );
    check(
        "keepalive under a second",
        &traffic_policy("    connectionPool: {tcp: {tcpKeepalive: {interval: 100ms}}}\n"),
        DR,
        "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.interval",
        "under 1s",
    );
    check(
        "zero connection duration",
        &traffic_policy("    connectionPool: {tcp: {maxConnectionDuration: 0s}}\n"),
        DR,
        "spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration",
        "at least 1ms",
    );
    check(
        "zero idle timeout",
        &traffic_policy("    connectionPool: {http: {idleTimeout: 0s}}\n"),
        DR,
        "spec.trafficPolicy.connectionPool.http.idleTimeout",
        "at least 1ms",
    );
    check(
        "negative requests per connection",
        &traffic_policy("    connectionPool: {http: {maxRequestsPerConnection: -1}}\n"),
        DR,
        "spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection",
        "-1",
    );
    check(
        "too many streams",
        &traffic_policy("    connectionPool: {http: {maxConcurrentStreams: 4294967295}}\n"),
        DR,
        "spec.trafficPolicy.connectionPool.http.maxConcurrentStreams",
        "2147483647",
    );
}

#[test]
fn service_entry_rejections() {
    let port = service_entry(
        "  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {http: 70000}
",
    );
    check(
        "endpoint port",
        &port,
        SE,
        "spec.endpoints[0].ports.http",
        "70000",
    );
    check(
        "service port",
        &service_entry("  ports: [{number: 0, name: http}]\n"),
        SE,
        "spec.ports[0].number",
        "0",
    );
    check(
        "twice the same port",
        &service_entry("  ports: [{number: 80, name: a}, {number: 80, name: b}]\n"),
        SE,
        "spec.ports[1].number",
        "twice",
    );
    check(
        "no ports",
        &service_entry("  resolution: DNS\n"),
        SE,
        "spec.ports",
        "at least one port",
    );
    check(
        "resolution",
        &service_entry("  ports: [{number: 80, name: http}]\n  resolution: MAGIC\n"),
        SE,
        "spec.resolution",
        "MAGIC",
    );
    check(
        "address",
        &service_entry(
            "  ports: [{number: 80, name: http}]\n  resolution: STATIC\n  endpoints: [{address: 'a b'}]\n",
        ),
        SE,
        "spec.endpoints[0].address",
        "not a host",
    );
    check(
        "selector",
        &service_entry(
            "  ports: [{number: 80, name: http}]\n  workloadSelector: {labels: {app: x}}\n",
        ),
        SE,
        "spec.workloadSelector",
        "inline",
    );
    let twice = service_entry("  ports: [{number: 80, name: http}]\n")
        + "---\n"
        + &service_entry("  ports: [{number: 81, name: http}]\n").replace("name: se", "name: se2");
    check(
        "host declared twice",
        &twice,
        "ServiceEntry default/se2",
        "spec.hosts[0]",
        "already declared by ServiceEntry default/se",
    );
    let undeclared_port = service_entry("  ports: [{number: 80, name: http}]\n")
        + "---\n"
        + &virtual_service(
            "  - route:\n    - destination: {host: order-service, port: {number: 81}}\n",
        );
    check(
        "undeclared port",
        &undeclared_port,
        VS,
        "spec.http[0].route[0].destination.port.number",
        "no port 81",
    );
}

#[test]
fn resource_level_rejections() {
    let dup = one_route("") + "---\n" + &one_route("");
    check("duplicate", &dup, VS, "metadata.name", "duplicate resource");
    let same_host = one_route("") + "---\n" + &one_route("").replace("name: vs", "name: vs2");
    check(
        "same host",
        &same_host,
        "VirtualService default/vs2",
        "spec.hosts[0]",
        "already routed by VirtualService default/vs",
    );
    let two_rules = traffic_policy("    tls: {mode: DISABLE}\n")
        + "---\n"
        + &traffic_policy("    tls: {mode: DISABLE}\n").replace("name: dr", "name: dr2");
    check(
        "two rules",
        &two_rules,
        "DestinationRule default/dr2",
        "spec.host",
        "already has DestinationRule default/dr",
    );
    check(
        "no hosts",
        &(head("VirtualService", "vs") + "spec: {http: []}\n"),
        VS,
        "spec.hosts",
        "at least one host",
    );
    check(
        "wildcard host",
        &(head("VirtualService", "vs") + "spec: {hosts: ['*.example.com']}\n"),
        VS,
        "spec.hosts[0]",
        "wildcard",
    );
    check(
        "no kind",
        "apiVersion: v1\nmetadata: {name: x}\n",
        "document 1",
        "kind",
        "needs a kind",
    );
    let broken = fixture("order-service.yaml") + "---\nkind: VirtualService\n  bad: [indent\n";
    let e = reject(&broken);
    assert_eq!(e.resource, "document 4", "{e}");
    let type_error = one_route("").replace("  hosts: [order-service]", "  hosts: order-service");
    check("type error", &type_error, VS, "spec.hosts", "invalid type");
}
