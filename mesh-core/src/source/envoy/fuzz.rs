//! Property tests: arbitrary text, arbitrary loosely Envoy-shaped
//! documents (the right keys, `@type`s and awkward values in random
//! places) and the valid test document with random parts replaced must
//! make [`load`] and `build` return, never panic. The mutations reach the
//! proto → model conversions, which random documents rarely get past
//! deserialization to.

use proptest::prelude::*;

use super::load;
use super::tests::DOCUMENT;

/// Keys and leaf values that steer generated documents into the parser's
/// interesting corners.
const KEYS: &[&str] = &[
    "name",
    "resources",
    "static_resources",
    "listeners",
    "clusters",
    "api_listener",
    "route_config",
    "rds",
    "route_config_name",
    "virtual_hosts",
    "domains",
    "routes",
    "match",
    "prefix",
    "path",
    "safe_regex",
    "regex",
    "headers",
    "string_match",
    "exact",
    "range_match",
    "start",
    "end",
    "present_match",
    "query_parameters",
    "route",
    "cluster",
    "weighted_clusters",
    "weight",
    "metadata_match",
    "filter_metadata",
    "envoy.lb",
    "timeout",
    "retry_policy",
    "retry_on",
    "num_retries",
    "retry_back_off",
    "base_interval",
    "max_interval",
    "hash_policy",
    "header",
    "header_name",
    "request_mirror_policies",
    "runtime_fraction",
    "default_value",
    "numerator",
    "denominator",
    "type",
    "lb_policy",
    "ring_hash_lb_config",
    "minimum_ring_size",
    "maximum_ring_size",
    "least_request_lb_config",
    "choice_count",
    "connect_timeout",
    "circuit_breakers",
    "thresholds",
    "max_requests",
    "outlier_detection",
    "interval",
    "load_assignment",
    "cluster_name",
    "endpoints",
    "lb_endpoints",
    "endpoint",
    "address",
    "socket_address",
    "port_value",
    "load_balancing_weight",
    "health_status",
    "metadata",
    "transport_socket",
    "typed_config",
    "typed_extension_protocol_options",
    "explicit_http_config",
    "http2_protocol_options",
    "eds_cluster_config",
    "service_name",
    "common_http_protocol_options",
    "idle_timeout",
    "max_connection_duration",
    "max_requests_per_connection",
    "max_concurrent_streams",
    "connection_keepalive",
    "upstream_connection_options",
    "tcp_keepalive",
    "keepalive_probes",
    "keepalive_time",
    "keepalive_interval",
    "per_host_thresholds",
    "max_connections",
    "retry_budget",
    "budget_percent",
    "value",
    "min_retry_concurrency",
    "hedge_policy",
    "hedge_on_per_try_timeout",
    "initial_requests",
    "additional_request_chance",
    "typed_per_filter_config",
    "envoy.filters.http.local_ratelimit",
    "stat_prefix",
    "token_bucket",
    "max_tokens",
    "tokens_per_fill",
    "fill_interval",
    "filter_enabled",
    "filter_enforced",
];

const TYPES: &[&str] = &[
    super::type_url::LISTENER,
    super::type_url::ROUTE_CONFIGURATION,
    super::type_url::CLUSTER,
    super::type_url::CLUSTER_LOAD_ASSIGNMENT,
    super::type_url::HTTP_CONNECTION_MANAGER,
    super::type_url::HTTP_PROTOCOL_OPTIONS,
    super::type_url::UPSTREAM_TLS_CONTEXT,
    super::type_url::LOCAL_RATE_LIMIT,
    "type.googleapis.com/acme.Unknown",
];

const WORDS: &[&str] = &[
    "",
    "/",
    "orders",
    "orders:80",
    "*",
    "*.svc",
    "1s",
    "-1s",
    "0.5s",
    "99999999999999999s",
    "(",
    "a{1000}{1000}",
    "5xx,reset",
    "bogus",
    "STATIC",
    "EDS",
    "LOGICAL_DNS",
    "MAGLEV",
    "RING_HASH",
    "LEAST_REQUEST",
    "HEALTHY",
    "HUNDRED",
    "10.0.0.1",
    "::1",
    "x-user",
    "18446744073709551616",
    "NaN",
    "-Infinity",
    "1e400",
    "MILLION",
];

fn leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (0u64..70_000).prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        prop::sample::select(WORDS).prop_map(serde_json::Value::from),
        prop::sample::select(TYPES).prop_map(serde_json::Value::from),
        ".{0,8}".prop_map(serde_json::Value::from),
    ]
}

fn tree() -> impl Strategy<Value = serde_json::Value> {
    leaf().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS).prop_map(str::to_owned),
                        Just("@type".to_owned())
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| serde_json::Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A resource: an object with a known (or unknown) `@type` and generated
/// fields.
fn resource() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::sample::select(TYPES),
        prop::collection::vec((prop::sample::select(KEYS), tree()), 0..6),
    )
        .prop_map(|(t, fields)| {
            let mut object = serde_json::Map::new();
            object.insert("@type".into(), t.into());
            for (k, v) in fields {
                object.insert(k.to_owned(), v);
            }
            object.into()
        })
}

/// Loads and, when that succeeds, builds; either may fail, neither may panic.
fn exercise(text: &str) {
    if let Ok(builder) = load(text) {
        let _ = builder.build();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in prop_oneof![
        any::<String>(),
        "[a-z_@:{}\\[\\],\"' \n0-9./*-]{0,200}",
    ]) {
        exercise(&text);
    }

    #[test]
    fn structured_documents_never_panic(
        resources in prop::collection::vec(resource(), 0..4),
        as_yaml in any::<bool>(),
        wrap_static in any::<bool>(),
    ) {
        let doc = if wrap_static {
            serde_json::json!({"static_resources": {"listeners": resources.clone(), "clusters": resources}})
        } else {
            serde_json::json!({"resources": resources})
        };
        let text = if as_yaml {
            serde_yaml::to_string(&doc).unwrap()
        } else {
            serde_json::to_string(&doc).unwrap()
        };
        exercise(&text);
    }

    #[test]
    fn mutated_documents_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), tree()), 1..4),
        as_yaml in any::<bool>(),
    ) {
        let mut doc: serde_json::Value = serde_yaml::from_str(DOCUMENT).unwrap();
        for (index, replacement) in edits {
            let mut all = Vec::new();
            pointers(&doc, String::new(), &mut all);
            let pointer = index.get(&all).clone();
            if let Some(slot) = doc.pointer_mut(&pointer) {
                *slot = replacement;
            }
        }
        let text = if as_yaml {
            serde_yaml::to_string(&doc).unwrap()
        } else {
            serde_json::to_string(&doc).unwrap()
        };
        exercise(&text);
    }
}

/// The JSON pointer of every node of `value`, root first.
fn pointers(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{key}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}
