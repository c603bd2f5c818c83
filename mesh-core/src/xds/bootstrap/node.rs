//! The bootstrap's node as the `Node` proto of discovery requests.

use envoy_types::pb::envoy::config::core::v3 as core_pb;
use envoy_types::pb::google::protobuf::{ListValue, Struct, Value as PbValue, value::Kind};
use serde_json::{Map, Value};

use super::{CLIENT_FEATURES, Node};

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
