//! JSON → [`Bootstrap`](super::Bootstrap): a validating walk that names the
//! field path of every error.

use super::*;

type Object = Map<String, Value>;

pub(super) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> BootstrapError {
    BootstrapError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

pub(super) fn json_error(e: serde_json::Error) -> BootstrapError {
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

pub(super) fn kind_of(v: &Value) -> &'static str {
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

pub(super) fn parse_bootstrap(root: &Object) -> Result<Bootstrap, BootstrapError> {
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
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
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

pub(super) fn parse_file_watcher(config: &Value, path: &str) -> Result<PemFiles, BootstrapError> {
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
