use std::collections::HashMap;

use serde_json::json;

use envoy_types::pb::envoy::config::core::v3 as core_pb;
use envoy_types::pb::google::protobuf::{ListValue, Value as PbValue, value::Kind};

use super::parse::parse_duration;
use super::*;

const ISTIO: &str = include_str!("../../../tests/fixtures/bootstrap/istio-proxyless.json");
const FEDERATION: &str = include_str!("../../../tests/fixtures/bootstrap/federation.json");

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bootstrap")
        .join(name)
}

/// A minimal valid bootstrap with `server` as its only server.
fn with_server(server: Value) -> String {
    json!({ "xds_servers": [server] }).to_string()
}

fn server(uri: &str) -> Value {
    json!({ "server_uri": uri, "channel_creds": [{ "type": "insecure" }] })
}

#[track_caller]
fn invalid_field(text: &str) -> (String, String) {
    match Bootstrap::from_json(text) {
        Err(BootstrapError::Invalid { field, reason }) => (field, reason),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn istio_proxyless_bootstrap_parses_as_is() {
    let b = Bootstrap::from_json(ISTIO).unwrap();

    assert_eq!(b.xds_servers.len(), 1);
    let s = &b.xds_servers[0];
    assert_eq!(s.server_uri, "unix:///etc/istio/proxy/XDS");
    assert_eq!(s.channel_creds, ChannelCreds::Insecure);
    assert!(s.xds_v3());
    assert!(!s.ignore_resource_deletion());
    assert!(!s.delta());
    assert_eq!(s.endpoint_uri(), "unix:///etc/istio/proxy/XDS");

    assert_eq!(b.node.id, "sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local");
    assert_eq!(b.node.cluster, "");
    assert_eq!(
        b.node.locality,
        Locality {
            region: "us-central1".into(),
            zone: "us-central1-a".into(),
            sub_zone: String::new(),
        }
    );
    assert_eq!(b.node.metadata["GENERATOR"], "grpc");
    assert_eq!(b.node.metadata["ISTIO_VERSION"], "1.24.2");
    assert_eq!(b.node.metadata["CLUSTER_ID"], "Kubernetes");
    assert_eq!(b.node.metadata["NAMESPACE"], "ns");
    assert_eq!(b.node.metadata["LABELS"]["app"], "pod");

    let provider = &b.certificate_providers["default"];
    assert_eq!(provider.plugin_name, "file_watcher");
    assert_eq!(provider.config["refresh_interval"], "900s");
    let files = provider.file_watcher().unwrap();
    assert_eq!(
        files.identity(),
        Some((
            Path::new("/var/lib/istio/data/cert-chain.pem"),
            Path::new("/var/lib/istio/data/key.pem"),
        ))
    );
    assert_eq!(
        files.ca_certificate_file.as_deref(),
        Some(Path::new("/var/lib/istio/data/root-cert.pem"))
    );
    assert_eq!(files.refresh_interval, Duration::from_secs(900));

    assert!(b.authorities.is_empty());
    assert_eq!(b.client_default_listener_resource_name_template, None);
    assert_eq!(
        b.server_listener_resource_name_template.as_deref(),
        Some("xds.istio.io/grpc/lds/inbound/%s")
    );
    assert_eq!(
        b.server_listener_resource_name("0.0.0.0:17070").as_deref(),
        Some("xds.istio.io/grpc/lds/inbound/0.0.0.0:17070")
    );
    assert_eq!(
        b.client_listener_resource_name(None, "echo.ns.svc.cluster.local:7070")
            .as_deref(),
        Some("echo.ns.svc.cluster.local:7070")
    );
}

#[test]
fn istio_upstream_test_bootstrap_parses() {
    // The shape of istio's own pkg/istio-agent/testdata/grpc-bootstrap.json:
    // empty locality, null UserAgentVersionType, no cluster.
    let text = r#"{
      "xds_servers": [{"server_uri": "unix:///etc/istio/XDS",
        "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
      "node": {"id": "sidecar~127.0.0.1~pod1.fake-namespace~fake-namespace.svc.cluster.local",
        "metadata": {"GENERATOR": "grpc", "PILOT_SAN": ["istiod.istio-system.svc"]},
        "locality": {}, "UserAgentVersionType": null},
      "certificate_providers": {"default": {"plugin_name": "file_watcher",
        "config": {"certificate_file": "/cert/path/cert-chain.pem",
          "private_key_file": "/cert/path/key.pem",
          "ca_certificate_file": "/cert/path/root-cert.pem", "refresh_interval": "900s"}}},
      "server_listener_resource_name_template": "xds.istio.io/grpc/lds/inbound/%s"
    }"#;
    let b = Bootstrap::from_json(text).unwrap();
    assert_eq!(b.node.locality, Locality::default());
    assert!(b.node.to_proto("mesh", "0.1").locality.is_none());
}

#[test]
fn federation_bootstrap_parses() {
    let b = Bootstrap::from_json(FEDERATION).unwrap();

    assert_eq!(b.xds_servers.len(), 2);
    let primary = &b.xds_servers[0];
    // google_default is skipped; tls is the first supported entry.
    let ChannelCreds::Tls(files) = &primary.channel_creds else {
        panic!("{:?}", primary.channel_creds);
    };
    assert_eq!(
        files.ca_certificate_file.as_deref(),
        Some(Path::new("/etc/mesh/xds/ca.pem"))
    );
    assert!(files.identity().is_some());
    assert_eq!(files.refresh_interval, Duration::from_secs(60));
    // The non-string feature is ignored.
    assert_eq!(
        primary.server_features,
        ["xds_v3", "ignore_resource_deletion", "xds_delta"]
    );
    assert!(primary.ignore_resource_deletion() && primary.delta() && primary.xds_v3());
    assert_eq!(
        primary.endpoint_uri(),
        "https://xds-primary.mesh.example:443"
    );
    let fallback = &b.xds_servers[1];
    assert_eq!(
        fallback.endpoint_uri(),
        "http://xds-fallback.mesh.example:15010"
    );
    assert!(fallback.server_features.is_empty());

    assert_eq!(b.node.cluster, "orders");
    assert_eq!(b.node.locality.sub_zone, "rack-7");

    // Providers: file_watcher with only roots; an unknown plugin is kept.
    let mesh = b.certificate_providers["mesh"].file_watcher().unwrap();
    assert_eq!(mesh.identity(), None);
    assert_eq!(mesh.refresh_interval, DEFAULT_REFRESH_INTERVAL);
    let vault = &b.certificate_providers["vault"];
    assert_eq!(vault.plugin_name, "vault_agent");
    assert_eq!(vault.file_watcher(), None);

    // Authorities.
    assert_eq!(b.authorities.len(), 2);
    assert_eq!(b.servers_for(None), Some(&b.xds_servers[..]));
    assert_eq!(
        b.servers_for(Some("mesh.example")),
        Some(&b.xds_servers[..])
    );
    let partner = b.servers_for(Some("partner.example")).unwrap();
    assert_eq!(partner.len(), 1);
    assert_eq!(
        partner[0].channel_creds,
        ChannelCreds::Tls(PemFiles {
            certificate_file: None,
            private_key_file: None,
            ca_certificate_file: None,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
        })
    );
    assert_eq!(partner[0].endpoint_uri(), "https://xds.partner.example:443");
    assert_eq!(b.servers_for(Some("nobody.example")), None);

    assert_eq!(
        b.client_listener_resource_name(None, "orders.svc:8080")
            .as_deref(),
        Some("xdstp://mesh.example/envoy.config.listener.v3.Listener/orders.svc:8080")
    );
    assert_eq!(
        b.client_listener_resource_name(Some("partner.example"), "pay ments:443")
            .as_deref(),
        Some("xdstp://partner.example/envoy.config.listener.v3.Listener/grpc/pay%20ments:443")
    );
    assert_eq!(
        b.client_listener_resource_name(Some("mesh.example"), "a/b:1")
            .as_deref(),
        Some("xdstp://mesh.example/envoy.config.listener.v3.Listener/a/b:1")
    );
    assert_eq!(b.client_listener_resource_name(Some("nobody"), "x:1"), None);
    assert_eq!(
        b.server_listener_resource_name("[::]:8080").as_deref(),
        Some("xdstp://mesh.example/envoy.config.listener.v3.Listener/inbound/%5B::%5D:8080")
    );
}

#[test]
fn populate_template_encodes_only_xdstp() {
    assert_eq!(populate_template("%s", "a b"), "a b");
    assert_eq!(populate_template("x/%s/%s", "t"), "x/t/t");
    assert_eq!(
        populate_template("xdstp://a/t/%s", "h:1/ü?#"),
        "xdstp://a/t/h:1/%C3%BC%3F%23"
    );
}

#[test]
fn node_to_proto() {
    let b = Bootstrap::from_json(FEDERATION).unwrap();
    let node = b.node.to_proto("mesh-rs", "0.3.1");
    assert_eq!(node.id, "orders-7d9f-abc12");
    assert_eq!(node.cluster, "orders");
    assert_eq!(
        node.locality,
        Some(core_pb::Locality {
            region: "eu-west1".into(),
            zone: "eu-west1-b".into(),
            sub_zone: "rack-7".into(),
        })
    );
    assert_eq!(node.user_agent_name, "mesh-rs");
    assert_eq!(
        node.user_agent_version_type,
        Some(core_pb::node::UserAgentVersionType::UserAgentVersion(
            "0.3.1".into()
        ))
    );
    assert_eq!(
        node.client_features,
        [
            "envoy.lb.does_not_support_overprovisioning",
            "xds.config.resource-in-sotw"
        ]
    );

    let s = |v: &str| PbValue {
        kind: Some(Kind::StringValue(v.into())),
    };
    let expected: HashMap<String, PbValue> = [
        ("team".to_owned(), s("payments")),
        (
            "replicas".to_owned(),
            PbValue {
                kind: Some(Kind::NumberValue(3.0)),
            },
        ),
        (
            "canary".to_owned(),
            PbValue {
                kind: Some(Kind::BoolValue(false)),
            },
        ),
        (
            "tags".to_owned(),
            PbValue {
                kind: Some(Kind::ListValue(ListValue {
                    values: vec![s("a"), s("b")],
                })),
            },
        ),
        (
            "extra".to_owned(),
            PbValue {
                kind: Some(Kind::NullValue(0)),
            },
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(node.metadata.unwrap().fields, expected);
}

#[test]
fn node_to_proto_nested_struct_and_empty() {
    let b = Bootstrap::from_json(ISTIO).unwrap();
    let md = b.node.to_proto("n", "v").metadata.unwrap();
    let Some(Kind::StructValue(labels)) = &md.fields["LABELS"].kind else {
        panic!("{:?}", md.fields["LABELS"]);
    };
    assert_eq!(
        labels.fields["version"].kind,
        Some(Kind::StringValue("v1".into()))
    );

    let node = Node::default().to_proto("n", "v");
    assert_eq!(node.metadata, None);
    assert_eq!(node.locality, None);
    assert_eq!(node.id, "");
}

#[test]
fn node_is_optional_and_accepts_sub_zone_spellings() {
    let b = Bootstrap::from_json(&with_server(server("x:1"))).unwrap();
    assert_eq!(b.node, Node::default());
    assert!(b.certificate_providers.is_empty());

    let text = json!({
        "xds_servers": [server("x:1")],
        "node": { "locality": { "subZone": "s1" }, "metadata": null, "id": null },
    });
    let b = Bootstrap::from_json(&text.to_string()).unwrap();
    assert_eq!(b.node.locality.sub_zone, "s1");
    assert_eq!(b.node.id, "");
}

#[test]
fn from_file_and_env() {
    let path = fixture_path("istio-proxyless.json");
    let from_file = Bootstrap::from_file(&path).unwrap();
    assert_eq!(from_file, Bootstrap::from_json(ISTIO).unwrap());

    let path_str = path.to_str().unwrap().to_owned();
    // The file wins over the inline config.
    let env = |name: &str| match name {
        ENV_BOOTSTRAP => Some(path_str.clone()),
        ENV_BOOTSTRAP_CONFIG => Some(FEDERATION.to_owned()),
        _ => None,
    };
    assert_eq!(Bootstrap::from_env_with(env).unwrap(), from_file);

    // Without (or with an empty) file variable, the inline config is used.
    let env = |name: &str| match name {
        ENV_BOOTSTRAP => Some(String::new()),
        ENV_BOOTSTRAP_CONFIG => Some(FEDERATION.to_owned()),
        _ => None,
    };
    assert_eq!(
        Bootstrap::from_env_with(env).unwrap(),
        Bootstrap::from_json(FEDERATION).unwrap()
    );

    let mut asked = Vec::new();
    let err = Bootstrap::from_env_with(|name| {
        asked.push(name.to_owned());
        None
    })
    .unwrap_err();
    assert!(matches!(err, BootstrapError::NotConfigured), "{err:?}");
    assert_eq!(asked, [ENV_BOOTSTRAP, ENV_BOOTSTRAP_CONFIG]);
    assert!(err.to_string().contains("GRPC_XDS_BOOTSTRAP_CONFIG"));
}

#[test]
fn missing_file_is_an_io_error_with_the_path() {
    let path = fixture_path("does-not-exist.json");
    let err = Bootstrap::from_env_with(|name| {
        (name == ENV_BOOTSTRAP).then(|| path.to_str().unwrap().to_owned())
    })
    .unwrap_err();
    let BootstrapError::Io { path: p, source } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(p, &path);
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("does-not-exist.json"), "{err}");
}

#[test]
fn syntax_errors_have_line_and_column() {
    let err = Bootstrap::from_json("{\n  \"xds_servers\": [,]\n}").unwrap_err();
    let BootstrapError::Json {
        line,
        column,
        message,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!((*line, *column), (2, 19));
    assert!(!message.contains("at line"), "{message}");
    assert!(err.to_string().contains("line 2, column 19"), "{err}");
}

#[test]
fn top_level_must_be_an_object_with_servers() {
    assert_eq!(invalid_field("[]").0, "(root)");
    assert_eq!(invalid_field("{}").0, "xds_servers");
    assert_eq!(invalid_field(r#"{"xds_servers": []}"#).0, "xds_servers");
    assert_eq!(invalid_field(r#"{"xds_servers": null}"#).0, "xds_servers");
    let (field, reason) = invalid_field(r#"{"xds_servers": {}}"#);
    assert_eq!(field, "xds_servers");
    assert!(
        reason.contains("expected an array, found an object"),
        "{reason}"
    );
    assert_eq!(invalid_field(r#"{"xds_servers": [1]}"#).0, "xds_servers[0]");
}

#[test]
fn server_validation_names_the_field() {
    let cases = [
        (
            json!({ "channel_creds": [{ "type": "insecure" }] }),
            "xds_servers[0].server_uri",
        ),
        (
            json!({ "server_uri": "", "channel_creds": [{ "type": "insecure" }] }),
            "xds_servers[0].server_uri",
        ),
        (
            json!({ "server_uri": 5, "channel_creds": [{ "type": "insecure" }] }),
            "xds_servers[0].server_uri",
        ),
        (
            json!({ "server_uri": "x:1" }),
            "xds_servers[0].channel_creds",
        ),
        (
            json!({ "server_uri": "x:1", "channel_creds": [] }),
            "xds_servers[0].channel_creds",
        ),
        (
            json!({ "server_uri": "x:1", "channel_creds": [{}] }),
            "xds_servers[0].channel_creds[0].type",
        ),
        (
            json!({ "server_uri": "x:1", "channel_creds": ["insecure"] }),
            "xds_servers[0].channel_creds[0]",
        ),
        (
            json!({ "server_uri": "x:1", "channel_creds": [{ "type": "insecure" }], "server_features": "xds_v3" }),
            "xds_servers[0].server_features",
        ),
        (
            json!({ "server_uri": "x:1", "channel_creds": [{ "type": "tls", "config": "no" }] }),
            "xds_servers[0].channel_creds[0].config",
        ),
        (
            json!({ "server_uri": "x:1", "channel_creds": [{ "type": "tls", "config": { "certificate_file": "/c" } }] }),
            "xds_servers[0].channel_creds[0].config.private_key_file",
        ),
        (
            json!({ "server_uri": "x:1", "channel_creds": [{ "type": "tls", "config": { "private_key_file": "/k" } }] }),
            "xds_servers[0].channel_creds[0].config.certificate_file",
        ),
        (
            json!({ "server_uri": "x:1", "channel_creds": [{ "type": "tls", "config": { "refresh_interval": "10m" } }] }),
            "xds_servers[0].channel_creds[0].config.refresh_interval",
        ),
        (
            json!({ "server_uri": "x:1", "channel_creds": [{ "type": "tls", "config": { "refresh_interval": "0s" } }] }),
            "xds_servers[0].channel_creds[0].config.refresh_interval",
        ),
    ];
    for (server, field) in cases {
        let text = with_server(server.clone());
        assert_eq!(invalid_field(&text).0, field, "{server}");
    }
    // Later servers are named by their index.
    let text = json!({ "xds_servers": [server("a:1"), { "server_uri": "b:1" }] }).to_string();
    assert_eq!(invalid_field(&text).0, "xds_servers[1].channel_creds");
}

#[test]
fn channel_creds_pick_the_first_supported() {
    let pick = |creds: Value| {
        let text = with_server(json!({ "server_uri": "x:1", "channel_creds": creds }));
        Bootstrap::from_json(&text).map(|b| b.xds_servers[0].channel_creds.clone())
    };
    assert_eq!(
        pick(json!([{ "type": "google_default" }, { "type": "insecure" }, { "type": "tls" }]))
            .unwrap(),
        ChannelCreds::Insecure
    );
    assert!(matches!(
        pick(json!([{ "type": "tls" }, { "type": "insecure" }])).unwrap(),
        ChannelCreds::Tls(_)
    ));
    // A broken config after the chosen entry does not matter.
    assert_eq!(
        pick(json!([{ "type": "insecure" }, { "type": "tls", "config": 3 }])).unwrap(),
        ChannelCreds::Insecure
    );
    // Empty paths are unset.
    let ChannelCreds::Tls(files) = pick(json!([{ "type": "tls", "config": {
        "certificate_file": "", "private_key_file": "", "ca_certificate_file": "/ca.pem",
        "refresh_interval": "1.5s" } }]))
    .unwrap() else {
        panic!()
    };
    assert_eq!(files.identity(), None);
    assert_eq!(files.refresh_interval, Duration::from_millis(1500));

    let err = pick(json!([{ "type": "google_default" }, { "type": "alts" }])).unwrap_err();
    let BootstrapError::Invalid { field, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(field, "xds_servers[0].channel_creds");
    assert!(reason.contains("\"google_default\", \"alts\""), "{reason}");
    assert!(
        err.to_string()
            .starts_with("invalid xDS bootstrap: xds_servers[0].channel_creds: "),
        "{err}"
    );
}

#[test]
fn server_uri_forms() {
    let endpoint = |uri: &str, creds: Value| {
        let text = with_server(json!({ "server_uri": uri, "channel_creds": [creds] }));
        Bootstrap::from_json(&text).map(|b| b.xds_servers[0].endpoint_uri())
    };
    let insecure = || json!({ "type": "insecure" });
    let tls = || json!({ "type": "tls" });
    let ok = [
        (
            "istiod.istio-system.svc:15010",
            insecure(),
            "http://istiod.istio-system.svc:15010",
        ),
        (
            "istiod.istio-system.svc:15012",
            tls(),
            "https://istiod.istio-system.svc:15012",
        ),
        (
            "istiod.istio-system.svc",
            tls(),
            "https://istiod.istio-system.svc:443",
        ),
        ("10.1.2.3:15010", insecure(), "http://10.1.2.3:15010"),
        ("[::1]:15010", insecure(), "http://[::1]:15010"),
        ("[fd00::1]", tls(), "https://[fd00::1]:443"),
        (
            "dns:///trafficdirector.googleapis.com:443",
            tls(),
            "https://trafficdirector.googleapis.com:443",
        ),
        ("dns:xds.local:18000", insecure(), "http://xds.local:18000"),
        (
            "passthrough:///xds.local:18000",
            insecure(),
            "http://xds.local:18000",
        ),
        ("ipv4:127.0.0.1:18000", insecure(), "http://127.0.0.1:18000"),
        ("ipv6:[::1]:18000", insecure(), "http://[::1]:18000"),
        (
            "unix:///etc/istio/proxy/XDS",
            insecure(),
            "unix:///etc/istio/proxy/XDS",
        ),
        ("unix:relative.sock", insecure(), "unix:relative.sock"),
        (
            "http://127.0.0.1:18000",
            insecure(),
            "http://127.0.0.1:18000",
        ),
        ("https://xds.example", tls(), "https://xds.example"),
    ];
    for (uri, creds, want) in ok {
        assert_eq!(endpoint(uri, creds).unwrap(), want, "{uri}");
    }
    let bad = [
        "  ",
        "unix:",
        "unix://",
        "dns://8.8.8.8/xds.local:443",
        "xds:///foo",
        "grpc://x:1",
        "::1:15010",
        "[::1:15010",
        "[nope]:1",
        "host:port",
        "host:0",
        "host:70000",
        ":15010",
        "ipv4:1.1.1.1:1,2.2.2.2:2",
        "http://x:1/path",
        "host name:1",
    ];
    for uri in bad {
        let err = endpoint(uri, insecure()).unwrap_err();
        let BootstrapError::Invalid { field, .. } = &err else {
            panic!("{uri}: {err:?}");
        };
        assert_eq!(field, "xds_servers[0].server_uri", "{uri}");
    }
}

#[test]
fn hand_built_server_with_a_bad_uri_is_passed_through() {
    let s = XdsServer {
        server_uri: "weird://thing".into(),
        channel_creds: ChannelCreds::Insecure,
        server_features: vec![],
    };
    assert_eq!(s.endpoint_uri(), "weird://thing");
}

#[test]
fn certificate_provider_validation() {
    let with_providers = |providers: Value| {
        json!({ "xds_servers": [server("x:1")], "certificate_providers": providers }).to_string()
    };
    let cases = [
        (json!([]), "certificate_providers"),
        (json!({ "p": 1 }), "certificate_providers.p"),
        (json!({ "p": {} }), "certificate_providers.p.plugin_name"),
        (
            json!({ "p": { "plugin_name": "" } }),
            "certificate_providers.p.plugin_name",
        ),
        (
            json!({ "p": { "plugin_name": "file_watcher" } }),
            "certificate_providers.p.config",
        ),
        (
            json!({ "p": { "plugin_name": "file_watcher", "config": {} } }),
            "certificate_providers.p.config",
        ),
        (
            json!({ "p": { "plugin_name": "file_watcher", "config": { "certificate_file": "/c" } } }),
            "certificate_providers.p.config.private_key_file",
        ),
        (
            json!({ "p": { "plugin_name": "file_watcher", "config": { "ca_certificate_file": "/ca", "refresh_interval": "-5s" } } }),
            "certificate_providers.p.config.refresh_interval",
        ),
        (
            json!({ "p": { "plugin_name": "file_watcher", "config": { "ca_certificate_file": 7 } } }),
            "certificate_providers.p.config.ca_certificate_file",
        ),
    ];
    for (providers, field) in cases {
        assert_eq!(
            invalid_field(&with_providers(providers.clone())).0,
            field,
            "{providers}"
        );
    }
    // Identity without roots is fine; unknown plugins keep any config.
    let b = Bootstrap::from_json(&with_providers(json!({
        "id": { "plugin_name": "file_watcher",
                "config": { "certificate_file": "/c", "private_key_file": "/k" } },
        "other": { "plugin_name": "something", "config": [1, 2] },
        "bare": { "plugin_name": "something" },
    })))
    .unwrap();
    assert!(
        b.certificate_providers["id"]
            .file_watcher()
            .unwrap()
            .identity()
            .is_some()
    );
    assert_eq!(b.certificate_providers["other"].config, json!([1, 2]));
    assert_eq!(b.certificate_providers["bare"].config, Value::Null);
}

#[test]
fn authority_validation() {
    let with_authorities = |authorities: Value| {
        json!({ "xds_servers": [server("x:1")], "authorities": authorities }).to_string()
    };
    let (field, reason) = invalid_field(&with_authorities(json!({
        "a.example": { "client_listener_resource_name_template": "xdstp://b.example/x/%s" }
    })));
    assert_eq!(
        field,
        "authorities.a.example.client_listener_resource_name_template"
    );
    assert!(reason.contains("xdstp://a.example/"), "{reason}");
    assert_eq!(
        invalid_field(&with_authorities(
            json!({ "a": { "xds_servers": [{ "server_uri": "y:1" }] } })
        ))
        .0,
        "authorities.a.xds_servers[0].channel_creds"
    );
    assert_eq!(
        invalid_field(&with_authorities(json!({ "a": [] }))).0,
        "authorities.a"
    );
    assert_eq!(
        invalid_field(&with_authorities(
            json!({ "a": { "client_listener_resource_name_template": 1 } })
        ))
        .0,
        "authorities.a.client_listener_resource_name_template"
    );

    // An empty server list, like a missing one, means the top-level servers;
    // the empty authority name is allowed (xdstp:/// names).
    let b = Bootstrap::from_json(&with_authorities(json!({
        "a": { "xds_servers": [] },
        "": { "client_listener_resource_name_template": "xdstp:///l/%s" },
    })))
    .unwrap();
    assert_eq!(b.servers_for(Some("a")), Some(&b.xds_servers[..]));
    assert_eq!(
        b.client_listener_resource_name(Some(""), "svc:1")
            .as_deref(),
        Some("xdstp:///l/svc:1")
    );
}

#[test]
fn other_fields_type_checked_and_unknown_ignored() {
    let base = || json!({ "xds_servers": [server("x:1")] });
    let cases = [
        ("node", json!("n"), "node"),
        ("node", json!({ "id": 1 }), "node.id"),
        ("node", json!({ "locality": "here" }), "node.locality"),
        (
            "node",
            json!({ "locality": { "zone": 1 } }),
            "node.locality.zone",
        ),
        ("node", json!({ "metadata": [] }), "node.metadata"),
        ("authorities", json!(1), "authorities"),
        (
            "client_default_listener_resource_name_template",
            json!(1),
            "client_default_listener_resource_name_template",
        ),
        (
            "server_listener_resource_name_template",
            json!(false),
            "server_listener_resource_name_template",
        ),
    ];
    for (key, value, field) in cases {
        let mut doc = base();
        doc[key] = value;
        assert_eq!(invalid_field(&doc.to_string()).0, field, "{doc}");
    }
    let mut doc = base();
    doc["something_new"] = json!({ "a": 1 });
    doc["xds_servers"][0]["future_field"] = json!(true);
    doc["xds_servers"][0]["server_features"] = json!([{ "k": 1 }, "ignore_resource_deletion"]);
    let b = Bootstrap::from_json(&doc.to_string()).unwrap();
    assert!(b.xds_servers[0].ignore_resource_deletion());
}

#[test]
fn durations() {
    assert_eq!(parse_duration("900s"), Ok(Duration::from_secs(900)));
    assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("1.000000001s"), Ok(Duration::new(1, 1)));
    for bad in [
        "",
        "s",
        "5",
        "1.s",
        ".5s",
        "1.0000000001s",
        "1e3s",
        "-1s",
        "99999999999999s",
        " 1s",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn servers_are_hashable_for_dedup() {
    let b = Bootstrap::from_json(FEDERATION).unwrap();
    let mut set = std::collections::HashSet::new();
    for s in b
        .xds_servers
        .iter()
        .chain(b.authorities.values().flat_map(|a| &a.xds_servers))
    {
        set.insert(s.clone());
    }
    assert_eq!(set.len(), 3);
    set.insert(b.xds_servers[0].clone());
    assert_eq!(set.len(), 3);
}
