//! Mirror of how a cluster talks to its endpoints: the `transport_socket`
//! and the upstream `HttpProtocolOptions` among its
//! `typed_extension_protocol_options`.
//!
//! Only the type of a transport socket's `typed_config` matters to the
//! model, so its body is skipped and the proto `Any` carries the type URL
//! with an empty value. `HttpProtocolOptions` is transcribed and encoded,
//! since the conversion reads which protocol it selects and the
//! connection-pool settings (its common and HTTP/2 options, mirrored in
//! `pool`).

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::{self as core, transport_socket::ConfigType};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    self as http,
    http_protocol_options::{
        ExplicitHttpConfig as PbExplicit, UpstreamProtocolOptions,
        explicit_http_config::ProtocolConfig,
    },
};
use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};

use super::oneof;
use super::pool::{CommonHttpProtocolOptions, Http2ProtocolOptions};
use super::wkt::{AnyBody, AnyOf, Opaque, nullable};
use crate::config::{ConfigError, ResultExt};
use crate::source::envoy::proto::{type_name, type_url};

/// `config.core.v3.TransportSocket`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TransportSocket {
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(alias = "typedConfig")]
    typed_config: Option<AnyOf<Opaque>>,
}

impl TransportSocket {
    /// The typed config's body is not needed: the proto `Any` keeps only
    /// its type.
    pub(super) fn into_proto(self) -> core::TransportSocket {
        core::TransportSocket {
            name: self.name,
            config_type: self.typed_config.map(|any| {
                ConfigType::TypedConfig(Any {
                    type_url: any.type_url,
                    value: Vec::new(),
                })
            }),
        }
    }
}

/// What a `typed_extension_protocol_options` entry may hold.
#[derive(Debug)]
pub(super) enum ProtocolOptions {
    Http(HttpProtocolOptions),
    Other,
}

impl AnyBody for ProtocolOptions {
    fn deserialize_body<'de, D: Deserializer<'de>>(kind: &str, body: D) -> Result<Self, D::Error> {
        if kind == type_name(type_url::HTTP_PROTOCOL_OPTIONS) {
            return HttpProtocolOptions::deserialize(body).map(Self::Http);
        }
        IgnoredAny::deserialize(body)?;
        Ok(Self::Other)
    }
}

/// `extensions.upstreams.http.v3.HttpProtocolOptions`: which protocol,
/// and the pool settings.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HttpProtocolOptions {
    #[serde(alias = "commonHttpProtocolOptions")]
    common_http_protocol_options: Option<CommonHttpProtocolOptions>,
    #[serde(alias = "explicitHttpConfig")]
    explicit_http_config: Option<ExplicitHttpConfig>,
    #[serde(alias = "useDownstreamProtocolConfig")]
    use_downstream_protocol_config: Option<IgnoredAny>,
    #[serde(alias = "autoConfig")]
    auto_config: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ExplicitHttpConfig {
    #[serde(alias = "httpProtocolOptions")]
    http_protocol_options: Option<IgnoredAny>,
    #[serde(alias = "http2ProtocolOptions")]
    http2_protocol_options: Option<Http2ProtocolOptions>,
    #[serde(alias = "http3ProtocolOptions")]
    http3_protocol_options: Option<IgnoredAny>,
}

impl HttpProtocolOptions {
    fn into_proto(self) -> Result<http::HttpProtocolOptions, ConfigError> {
        let explicit = match self.explicit_http_config {
            None => None,
            Some(e) => Some(PbExplicit {
                protocol_config: oneof([
                    (
                        "http_protocol_options",
                        e.http_protocol_options
                            .map(|_| ProtocolConfig::HttpProtocolOptions(Default::default())),
                    ),
                    (
                        "http2_protocol_options",
                        e.http2_protocol_options
                            .map(|h| ProtocolConfig::Http2ProtocolOptions(h.into_proto())),
                    ),
                    (
                        "http3_protocol_options",
                        e.http3_protocol_options
                            .map(|_| ProtocolConfig::Http3ProtocolOptions(Default::default())),
                    ),
                ])
                .at("explicit_http_config")?,
            }),
        };
        Ok(http::HttpProtocolOptions {
            common_http_protocol_options: self
                .common_http_protocol_options
                .map(CommonHttpProtocolOptions::into_proto),
            upstream_protocol_options: oneof([
                (
                    "explicit_http_config",
                    explicit.map(UpstreamProtocolOptions::ExplicitHttpConfig),
                ),
                (
                    "use_downstream_protocol_config",
                    self.use_downstream_protocol_config.map(|_| {
                        UpstreamProtocolOptions::UseDownstreamProtocolConfig(Default::default())
                    }),
                ),
                (
                    "auto_config",
                    self.auto_config
                        .map(|_| UpstreamProtocolOptions::AutoConfig(Default::default())),
                ),
            ])?,
            ..Default::default()
        })
    }
}

/// `typed_extension_protocol_options`: each entry's `Any`, with
/// `HttpProtocolOptions` encoded and other types kept as bare type URLs.
pub(super) fn protocol_options(
    options: HashMap<String, AnyOf<ProtocolOptions>>,
) -> Result<HashMap<String, Any>, ConfigError> {
    let mut out = HashMap::new();
    for (key, any) in options {
        let value = match any.body {
            ProtocolOptions::Http(h) => h
                .into_proto()
                .at(format!("typed_extension_protocol_options[{key:?}]"))?
                .encode_to_vec(),
            ProtocolOptions::Other => Vec::new(),
        };
        let any = Any {
            type_url: any.type_url,
            value,
        };
        out.insert(key, any);
    }
    Ok(out)
}
