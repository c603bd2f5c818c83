//! The labels of Istio's standard metrics: who sends (the workload this
//! engine runs in) and who receives (the service and the endpoint's
//! workload).
//!
//! A sidecar learns its own workload from the pod and the peer's from
//! Istio's metadata exchange. In process, the source comes from the
//! caller (or the xDS bootstrap's node metadata, as Istio's proxyless
//! bootstrap writes it), and the destination from configuration:
//!
//! - the service host from the cluster name, which Istio's generator
//!   writes as `outbound|{port}|{subset}|{host}` (otherwise the name as it
//!   is); its name and namespace from a Kubernetes FQDN
//!   (`name.namespace.svc...`);
//! - app, version and canonical service and revision from the endpoint's
//!   labels, with Istio's fallbacks (`app.kubernetes.io/name`,
//!   `app.kubernetes.io/version`, `service.istio.io/canonical-*`).
//!
//! What configuration cannot tell (the destination workload's name and
//! principal before mTLS) is `unknown`, Istio's own value for a label it
//! cannot fill.

use std::fmt::Write;

use crate::config::Labels;

/// Istio's value for a label nobody could fill.
pub const UNKNOWN: &str = "unknown";

/// The workload this engine runs in: the `source_*` labels of every
/// request it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLabels {
    /// `source_workload`: the Deployment (or other workload) name.
    pub workload: String,
    /// `source_workload_namespace`.
    pub namespace: String,
    /// `source_principal`: the SPIFFE identity, when it has one.
    pub principal: String,
    /// `source_app`: its `app` label.
    pub app: String,
    /// `source_version`: its `version` label.
    pub version: String,
    /// `source_canonical_service`.
    pub canonical_service: String,
    /// `source_canonical_revision` (Istio's default: `latest`).
    pub canonical_revision: String,
    /// `source_cluster`: the Kubernetes cluster.
    pub cluster: String,
}

impl Default for SourceLabels {
    fn default() -> Self {
        Self {
            workload: UNKNOWN.into(),
            namespace: UNKNOWN.into(),
            principal: UNKNOWN.into(),
            app: UNKNOWN.into(),
            version: UNKNOWN.into(),
            canonical_service: UNKNOWN.into(),
            canonical_revision: "latest".into(),
            cluster: UNKNOWN.into(),
        }
    }
}

impl SourceLabels {
    /// The source as Istio describes a workload: its name, namespace and
    /// pod labels (app, version and the canonical service labels are read
    /// from them with Istio's fallbacks).
    pub fn from_workload(workload: &str, namespace: &str, labels: &Labels) -> Self {
        let app = app_of(labels);
        let version = version_of(labels);
        Self {
            workload: or_unknown(workload),
            namespace: or_unknown(namespace),
            canonical_service: canonical_service_of(labels).unwrap_or(workload).into(),
            canonical_revision: canonical_revision_of(labels).into(),
            app: or_unknown(app.unwrap_or_default()),
            version: or_unknown(version.unwrap_or_default()),
            ..Self::default()
        }
    }

    /// The source an Istio proxyless bootstrap describes in its node
    /// metadata: `WORKLOAD_NAME`, `NAMESPACE`, `LABELS` (the pod's) and
    /// `CLUSTER_ID`; `None` when it names no workload.
    pub fn from_node_metadata(
        metadata: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<Self> {
        let text = |key: &str| metadata.get(key).and_then(serde_json::Value::as_str);
        let workload = text("WORKLOAD_NAME")?;
        let labels: Labels = metadata
            .get("LABELS")
            .and_then(serde_json::Value::as_object)
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let mut source =
            Self::from_workload(workload, text("NAMESPACE").unwrap_or_default(), &labels);
        source.cluster = or_unknown(text("CLUSTER_ID").unwrap_or_default());
        Some(source)
    }

    /// The `source_*` labels, in exposition order.
    pub(crate) fn pairs(&self) -> [(&'static str, &str); 8] {
        [
            ("source_workload", &self.workload),
            ("source_workload_namespace", &self.namespace),
            ("source_principal", &self.principal),
            ("source_app", &self.app),
            ("source_version", &self.version),
            ("source_canonical_service", &self.canonical_service),
            ("source_canonical_revision", &self.canonical_revision),
            ("source_cluster", &self.cluster),
        ]
    }
}

/// The `destination_*` labels of requests to one endpoint (or, for a
/// request that reached none, to a cluster or to nothing).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DestinationLabels {
    /// `destination_service`: the service host.
    pub service: String,
    /// `destination_service_name`.
    pub service_name: String,
    /// `destination_service_namespace`.
    pub service_namespace: String,
    /// `destination_workload` (not known without metadata exchange).
    pub workload: String,
    /// `destination_workload_namespace`.
    pub workload_namespace: String,
    /// `destination_app`.
    pub app: String,
    /// `destination_version`.
    pub version: String,
    /// `destination_canonical_service`.
    pub canonical_service: String,
    /// `destination_canonical_revision`.
    pub canonical_revision: String,
    /// `destination_cluster`: the endpoint's Kubernetes cluster
    /// (`topology.istio.io/cluster`).
    pub cluster: String,
    /// The mesh cluster requests went to (not an Istio label: the engine's
    /// own metrics key by it).
    pub mesh_cluster: String,
}

impl DestinationLabels {
    /// A request that matched no route: nothing is known.
    pub fn unknown() -> Self {
        Self::of_cluster("", None)
    }

    /// Requests of mesh cluster `cluster` to an endpoint with `labels`
    /// (`None`: the request reached no endpoint).
    pub fn of_cluster(cluster: &str, labels: Option<&Labels>) -> Self {
        let service = service_host(cluster);
        let (service_name, service_namespace) = split_fqdn(service);
        let empty = Labels::new();
        let labels = labels.unwrap_or(&empty);
        let app = app_of(labels);
        let canonical_service = canonical_service_of(labels)
            .or(app)
            .unwrap_or(service_name.unwrap_or(UNKNOWN));
        Self {
            service: or_unknown(service),
            service_name: or_unknown(service_name.unwrap_or_default()),
            service_namespace: or_unknown(service_namespace.unwrap_or_default()),
            workload: UNKNOWN.into(),
            workload_namespace: or_unknown(service_namespace.unwrap_or_default()),
            app: or_unknown(app.unwrap_or_default()),
            version: or_unknown(version_of(labels).unwrap_or_default()),
            canonical_service: or_unknown(canonical_service),
            canonical_revision: canonical_revision_of(labels).into(),
            cluster: or_unknown(
                labels
                    .get("topology.istio.io/cluster")
                    .map_or("", String::as_str),
            ),
            mesh_cluster: cluster.into(),
        }
    }

    /// The `destination_*` labels, in exposition order.
    pub(crate) fn pairs(&self) -> [(&'static str, &str); 11] {
        [
            ("destination_workload", &self.workload),
            ("destination_workload_namespace", &self.workload_namespace),
            ("destination_principal", UNKNOWN),
            ("destination_app", &self.app),
            ("destination_version", &self.version),
            ("destination_service", &self.service),
            ("destination_service_name", &self.service_name),
            ("destination_service_namespace", &self.service_namespace),
            ("destination_canonical_service", &self.canonical_service),
            ("destination_canonical_revision", &self.canonical_revision),
            ("destination_cluster", &self.cluster),
        ]
    }
}

/// The service host of a cluster name in Istio's form
/// `outbound|{port}|{subset}|{host}`, or the name itself.
fn service_host(cluster: &str) -> &str {
    match cluster.split('|').collect::<Vec<_>>()[..] {
        [_direction, _port, _subset, host] => host,
        _ => cluster,
    }
}

/// The service name and namespace of a Kubernetes service FQDN
/// (`name.namespace.svc[.cluster domain]`); a short host is a name alone.
fn split_fqdn(host: &str) -> (Option<&str>, Option<&str>) {
    if host.is_empty() {
        return (None, None);
    }
    let mut parts = host.split('.');
    let name = parts.next();
    match (parts.next(), parts.next()) {
        (Some(namespace), Some("svc")) => (name, Some(namespace)),
        _ => (name, None),
    }
}

fn app_of(labels: &Labels) -> Option<&str> {
    first_label(labels, &["app", "app.kubernetes.io/name"])
}

fn version_of(labels: &Labels) -> Option<&str> {
    first_label(labels, &["version", "app.kubernetes.io/version"])
}

fn canonical_service_of(labels: &Labels) -> Option<&str> {
    first_label(
        labels,
        &[
            "service.istio.io/canonical-name",
            "app.kubernetes.io/name",
            "app",
        ],
    )
}

fn canonical_revision_of(labels: &Labels) -> &str {
    first_label(
        labels,
        &[
            "service.istio.io/canonical-revision",
            "app.kubernetes.io/version",
            "version",
        ],
    )
    .unwrap_or("latest")
}

fn first_label<'l>(labels: &'l Labels, names: &[&str]) -> Option<&'l str> {
    names
        .iter()
        .find_map(|name| labels.get(*name))
        .map(String::as_str)
        .filter(|value| !value.is_empty())
}

fn or_unknown(value: &str) -> String {
    if value.is_empty() { UNKNOWN } else { value }.to_owned()
}

/// Appends `name="value",` with the value escaped for the text format.
pub(crate) fn push_label(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, "{name}=\"");
    push_escaped(out, value);
    out.push_str("\",");
}

/// Escapes a label value (backslash, quote, newline).
pub(crate) fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_destination_of_an_istio_cluster_is_its_host_and_the_endpoint_labels() {
        let d = DestinationLabels::of_cluster(
            "outbound|80||reviews.bookinfo.svc.cluster.local",
            Some(&labels(&[("app", "reviews"), ("version", "v2")])),
        );
        assert_eq!(d.service, "reviews.bookinfo.svc.cluster.local");
        assert_eq!(d.service_name, "reviews");
        assert_eq!(d.service_namespace, "bookinfo");
        assert_eq!(d.app, "reviews");
        assert_eq!(d.version, "v2");
        assert_eq!(d.canonical_service, "reviews");
        assert_eq!(d.canonical_revision, "v2");
        assert_eq!(d.workload, UNKNOWN);
    }

    #[test]
    fn a_short_host_or_plain_cluster_name_has_no_namespace() {
        let d = DestinationLabels::of_cluster("outbound|80||order-service", None);
        assert_eq!(d.service, "order-service");
        assert_eq!(d.service_name, "order-service");
        assert_eq!(d.service_namespace, UNKNOWN);
        assert_eq!(d.version, UNKNOWN);
        assert_eq!(d.canonical_revision, "latest");
        let plain = DestinationLabels::of_cluster("payments", None);
        assert_eq!(plain.service, "payments");
        assert_eq!(DestinationLabels::unknown().service, UNKNOWN);
    }

    #[test]
    fn canonical_labels_win_over_app_and_version() {
        let d = DestinationLabels::of_cluster(
            "c",
            Some(&labels(&[
                ("app", "a"),
                ("version", "v1"),
                ("service.istio.io/canonical-name", "canon"),
                ("service.istio.io/canonical-revision", "r7"),
            ])),
        );
        assert_eq!(
            (d.canonical_service.as_str(), d.canonical_revision.as_str()),
            ("canon", "r7")
        );
    }

    #[test]
    fn the_source_comes_from_istio_node_metadata() {
        let metadata = serde_json::json!({
            "WORKLOAD_NAME": "frontend",
            "NAMESPACE": "shop",
            "CLUSTER_ID": "Kubernetes",
            "LABELS": {"app": "frontend", "version": "v1"}
        });
        let source = SourceLabels::from_node_metadata(metadata.as_object().unwrap()).unwrap();
        assert_eq!(source.workload, "frontend");
        assert_eq!(source.namespace, "shop");
        assert_eq!(source.version, "v1");
        assert_eq!(source.cluster, "Kubernetes");
        assert!(SourceLabels::from_node_metadata(&serde_json::Map::new()).is_none());
    }

    #[test]
    fn the_source_follows_istio_fallbacks_and_values_are_escaped() {
        let source = SourceLabels::from_workload(
            "checkout",
            "shop",
            &labels(&[("app.kubernetes.io/name", "checkout"), ("version", "v3")]),
        );
        assert_eq!(source.app, "checkout");
        assert_eq!(source.version, "v3");
        assert_eq!(source.canonical_revision, "v3");
        let mut out = String::new();
        push_label(&mut out, "l", "a\"b\\c\nd");
        assert_eq!(out, "l=\"a\\\"b\\\\c\\nd\",");
    }
}
