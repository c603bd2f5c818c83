//! The xDS client over TLS and mutual TLS (bootstrap `tls` channel creds,
//! gRFC A65) against the test control plane serving TLS on loopback, with
//! a CA and certificates minted here by rcgen into a scratch directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mesh_core::xds::{Bootstrap, XdsClient, XdsClientError, XdsStats};
use mesh_tests::canary::{self, CanaryBackends, TARGET, mesh_client, spread};
use mesh_tests::control_plane::ControlPlane;
use mesh_tests::xds_resources::canary_scenario;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

const WAIT: Duration = Duration::from_secs(10);

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mesh-xds-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Self(dir)
    }

    /// Writes `contents` to `name`; its path.
    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate authority that signs leaf certificates.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("a CA key");
        let cert = params.self_signed(&key).expect("a CA certificate");
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` (DNS names or IP addresses) with `usage`:
    /// certificate and key, in PEM.
    fn leaf(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("a leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("a leaf");
        (cert.pem(), key.serialize_pem())
    }
}

/// A CA, a server certificate for `localhost` and `127.0.0.1` and a
/// client certificate it signed, written out as PEM files.
struct Pki {
    dir: Scratch,
    ca: Ca,
    server_cert: String,
    server_key: String,
    ca_file: PathBuf,
    client_cert_file: PathBuf,
    client_key_file: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Self {
        let dir = Scratch::new(name);
        let ca = Ca::new("mesh test CA");
        let (server_cert, server_key) = ca.leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = ca.leaf(
            &["mesh-tests.default.svc"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let ca_file = dir.write("ca.pem", &ca.pem);
        let client_cert_file = dir.write("client.pem", &client_cert);
        let client_key_file = dir.write("client-key.pem", &client_key);
        Self {
            dir,
            ca,
            server_cert,
            server_key,
            ca_file,
            client_cert_file,
            client_key_file,
        }
    }

    /// The creds config with the CA and, when `identity`, the client
    /// certificate and key.
    fn creds(&self, identity: bool) -> serde_json::Value {
        let mut config = serde_json::json!({ "ca_certificate_file": self.ca_file });
        if identity {
            config["certificate_file"] = serde_json::json!(self.client_cert_file);
            config["private_key_file"] = serde_json::json!(self.client_key_file);
        }
        config
    }
}

/// A bootstrap naming one server with `tls` creds of `config`.
fn tls_bootstrap(server_uri: &str, config: serde_json::Value) -> Bootstrap {
    let json = serde_json::json!({
        "xds_servers": [{
            "server_uri": server_uri,
            "channel_creds": [{"type": "tls", "config": config}],
            "server_features": ["xds_v3"],
        }],
        "node": {"id": "mesh-tests~127.0.0.1~tests.default", "cluster": "tests"},
    });
    Bootstrap::from_json(&json.to_string()).expect("a valid bootstrap")
}

/// A TLS control plane serving the canary scenario at 80/20.
async fn control_plane(
    pki: &Pki,
    client_ca: Option<&str>,
    backends: &CanaryBackends,
) -> ControlPlane {
    let cp = ControlPlane::start_tls(&pki.server_cert, &pki.server_key, client_ca).await;
    cp.set_all(canary_scenario(
        TARGET,
        &backends.v1_addrs(),
        &backends.v2_addrs(),
        (80, 20),
    ));
    cp
}

/// Asserts the client gets configured and routes 80/20 with no error.
async fn assert_serving(client: &XdsClient) {
    assert!(client.ready(WAIT).await, "a configuration within {WAIT:?}");
    let seen = spread(&mesh_client(client), 200).await;
    let v1 = seen.get("v1").copied().unwrap_or(0);
    // 80% of 200: standard deviation ~5.7; ±40 never flakes.
    assert!((120..=199).contains(&v1), "{seen:?}");
    assert_eq!(seen.get("error"), None, "{seen:?}");
    assert!(client.stats().connected, "{:?}", client.stats());
}

/// Waits (bounded) until the client has counted a failure; then checks
/// it never got a configuration.
async fn assert_failing(client: &XdsClient) -> XdsStats {
    let mut stats = client.stats();
    for _ in 0..200 {
        if stats.server_failures > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        stats = client.stats();
    }
    assert!(stats.server_failures > 0, "no failure counted: {stats:?}");
    assert!(
        !client.ready(Duration::from_millis(1500)).await,
        "no configuration may arrive"
    );
    let stats = client.stats();
    assert!(!stats.connected, "{stats:?}");
    assert_eq!(stats.updates_accepted, 0, "{stats:?}");
    assert_eq!(client.generation(), 0);
    stats
}

fn start(bootstrap: &Bootstrap) -> Result<XdsClient, XdsClientError> {
    XdsClient::start(bootstrap, canary::options())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_configuration_is_received_and_requests_are_routed() {
    let pki = Pki::new("tls");
    let backends = CanaryBackends::start().await;
    let cp = control_plane(&pki, None, &backends).await;
    assert!(cp.is_tls() && cp.uri().starts_with("https://"));
    // By DNS name: checked against the `localhost` SAN.
    let uri = format!("localhost:{}", cp.addr().port());
    let client = start(&tls_bootstrap(&uri, pki.creds(false))).expect("client starts");
    assert_serving(&client).await;
    assert!(cp.stream_count() >= 1);
    assert!(cp.requests().iter().all(|r| !r.is_nack()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_accepts_our_certificate_and_refuses_a_client_without_one() {
    let pki = Pki::new("mtls");
    let backends = CanaryBackends::start().await;
    let cp = control_plane(&pki, Some(&pki.ca.pem), &backends).await;
    // By IP address: checked against the `127.0.0.1` IP SAN.
    let uri = cp.addr().to_string();

    let anonymous = start(&tls_bootstrap(&uri, pki.creds(false))).expect("client starts");
    assert_failing(&anonymous).await;
    assert_eq!(cp.request_count(), 0, "no request may get through");
    drop(anonymous);

    let client = start(&tls_bootstrap(&uri, pki.creds(true))).expect("client starts");
    assert_serving(&client).await;
    assert!(cp.request_count() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_is_refused() {
    let pki = Pki::new("wrong-ca");
    let backends = CanaryBackends::start().await;
    let cp = control_plane(&pki, None, &backends).await;
    let stranger = Ca::new("some other CA");
    let stranger_file = pki.dir.write("stranger.pem", &stranger.pem);
    let uri = format!("localhost:{}", cp.addr().port());
    let config = serde_json::json!({ "ca_certificate_file": stranger_file });
    let client = start(&tls_bootstrap(&uri, config)).expect("client starts");
    let stats = assert_failing(&client).await;
    // The handshake fails while connecting: no stream ever opens.
    assert_eq!(stats.streams_started, 0, "{stats:?}");
    assert_eq!(cp.stream_count(), 0);
    assert_eq!(cp.request_count(), 0);

    // The same server, verified with the right CA, serves this process.
    let good = start(&tls_bootstrap(&uri, pki.creds(false))).expect("client starts");
    assert_serving(&good).await;
}

/// The reason of a start that must fail with `BadServer`.
fn bad_server(bootstrap: &Bootstrap) -> String {
    match start(bootstrap) {
        Err(XdsClientError::BadServer { reason, .. }) => reason,
        Err(other) => panic!("expected BadServer, got {other}"),
        Ok(_) => panic!("expected BadServer, the client started"),
    }
}

fn assert_names(reason: &str, file: &Path) {
    let name = file.file_name().and_then(|n| n.to_str()).expect("a name");
    assert!(reason.contains(name), "{name} not named in {reason:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_garbage_pem_files_fail_the_start_naming_the_file() {
    let pki = Pki::new("bad-pem");
    let uri = "localhost:1";
    let garbage = pki.dir.write("garbage.pem", "this is not PEM\n");
    let broken = pki.dir.write(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n",
    );
    let missing = pki.dir.0.join("missing.pem");

    for ca in [&missing, &garbage, &broken] {
        let reason = bad_server(&tls_bootstrap(
            uri,
            serde_json::json!({ "ca_certificate_file": ca }),
        ));
        assert_names(&reason, ca);
    }

    // A bad client certificate or key.
    let mut config = pki.creds(true);
    config["certificate_file"] = serde_json::json!(missing);
    assert_names(&bad_server(&tls_bootstrap(uri, config)), &missing);
    let mut config = pki.creds(true);
    config["private_key_file"] = serde_json::json!(garbage);
    assert_names(&bad_server(&tls_bootstrap(uri, config)), &garbage);

    // A key that is not the certificate's: both files are named.
    let (_, other_key) = pki.ca.leaf(&["other"], ExtendedKeyUsagePurpose::ClientAuth);
    let other_key = pki.dir.write("other-key.pem", &other_key);
    let mut config = pki.creds(true);
    config["private_key_file"] = serde_json::json!(other_key);
    let reason = bad_server(&tls_bootstrap(uri, config));
    assert_names(&reason, &other_key);
    assert_names(&reason, &pki.client_cert_file);

    // No CA file: required here (the platform roots are not used).
    let reason = bad_server(&tls_bootstrap(uri, serde_json::json!({})));
    assert!(reason.contains("ca_certificate_file"), "{reason}");
}
