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

use serde_json::{Map, Value};

use parse::{invalid, json_error, kind_of, parse_bootstrap, parse_file_watcher};
use target::{Target, parse_target};

mod node;
mod parse;
mod target;
#[cfg(test)]
mod tests;

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
    /// gRFC A65). `ca_certificate_file` is required by the client (no
    /// platform roots are read).
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
