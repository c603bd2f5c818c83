//! gRPC's xDS bootstrap: which control plane to talk to, and who we are.
//!
//! The format is gRPC's JSON bootstrap (gRFC A27, with `server_features`
//! from A30/A53, `certificate_providers` from A29, `tls` channel creds from
//! A65, several servers per list from A71, and federation's `authorities`
//! and listener-name templates from A47), read from the file named by
//! `GRPC_XDS_BOOTSTRAP` or from the JSON in `GRPC_XDS_BOOTSTRAP_CONFIG`
//! (the file wins when both are set). We use gRPC's format rather than
//! Envoy's bootstrap because the mesh is proxyless: the bootstrap that
//! istio-agent writes for proxyless gRPC (`GENERATOR: grpc` in the node
//! metadata, a `unix:///etc/istio/proxy/XDS` server, a `file_watcher`
//! certificate provider) then works unchanged, and so does any bootstrap
//! written for gRPC by Traffic Director's generator or by hand.
//!
//! Parsing is a validating conversion: the result is either a complete
//! [`Bootstrap`] or a [`BootstrapError`] naming the JSON field path (e.g.
//! `xds_servers[0].channel_creds`). Unknown fields are ignored everywhere,
//! as gRPC does (istio-agent, for one, writes `"UserAgentVersionType":
//! null` into `node`).
//!
//! # Deviations from gRPC
//!
//! - **`server_uri` forms.** gRPC accepts any target its resolvers know. We
//!   accept `host:port` (the usual form; a missing port means 443, gRPC's
//!   DNS default), `[v6]:port`, `dns:[///]host:port`,
//!   `passthrough:///host:port`, a single-address `ipv4:`/`ipv6:`,
//!   `unix:path` / `unix:///abs/path`, and, as our extension,
//!   `http://host:port` / `https://host:port`. Anything else (another
//!   scheme, a `dns://server/...` authority, an address list) is rejected at
//!   load time instead of failing on connect. [`XdsServer::endpoint_uri`]
//!   turns the target into the URI the transport dials.
//! - **Delta xDS.** No standard server feature exists for incremental xDS;
//!   ours is [`FEATURE_DELTA`] (`"xds_delta"`): a server listing it is
//!   spoken to with the delta protocol. gRPC ignores the string, so a
//!   bootstrap that uses it still works with gRPC.
//! - **Channel creds.** `insecure` and `tls` (gRFC A65) are supported;
//!   `google_default` and unknown types are skipped, as gRPC skips types it
//!   does not support. An empty path string in a `tls` or `file_watcher`
//!   config means "unset".
//! - **`null`** counts as absent for every field (Go's `encoding/json`
//!   behaviour, which istio-agent relies on).
//! - **`node`** also accepts the proto3 JSON spelling `subZone`, since gRPC
//!   Go reads the node with protojson.
//! - **An authority's empty `xds_servers`** means "use the top-level
//!   servers", like a missing one.
//! - **Certificate providers** of plugins other than `file_watcher` are kept
//!   as given (their `config` unvalidated); a `file_watcher` config is
//!   validated at load (gRFC A29: key and certificate come together; at
//!   least them or a CA; `refresh_interval` positive, default 600 s).
//! - **Templates** are checked only where gRPC checks them at load (an
//!   authority's `client_listener_resource_name_template` must start with
//!   `xdstp://<authority>/`); a template naming an unknown authority fails
//!   when it is used, as in gRPC.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3 as core_pb;
use envoy_types::pb::google::protobuf::{ListValue, Struct, Value as PbValue, value::Kind};
use serde_json::{Map, Value};

/// The environment variable naming the bootstrap file.
pub const ENV_BOOTSTRAP: &str = "GRPC_XDS_BOOTSTRAP";
/// The environment variable holding the bootstrap JSON itself.
pub const ENV_BOOTSTRAP_CONFIG: &str = "GRPC_XDS_BOOTSTRAP_CONFIG";

/// Server feature: the server speaks xDS transport v3 (gRFC A30). Every
/// server we talk to does; the flag is informational.
pub const FEATURE_XDS_V3: &str = "xds_v3";
/// Server feature: keep a resource the server stops sending instead of
/// dropping it (gRFC A53).
pub const FEATURE_IGNORE_RESOURCE_DELETION: &str = "ignore_resource_deletion";
/// Server feature (our extension, not in any gRFC): the server supports
/// incremental (delta) xDS, and the client uses it.
pub const FEATURE_DELTA: &str = "xds_delta";

/// The `client_features` gRPC puts in its node, which we support too: no
/// overprovisioning factor in EDS, and `Resource` wrappers in SotW
/// responses.
pub const CLIENT_FEATURES: [&str; 2] = [
    "envoy.lb.does_not_support_overprovisioning",
    "xds.config.resource-in-sotw",
];

/// The default `refresh_interval` of `tls` creds and `file_watcher`.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(600);

/// Why a bootstrap could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// Neither `GRPC_XDS_BOOTSTRAP` nor `GRPC_XDS_BOOTSTRAP_CONFIG` is set
    /// (or both are empty).
    #[error(
        "xDS bootstrap not configured: set {ENV_BOOTSTRAP} (a file path) or {ENV_BOOTSTRAP_CONFIG} (the JSON)"
    )]
    NotConfigured,
    /// The bootstrap file could not be read.
    #[error("cannot read xDS bootstrap file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The text is not JSON.
    #[error("xDS bootstrap is not valid JSON (line {line}, column {column}): {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The JSON does not form a valid bootstrap.
    #[error("invalid xDS bootstrap: {field}: {reason}")]
    Invalid {
        /// The JSON path of the offending field, e.g.
        /// `xds_servers[0].server_uri` (`(root)` for the document).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A parsed, validated xDS bootstrap.
#[derive(Debug, Clone, PartialEq)]
pub struct Bootstrap {
    /// The servers to use, in order of preference (gRFC A71: the first is
    /// primary, the others fallbacks). Never empty.
    pub xds_servers: Vec<XdsServer>,
    /// Who we are to the control plane.
    pub node: Node,
    /// Certificate provider instances by instance name (gRFC A29).
    pub certificate_providers: BTreeMap<String, CertificateProvider>,
    /// xDS federation authorities by name (gRFC A47).
    pub authorities: BTreeMap<String, Authority>,
    /// The Listener name template for targets without an authority;
    /// `None` means `"%s"`.
    pub client_default_listener_resource_name_template: Option<String>,
    /// The Listener name template for servers; `%s` becomes the listening
    /// `ip:port`.
    pub server_listener_resource_name_template: Option<String>,
}

/// One management server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XdsServer {
    /// The target as written in the bootstrap (e.g.
    /// `istiod.istio-system.svc:15012` or `unix:///etc/istio/proxy/XDS`).
    pub server_uri: String,
    /// The first supported entry of `channel_creds`.
    pub channel_creds: ChannelCreds,
    /// The `server_features` strings (non-string entries are ignored).
    pub server_features: Vec<String>,
}

/// How to secure the channel to a management server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelCreds {
    /// Plaintext (`"insecure"`).
    Insecure,
    /// TLS, mutual when the config has a certificate and key (`"tls"`,
    /// gRFC A65). Without `ca_certificate_file` the system roots are used.
    Tls(PemFiles),
}

/// PEM files, as the `tls` channel creds config and the `file_watcher`
/// certificate provider config name them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PemFiles {
    /// The identity certificate chain; set exactly when `private_key_file` is.
    pub certificate_file: Option<PathBuf>,
    /// The identity private key; set exactly when `certificate_file` is.
    pub private_key_file: Option<PathBuf>,
    /// The roots to verify the peer with.
    pub ca_certificate_file: Option<PathBuf>,
    /// How often to re-read the files (default 600 s).
    pub refresh_interval: Duration,
}

/// The node identity sent to the control plane. All fields are optional
/// in the JSON; absent strings are empty, as in the proto.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// Opaque id; Istio's is `sidecar~<ip>~<pod>.<ns>~<ns>.svc.<domain>`.
    pub id: String,
    /// The local service cluster.
    pub cluster: String,
    /// Where this instance runs.
    pub locality: Locality,
    /// Opaque metadata (Istio reads `GENERATOR`, `NAMESPACE`, ...).
    pub metadata: Map<String, Value>,
}

/// Region, zone and sub-zone; empty when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Locality {
    /// The region.
    pub region: String,
    /// The zone within the region.
    pub zone: String,
    /// The sub-zone within the zone.
    pub sub_zone: String,
}

/// A certificate provider instance.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateProvider {
    /// The plugin, e.g. `file_watcher`.
    pub plugin_name: String,
    /// The plugin's config as written (`null` when absent).
    pub config: Value,
}

/// An xDS federation authority (gRFC A47).
#[derive(Debug, Clone, PartialEq)]
pub struct Authority {
    /// The Listener name template for targets of this authority; starts
    /// with `xdstp://<authority>/`. `None` means
    /// `xdstp://<authority>/envoy.config.listener.v3.Listener/%s`.
    pub client_listener_resource_name_template: Option<String>,
    /// The servers of this authority; empty means the top-level ones.
    pub xds_servers: Vec<XdsServer>,
}

impl Bootstrap {
    /// Parses and validates bootstrap JSON.
    pub fn from_json(text: &str) -> Result<Self, BootstrapError> {
        let doc: Value = serde_json::from_str(text).map_err(json_error)?;
        let Value::Object(root) = doc else {
            return Err(invalid(
                "(root)",
                format!("expected a JSON object, found {}", kind_of(&doc)),
            ));
        };
        parse_bootstrap(&root)
    }

    /// Reads and parses a bootstrap file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, BootstrapError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| BootstrapError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Loads the bootstrap the process environment names: the file in
    /// `GRPC_XDS_BOOTSTRAP`, else the JSON in `GRPC_XDS_BOOTSTRAP_CONFIG`.
    pub fn from_env() -> Result<Self, BootstrapError> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read through `var`
    /// (tests, or hosts with their own configuration). Empty values count
    /// as unset, as in gRPC.
    pub fn from_env_with(
        mut var: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, BootstrapError> {
        if let Some(path) = var(ENV_BOOTSTRAP).filter(|v| !v.is_empty()) {
            return Self::from_file(path);
        }
        if let Some(json) = var(ENV_BOOTSTRAP_CONFIG).filter(|v| !v.is_empty()) {
            return Self::from_json(&json);
        }
        Err(BootstrapError::NotConfigured)
    }

    /// The servers for resources of `authority` (`None` for old-style
    /// names): the authority's own, or the top-level ones when it lists
    /// none. `None` when the authority is not in the bootstrap.
    pub fn servers_for(&self, authority: Option<&str>) -> Option<&[XdsServer]> {
        match authority {
            None => Some(&self.xds_servers),
            Some(name) => {
                let a = self.authorities.get(name)?;
                Some(if a.xds_servers.is_empty() {
                    &self.xds_servers
                } else {
                    &a.xds_servers
                })
            }
        }
    }

    /// The Listener resource a client subscribes to for `target` (a
    /// `host:port`), gRFC A47: with no authority, the client default
    /// template (or the target itself); with one, that authority's template.
    /// `None` when `authority` is not in the bootstrap.
    pub fn client_listener_resource_name(
        &self,
        authority: Option<&str>,
        target: &str,
    ) -> Option<String> {
        match authority {
            None => Some(match &self.client_default_listener_resource_name_template {
                Some(t) => populate_template(t, target),
                None => target.to_owned(),
            }),
            Some(name) => {
                let a = self.authorities.get(name)?;
                Some(match &a.client_listener_resource_name_template {
                    Some(t) => populate_template(t, target),
                    None => populate_template(
                        &format!("xdstp://{name}/envoy.config.listener.v3.Listener/%s"),
                        target,
                    ),
                })
            }
        }
    }

    /// The Listener resource a server listening on `addr` (`ip:port`,
    /// `[v6]:port`) subscribes to; `None` without a server template.
    pub fn server_listener_resource_name(&self, addr: &str) -> Option<String> {
        self.server_listener_resource_name_template
            .as_deref()
            .map(|t| populate_template(t, addr))
    }
}

/// Replaces every `%s` in `template` with `target`, percent-encoding it
/// (all but RFC 3986 path characters, `/` included) when the template is
/// an `xdstp:` name, as gRPC does.
pub fn populate_template(template: &str, target: &str) -> String {
    if template.starts_with("xdstp:") {
        template.replace("%s", &percent_encode_path(target))
    } else {
        template.replace("%s", target)
    }
}

fn percent_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

impl XdsServer {
    /// Whether `server_features` lists `feature`.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.server_features.iter().any(|f| f == feature)
    }

    /// `ignore_resource_deletion` (gRFC A53).
    pub fn ignore_resource_deletion(&self) -> bool {
        self.has_feature(FEATURE_IGNORE_RESOURCE_DELETION)
    }

    /// Our `xds_delta` extension: use incremental xDS with this server.
    pub fn delta(&self) -> bool {
        self.has_feature(FEATURE_DELTA)
    }

    /// `xds_v3` (gRFC A30); informational, v3 is the only version spoken.
    pub fn xds_v3(&self) -> bool {
        self.has_feature(FEATURE_XDS_V3)
    }

    /// The URI to dial: `unix:` targets and `http(s)://` URLs as written,
    /// every `host:port` form (`dns:`, `passthrough:`, `ipv4:`, `ipv6:`
    /// included) as `http://host:port`, or `https://host:port` with `tls`
    /// creds. A missing port becomes 443.
    pub fn endpoint_uri(&self) -> String {
        match parse_target(&self.server_uri) {
            Ok(Target::HostPort { host, port }) => {
                let scheme = match self.channel_creds {
                    ChannelCreds::Tls(_) => "https",
                    ChannelCreds::Insecure => "http",
                };
                format!("{scheme}://{host}:{port}")
            }
            // Bootstraps from this module never fail here; a hand-built
            // server with a bad target is passed on as written.
            Ok(Target::AsIs) | Err(_) => self.server_uri.clone(),
        }
    }
}

impl PemFiles {
    /// The certificate chain and key, when both are set (mutual TLS).
    pub fn identity(&self) -> Option<(&Path, &Path)> {
        Some((
            self.certificate_file.as_deref()?,
            self.private_key_file.as_deref()?,
        ))
    }
}

impl CertificateProvider {
    /// The plugin name of the PEM file watcher (gRFC A29).
    pub const FILE_WATCHER: &'static str = "file_watcher";

    /// The files of a `file_watcher` provider; `None` for other plugins
    /// (or a hand-built provider whose config is not valid).
    pub fn file_watcher(&self) -> Option<PemFiles> {
        if self.plugin_name != Self::FILE_WATCHER {
            return None;
        }
        parse_file_watcher(&self.config, "").ok()
    }
}

impl Node {
    /// The node proto for discovery requests: id, cluster, locality and
    /// metadata from the bootstrap, plus the user agent and gRPC's
    /// [`CLIENT_FEATURES`]. An all-empty locality and empty metadata are
    /// left unset.
    pub fn to_proto(&self, user_agent_name: &str, user_agent_version: &str) -> core_pb::Node {
        let l = &self.locality;
        let has_locality = !(l.region.is_empty() && l.zone.is_empty() && l.sub_zone.is_empty());
        core_pb::Node {
            id: self.id.clone(),
            cluster: self.cluster.clone(),
            metadata: (!self.metadata.is_empty()).then(|| to_struct(&self.metadata)),
            locality: has_locality.then(|| core_pb::Locality {
                region: l.region.clone(),
                zone: l.zone.clone(),
                sub_zone: l.sub_zone.clone(),
            }),
            user_agent_name: user_agent_name.to_owned(),
            user_agent_version_type: Some(core_pb::node::UserAgentVersionType::UserAgentVersion(
                user_agent_version.to_owned(),
            )),
            client_features: CLIENT_FEATURES.iter().map(|f| (*f).to_owned()).collect(),
            ..Default::default()
        }
    }
}

/// A JSON object as `google.protobuf.Struct`.
fn to_struct(object: &Map<String, Value>) -> Struct {
    Struct {
        fields: object
            .iter()
            .map(|(k, v)| (k.clone(), to_pb_value(v)))
            .collect(),
    }
}

fn to_pb_value(v: &Value) -> PbValue {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(to_pb_value).collect(),
        }),
        Value::Object(o) => Kind::StructValue(to_struct(o)),
    };
    PbValue { kind: Some(kind) }
}

// ---------------------------------------------------------------------------
// Parsing.

type Object = Map<String, Value>;

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> BootstrapError {
    BootstrapError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

fn json_error(e: serde_json::Error) -> BootstrapError {
    let (line, column) = (e.line(), e.column());
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    BootstrapError::Json {
        line,
        column,
        message,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn field_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// A field's value; `null` counts as absent.
fn get<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn opt_str<'a>(
    obj: &'a Object,
    key: &str,
    parent: &str,
) -> Result<Option<&'a str>, BootstrapError> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(
            field_path(parent, key),
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

fn opt_object<'a>(
    obj: &'a Object,
    key: &str,
    parent: &str,
) -> Result<Option<&'a Object>, BootstrapError> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(invalid(
            field_path(parent, key),
            format!("expected an object, found {}", kind_of(other)),
        )),
    }
}

fn opt_array<'a>(
    obj: &'a Object,
    key: &str,
    parent: &str,
) -> Result<Option<&'a [Value]>, BootstrapError> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(invalid(
            field_path(parent, key),
            format!("expected an array, found {}", kind_of(other)),
        )),
    }
}

fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a Object, BootstrapError> {
    match v {
        Value::Object(o) => Ok(o),
        other => Err(invalid(
            path,
            format!("expected an object, found {}", kind_of(other)),
        )),
    }
}

fn parse_bootstrap(root: &Object) -> Result<Bootstrap, BootstrapError> {
    let xds_servers = match opt_array(root, "xds_servers", "")? {
        Some(list) if !list.is_empty() => parse_servers(list, "xds_servers")?,
        _ => {
            return Err(invalid(
                "xds_servers",
                "at least one xDS server is required",
            ));
        }
    };

    let node = match opt_object(root, "node", "")? {
        Some(n) => parse_node(n)?,
        None => Node::default(),
    };

    let mut certificate_providers = BTreeMap::new();
    if let Some(providers) = opt_object(root, "certificate_providers", "")? {
        for (name, v) in providers {
            let path = format!("certificate_providers.{name}");
            certificate_providers.insert(name.clone(), parse_cert_provider(v, &path)?);
        }
    }

    let mut authorities = BTreeMap::new();
    if let Some(map) = opt_object(root, "authorities", "")? {
        for (name, v) in map {
            let path = format!("authorities.{name}");
            authorities.insert(name.clone(), parse_authority(name, v, &path)?);
        }
    }

    let client_default_listener_resource_name_template =
        opt_str(root, "client_default_listener_resource_name_template", "")?.map(str::to_owned);
    let server_listener_resource_name_template =
        opt_str(root, "server_listener_resource_name_template", "")?.map(str::to_owned);

    Ok(Bootstrap {
        xds_servers,
        node,
        certificate_providers,
        authorities,
        client_default_listener_resource_name_template,
        server_listener_resource_name_template,
    })
}

fn parse_servers(list: &[Value], path: &str) -> Result<Vec<XdsServer>, BootstrapError> {
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let path = format!("{path}[{i}]");
            parse_server(as_object(v, &path)?, &path)
        })
        .collect()
}

fn parse_server(obj: &Object, path: &str) -> Result<XdsServer, BootstrapError> {
    let uri_path = field_path(path, "server_uri");
    let server_uri = match opt_str(obj, "server_uri", path)? {
        Some(s) if !s.trim().is_empty() => s.to_owned(),
        _ => return Err(invalid(uri_path, "a non-empty server URI is required")),
    };
    if let Err(reason) = parse_target(&server_uri) {
        return Err(invalid(uri_path, reason));
    }

    let creds_path = field_path(path, "channel_creds");
    let creds_list = match opt_array(obj, "channel_creds", path)? {
        Some(list) if !list.is_empty() => list,
        _ => {
            return Err(invalid(
                creds_path,
                "at least one channel creds entry is required",
            ));
        }
    };
    let mut channel_creds = None;
    let mut skipped = Vec::new();
    for (i, entry) in creds_list.iter().enumerate() {
        let entry_path = format!("{creds_path}[{i}]");
        let entry = as_object(entry, &entry_path)?;
        let Some(kind) = opt_str(entry, "type", &entry_path)? else {
            return Err(invalid(field_path(&entry_path, "type"), "is required"));
        };
        if channel_creds.is_some() {
            // gRPC stops at the first supported type; later entries are
            // only checked for shape.
            continue;
        }
        match kind {
            "insecure" => channel_creds = Some(ChannelCreds::Insecure),
            "tls" => {
                let config_path = field_path(&entry_path, "config");
                let files = match get(entry, "config") {
                    None => PemFiles::none(),
                    Some(v) => parse_pem_files(as_object(v, &config_path)?, &config_path)?,
                };
                channel_creds = Some(ChannelCreds::Tls(files));
            }
            other => skipped.push(format!("{other:?}")),
        }
    }
    let Some(channel_creds) = channel_creds else {
        return Err(invalid(
            creds_path,
            format!(
                "no supported channel creds type (supported: \"insecure\", \"tls\"; found: {})",
                skipped.join(", ")
            ),
        ));
    };

    let server_features = opt_array(obj, "server_features", path)?
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect();

    Ok(XdsServer {
        server_uri,
        channel_creds,
        server_features,
    })
}

impl PemFiles {
    fn none() -> Self {
        Self {
            certificate_file: None,
            private_key_file: None,
            ca_certificate_file: None,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
        }
    }
}

/// The shared shape of `tls` creds and `file_watcher` configs.
fn parse_pem_files(obj: &Object, path: &str) -> Result<PemFiles, BootstrapError> {
    let file = |key: &str| -> Result<Option<PathBuf>, BootstrapError> {
        Ok(opt_str(obj, key, path)?
            .filter(|s| !s.is_empty())
            .map(PathBuf::from))
    };
    let certificate_file = file("certificate_file")?;
    let private_key_file = file("private_key_file")?;
    let ca_certificate_file = file("ca_certificate_file")?;
    match (&certificate_file, &private_key_file) {
        (Some(_), None) => {
            return Err(invalid(
                field_path(path, "private_key_file"),
                "is required when certificate_file is set",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                field_path(path, "certificate_file"),
                "is required when private_key_file is set",
            ));
        }
        _ => {}
    }
    let refresh_interval = match opt_str(obj, "refresh_interval", path)? {
        None => DEFAULT_REFRESH_INTERVAL,
        Some(s) => {
            let field = field_path(path, "refresh_interval");
            let d = parse_duration(s).map_err(|reason| invalid(&field, reason))?;
            if d.is_zero() {
                return Err(invalid(field, "must be positive"));
            }
            d
        }
    };
    Ok(PemFiles {
        certificate_file,
        private_key_file,
        ca_certificate_file,
        refresh_interval,
    })
}

/// A proto3 JSON `google.protobuf.Duration` (`"900s"`, `"1.5s"`), not
/// negative.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration like \"600s\" or \"1.5s\"");
    let number = s.strip_suffix('s').ok_or_else(bad)?;
    if number.starts_with('-') {
        return Err(format!("{s:?} is negative"));
    }
    let (secs, frac) = number.split_once('.').unwrap_or((number, ""));
    if secs.is_empty()
        || !secs.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
        || (number.contains('.') && frac.is_empty())
    {
        return Err(bad());
    }
    // Proto's Duration range: up to 315,576,000,000 s.
    let secs: u64 = secs
        .parse()
        .ok()
        .filter(|s| *s <= 315_576_000_000)
        .ok_or_else(|| format!("{s:?} is out of range"))?;
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    Ok(Duration::new(secs, nanos))
}

fn parse_node(obj: &Object) -> Result<Node, BootstrapError> {
    let string = |key: &str| -> Result<String, BootstrapError> {
        Ok(opt_str(obj, key, "node")?.unwrap_or_default().to_owned())
    };
    let locality = match opt_object(obj, "locality", "node")? {
        None => Locality::default(),
        Some(l) => {
            let s = |key: &str| -> Result<String, BootstrapError> {
                Ok(opt_str(l, key, "node.locality")?
                    .unwrap_or_default()
                    .to_owned())
            };
            let sub_zone = if get(l, "sub_zone").is_some() {
                s("sub_zone")?
            } else {
                s("subZone")?
            };
            Locality {
                region: s("region")?,
                zone: s("zone")?,
                sub_zone,
            }
        }
    };
    Ok(Node {
        id: string("id")?,
        cluster: string("cluster")?,
        locality,
        metadata: opt_object(obj, "metadata", "node")?
            .cloned()
            .unwrap_or_default(),
    })
}

fn parse_cert_provider(v: &Value, path: &str) -> Result<CertificateProvider, BootstrapError> {
    let obj = as_object(v, path)?;
    let plugin_name = match opt_str(obj, "plugin_name", path)? {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => return Err(invalid(field_path(path, "plugin_name"), "is required")),
    };
    let config = get(obj, "config").cloned().unwrap_or(Value::Null);
    if plugin_name == CertificateProvider::FILE_WATCHER {
        parse_file_watcher(&config, &field_path(path, "config"))?;
    }
    Ok(CertificateProvider {
        plugin_name,
        config,
    })
}

fn parse_file_watcher(config: &Value, path: &str) -> Result<PemFiles, BootstrapError> {
    if config.is_null() {
        return Err(invalid(path, "file_watcher needs a config"));
    }
    let files = parse_pem_files(as_object(config, path)?, path)?;
    if files.certificate_file.is_none() && files.ca_certificate_file.is_none() {
        return Err(invalid(
            path,
            "needs certificate_file and private_key_file, ca_certificate_file, or both",
        ));
    }
    Ok(files)
}

fn parse_authority(name: &str, v: &Value, path: &str) -> Result<Authority, BootstrapError> {
    let obj = as_object(v, path)?;
    let template = opt_str(obj, "client_listener_resource_name_template", path)?.map(str::to_owned);
    if let Some(t) = &template {
        let prefix = format!("xdstp://{name}/");
        if !t.starts_with(&prefix) {
            return Err(invalid(
                field_path(path, "client_listener_resource_name_template"),
                format!("must start with {prefix:?}"),
            ));
        }
    }
    let xds_servers = match opt_array(obj, "xds_servers", path)? {
        None => Vec::new(),
        Some(list) => parse_servers(list, &field_path(path, "xds_servers"))?,
    };
    Ok(Authority {
        client_listener_resource_name_template: template,
        xds_servers,
    })
}

// ---------------------------------------------------------------------------
// Server targets.

/// What a `server_uri` dials.
#[derive(Debug, PartialEq)]
enum Target {
    /// `unix:` and `http(s)://`: dialed as written.
    AsIs,
    /// A TCP address; `host` keeps an IPv6 literal's brackets.
    HostPort { host: String, port: u16 },
}

fn parse_target(uri: &str) -> Result<Target, String> {
    if let Some(path) = uri.strip_prefix("unix:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err("a unix: target needs a socket path".into());
        }
        return Ok(Target::AsIs);
    }
    if uri.starts_with("http://") || uri.starts_with("https://") {
        let parsed: http::Uri = uri.parse().map_err(|e| format!("not a valid URL: {e}"))?;
        if parsed.host().is_none_or(str::is_empty) {
            return Err("the URL has no host".into());
        }
        if parsed.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err("the URL must not have a path".into());
        }
        return Ok(Target::AsIs);
    }
    let address = if let Some(rest) = uri
        .strip_prefix("dns:")
        .or_else(|| uri.strip_prefix("passthrough:"))
    {
        match rest.strip_prefix("//") {
            None => rest,
            Some(with_authority) => match with_authority.split_once('/') {
                Some(("", address)) => address,
                Some((server, _)) => {
                    return Err(format!(
                        "a target authority ({server:?}, a DNS server) is not supported"
                    ));
                }
                None => return Err("expected scheme:///host:port".into()),
            },
        }
    } else if let Some(rest) = uri
        .strip_prefix("ipv4:")
        .or_else(|| uri.strip_prefix("ipv6:"))
    {
        if rest.contains(',') {
            return Err("address lists are not supported: give one address".into());
        }
        rest
    } else if let Some((scheme, _)) = uri.split_once("://") {
        return Err(format!(
            "unsupported scheme {scheme:?} (use host:port, dns:///host:port, unix:path, http:// or https://)"
        ));
    } else {
        uri
    };
    parse_host_port(address)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the port defaults to 443.
fn parse_host_port(address: &str) -> Result<Target, String> {
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address is missing its closing bracket")?;
        if v6.is_empty() || v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{v6:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected :port after ]")?),
        };
        (&address[..v6.len() + 2], port)
    } else {
        match address.split_once(':') {
            Some((_, p)) if p.contains(':') => {
                return Err("an IPv6 address needs brackets: [addr]:port".into());
            }
            Some((h, p)) => (h, Some(p)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b"/?#@".contains(&b))
    {
        return Err(format!("{host:?} is not a host name"));
    }
    let port = match port {
        None => 443,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{p:?} is not a port number"))?,
    };
    Ok(Target::HostPort {
        host: host.to_owned(),
        port,
    })
}

#[cfg(test)]
#[path = "bootstrap_tests.rs"]
mod tests;
