//! Mirror of an API `Listener` and the `HttpConnectionManager` in its
//! `api_listener`, which is encoded into the proto `Any` exactly as a
//! control plane would send it.

use envoy_types::pb::envoy::config::listener::v3::{self as pb, ApiListener as PbApiListener};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    self as hcm, http_connection_manager::RouteSpecifier,
};
use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};

use super::route::RouteConfiguration;
use super::wkt::{AnyBody, AnyOf, nullable};
use super::{oneof, opt};
use crate::config::{ConfigError, ResultExt};
use crate::source::envoy::proto::{type_name, type_url};

/// `config.listener.v3.Listener`: its name and API listener.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(in crate::source::envoy) struct Listener {
    #[serde(deserialize_with = "nullable")]
    pub(in crate::source::envoy) name: String,
    #[serde(alias = "apiListener")]
    api_listener: Option<ApiListener>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ApiListener {
    #[serde(alias = "apiListener")]
    api_listener: Option<AnyOf<ApiBody>>,
}

/// What an API listener may hold.
#[derive(Debug)]
enum ApiBody {
    Hcm(Box<HttpConnectionManager>),
    Other,
}

impl AnyBody for ApiBody {
    fn deserialize_body<'de, D: Deserializer<'de>>(kind: &str, body: D) -> Result<Self, D::Error> {
        if kind == type_name(type_url::HTTP_CONNECTION_MANAGER) {
            return HttpConnectionManager::deserialize(body).map(|h| Self::Hcm(Box::new(h)));
        }
        IgnoredAny::deserialize(body)?;
        Ok(Self::Other)
    }
}

/// `HttpConnectionManager`: where its routes come from.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HttpConnectionManager {
    rds: Option<Rds>,
    #[serde(alias = "routeConfig")]
    route_config: Option<RouteConfiguration>,
    #[serde(alias = "scopedRoutes")]
    scoped_routes: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Rds {
    #[serde(alias = "routeConfigName", deserialize_with = "nullable")]
    route_config_name: String,
}

impl HttpConnectionManager {
    fn into_proto(self) -> Result<hcm::HttpConnectionManager, ConfigError> {
        let inline = opt(
            self.route_config,
            "route_config",
            RouteConfiguration::into_proto,
        )?;
        let route_specifier = oneof([
            (
                "rds",
                self.rds.map(|r| {
                    RouteSpecifier::Rds(hcm::Rds {
                        route_config_name: r.route_config_name,
                        config_source: None,
                    })
                }),
            ),
            ("route_config", inline.map(RouteSpecifier::RouteConfig)),
            (
                "scoped_routes",
                self.scoped_routes
                    .map(|_| RouteSpecifier::ScopedRoutes(Default::default())),
            ),
        ])?;
        Ok(hcm::HttpConnectionManager {
            route_specifier,
            ..Default::default()
        })
    }
}

impl Listener {
    pub(in crate::source::envoy) fn into_proto(self) -> Result<pb::Listener, ConfigError> {
        let api_listener = match self.api_listener {
            None => None,
            Some(api) => Some(PbApiListener {
                api_listener: match api.api_listener {
                    None => None,
                    Some(any) => Some(Any {
                        value: match any.body {
                            ApiBody::Hcm(h) => h
                                .into_proto()
                                .at("api_listener.api_listener")?
                                .encode_to_vec(),
                            ApiBody::Other => Vec::new(),
                        },
                        type_url: any.type_url,
                    }),
                },
            }),
        };
        Ok(pb::Listener {
            name: self.name,
            api_listener,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_manager_is_encoded() {
        let yaml = r#"
name: orders:80
apiListener:
  apiListener:
    "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
    rds: {routeConfigName: orders-routes}
    http_filters: [{name: envoy.filters.http.router}]
"#;
        let l = serde_yaml::from_str::<Listener>(yaml)
            .unwrap()
            .into_proto()
            .unwrap();
        let any = l.api_listener.unwrap().api_listener.unwrap();
        let decoded = hcm::HttpConnectionManager::decode(any.value.as_slice()).unwrap();
        let Some(RouteSpecifier::Rds(rds)) = decoded.route_specifier else {
            panic!("{decoded:?}");
        };
        assert_eq!(rds.route_config_name, "orders-routes");

        let both = r#"{name: x, api_listener: {api_listener: {"@type": a/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, rds: {}, route_config: {}}}}"#;
        let e = serde_yaml::from_str::<Listener>(both)
            .unwrap()
            .into_proto()
            .unwrap_err();
        assert_eq!(e.field, "api_listener.api_listener.route_config");
    }
}
