//! Reading a multi-document YAML stream into typed Istio resources.
//!
//! Each document is read twice. The first pass reads only `apiVersion`,
//! `kind` and `metadata`, which decides whether the document is one of
//! ours and which type its `spec` has; the second pass deserializes the
//! whole document into that type straight from the YAML text, so a type
//! error carries serde_yaml's path (`spec.http[0].timeout`) rather than
//! being lost in an intermediate `Value`.
//!
//! Kinds other than `VirtualService`, `DestinationRule` and
//! `ServiceEntry` of `networking.istio.io` (v1alpha3, v1beta1, v1) are
//! skipped, so a file may mix in `security.istio.io` policies, Gateways or
//! Kubernetes objects. A document without `kind`, one that does not
//! parse, or one of our kinds with an unknown networking version is an
//! error; so is the same kind/namespace/name twice. Empty documents
//! (a trailing `---`) are skipped.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::spec::{DestinationRuleSpec, ServiceEntrySpec, VirtualServiceSpec};
use crate::config::ConfigError;

/// The API group of the resources this loader reads.
const GROUP: &str = "networking.istio.io";
/// The versions of that group, all with the same schema for our fields.
const VERSIONS: [&str; 3] = ["v1alpha3", "v1beta1", "v1"];
/// Namespace of a resource whose metadata names none (kubectl's default).
const DEFAULT_NAMESPACE: &str = "default";

/// Which resource a document holds: what error messages call it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ResourceId {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// One supported resource, its identity and its spec.
#[derive(Debug)]
pub(crate) struct Doc<S> {
    pub id: ResourceId,
    pub spec: S,
}

/// The supported resources of a YAML stream, typed but not yet
/// validated; convert with `MeshConfigBuilder::try_from`.
#[derive(Debug, Default)]
pub struct Resources {
    pub(crate) virtual_services: Vec<Doc<VirtualServiceSpec>>,
    pub(crate) destination_rules: Vec<Doc<DestinationRuleSpec>>,
    pub(crate) service_entries: Vec<Doc<ServiceEntrySpec>>,
    skipped: usize,
}

impl Resources {
    /// Reads every document of `yaml`.
    pub fn parse(yaml: &str) -> Result<Self, ConfigError> {
        let headers = read_headers(yaml)?;
        let mut out = Self::default();
        let mut seen: HashMap<ResourceId, usize> = HashMap::new();
        let documents = serde_yaml::Deserializer::from_str(yaml);
        for (index, (document, header)) in documents.zip(headers).enumerate() {
            let Some((id, kind)) = header else {
                out.skipped += 1;
                continue;
            };
            if let Some(first) = seen.insert(id.clone(), index + 1) {
                return Err(ConfigError::new(
                    id.to_string(),
                    "metadata.name",
                    format!(
                        "duplicate resource: documents {first} and {} are both {id}",
                        index + 1
                    ),
                ));
            }
            match kind {
                Kind::VirtualService => out.virtual_services.push(typed(document, id)?),
                Kind::DestinationRule => out.destination_rules.push(typed(document, id)?),
                Kind::ServiceEntry => out.service_entries.push(typed(document, id)?),
            }
        }
        Ok(out)
    }

    /// How many documents were skipped (empty, or of other kinds).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// How many supported resources were read.
    pub fn len(&self) -> usize {
        self.virtual_services.len() + self.destination_rules.len() + self.service_entries.len()
    }

    /// Whether no supported resource was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    VirtualService,
    DestinationRule,
    ServiceEntry,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Metadata {
    name: Option<String>,
    namespace: Option<String>,
}

#[derive(Deserialize)]
struct Typed<S> {
    #[serde(default)]
    spec: S,
}

/// First pass: for each document, `None` when it is skipped, else its
/// identity and kind. Stops at the first unreadable document (the YAML
/// iterator would repeat a stream-level failure forever).
fn read_headers(yaml: &str) -> Result<Vec<Option<(ResourceId, Kind)>>, ConfigError> {
    let mut headers = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let header = Option::<Header>::deserialize(document).map_err(|e| {
            // The parser reads ahead: a syntax error may surface while the
            // previous document is read. Its line tells the true document.
            let number = e
                .location()
                .map_or(index + 1, |l| document_at(yaml, l.line()));
            yaml_error(&e).in_resource(format!("document {number}"))
        })?;
        let Some(header) = header else {
            headers.push(None);
            continue;
        };
        let resource = format!("document {}", index + 1);
        headers.push(classify(header).map_err(|e| e.in_resource(resource))?);
    }
    Ok(headers)
}

/// The number of the document holding 1-based `line`: the `---` markers
/// before it, plus one if content precedes the first marker.
fn document_at(yaml: &str, line: usize) -> usize {
    let mut markers = 0;
    let mut implicit_first = false;
    for text in yaml.lines().take(line.saturating_sub(1)) {
        let is_marker = text
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
        if is_marker {
            markers += 1;
        } else if markers == 0 && !text.trim().is_empty() && !text.trim_start().starts_with('#') {
            implicit_first = true;
        }
    }
    (markers + usize::from(implicit_first)).max(1)
}

/// Decides whether a document is ours; checks kind, version and name.
fn classify(header: Header) -> Result<Option<(ResourceId, Kind)>, ConfigError> {
    let kind_name = header
        .kind
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ConfigError::field("kind", "every document needs a kind"))?;
    let api_version = header
        .api_version
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ConfigError::field("apiVersion", "every document needs an apiVersion"))?;
    let (kind, kind_name) = match kind_name.as_str() {
        "VirtualService" => (Kind::VirtualService, "VirtualService"),
        "DestinationRule" => (Kind::DestinationRule, "DestinationRule"),
        "ServiceEntry" => (Kind::ServiceEntry, "ServiceEntry"),
        _ => return Ok(None),
    };
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    if group != GROUP {
        // Same kind name in another API group: not ours.
        return Ok(None);
    }
    let metadata = header.metadata.unwrap_or_default();
    let namespace = metadata
        .namespace
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let name = metadata.name.unwrap_or_default();
    let id = ResourceId {
        kind: kind_name,
        namespace,
        name,
    };
    if !VERSIONS.contains(&version) {
        return Err(ConfigError::new(
            id.to_string(),
            "apiVersion",
            format!(
                "unsupported version {api_version:?}; expected {GROUP}/ v1alpha3, v1beta1 or v1"
            ),
        ));
    }
    if id.name.is_empty() {
        return Err(ConfigError::new(
            id.to_string(),
            "metadata.name",
            "must not be empty",
        ));
    }
    Ok(Some((id, kind)))
}

/// Second pass for one document of a known kind.
fn typed<S: DeserializeOwned + Default>(
    document: serde_yaml::Deserializer<'_>,
    id: ResourceId,
) -> Result<Doc<S>, ConfigError> {
    let typed = Typed::<S>::deserialize(document).map_err(|e| yaml_error(&e).in_resource(&id))?;
    Ok(Doc {
        id,
        spec: typed.spec,
    })
}

/// A serde_yaml error as a `ConfigError`, its field path recovered from
/// the message (`spec.http[0].timeout: invalid type: ...`).
fn yaml_error(error: &serde_yaml::Error) -> ConfigError {
    let text = error.to_string();
    let located = error.location().is_some();
    if let Some((path, reason)) = text.split_once(": ")
        && located
        && !path.is_empty()
        && !path.contains(char::is_whitespace)
    {
        return ConfigError::field(path, reason);
    }
    ConfigError::field("", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_other_kinds_and_empty_documents() {
        let yaml = "
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default}
---
---
apiVersion: gateway.networking.k8s.io/v1
kind: VirtualService
metadata: {name: other-group}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: vs}
spec: {hosts: [a]}
";
        let r = Resources::parse(yaml).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r.skipped(), 4);
        assert_eq!(
            r.virtual_services[0].id.to_string(),
            "VirtualService default/vs"
        );
        assert!(Resources::parse("").unwrap().is_empty());
        assert!(Resources::parse("# only a comment\n").unwrap().is_empty());
    }

    #[test]
    fn rejects_documents_without_kind_or_unparsable() {
        let e = Resources::parse("apiVersion: v1\nmetadata: {name: x}\n").unwrap_err();
        assert_eq!(
            (e.resource.as_str(), e.field.as_str()),
            ("document 1", "kind")
        );
        let e = Resources::parse("kind: Pod\napiVersion: v1\n---\nkind: [\n").unwrap_err();
        assert_eq!(e.resource, "document 2");
        let e = Resources::parse(
            "kind: A\napiVersion: v1\n---\n# c\n---\nkind: B\napiVersion: v1\n  c: 3\n",
        )
        .unwrap_err();
        assert_eq!(e.resource, "document 3", "{e}");
        let e = Resources::parse("- 1\n- 2\n").unwrap_err();
        assert_eq!(e.resource, "document 1");
        let e = Resources::parse(
            "apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: x, namespace: n}\n",
        )
        .unwrap_err();
        assert_eq!(
            (e.resource.as_str(), e.field.as_str()),
            ("VirtualService n/x", "apiVersion")
        );
    }

    #[test]
    fn type_errors_carry_the_field_path() {
        let yaml = "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: ns}
spec:
  hosts: [a]
  http:
  - route: []
    timeout: [1]
";
        let e = Resources::parse(yaml).unwrap_err();
        assert_eq!(e.resource, "VirtualService ns/vs");
        assert_eq!(e.field, "spec.http[0].timeout");
        assert!(e.reason.contains("invalid type"), "{e}");
    }
}
