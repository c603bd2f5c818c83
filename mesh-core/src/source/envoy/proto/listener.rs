//! `Listener` → [`Listener`] (+ its inline route table), the gRPC
//! proxyless shape: an API listener named by its `host:port` target whose
//! `api_listener` is an `HttpConnectionManager`.
//!
//! The connection manager names its routes with `rds.route_config_name`,
//! or carries them inline in `route_config` (named after that table's own
//! `name`, or the listener's when empty). Socket listeners (addresses,
//! filter chains) and scoped routes are rejected: a client has no socket to
//! listen on.

use envoy_types::pb::envoy::config::listener::v3::Listener as PbListener;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, http_connection_manager::RouteSpecifier,
};
use envoy_types::pb::google::protobuf::Any;
use prost::Message;

use super::route::route_table_named;
use super::{non_empty, required, type_name, type_url, unsupported};
use crate::config::{ConfigError, Listener, ResultExt, RouteTable};

/// Where the HTTP connection manager sits inside a `Listener`.
const HCM_FIELD: &str = "api_listener.api_listener";

/// Converts a `Listener`; errors name `Listener "name"`. Returns the inline
/// route table when the listener carries one; otherwise the table named by
/// `Listener::route_table` comes from RDS.
pub fn listener(l: &PbListener) -> Result<(Listener, Option<RouteTable>), ConfigError> {
    listener_of(l).map_err(|e| e.in_resource(format!("Listener {:?}", l.name)))
}

fn listener_of(l: &PbListener) -> Result<(Listener, Option<RouteTable>), ConfigError> {
    let mut listener = Listener::new(&l.name, "")?;
    let api = l.api_listener.as_ref().ok_or_else(|| {
        ConfigError::field(
            "api_listener",
            "is required: only API listeners (named by their host:port target) are supported",
        )
    })?;
    let any = required(api.api_listener.as_ref(), HCM_FIELD)?;
    let hcm = http_connection_manager(any).at(HCM_FIELD)?;
    let table = match &hcm.route_specifier {
        Some(RouteSpecifier::Rds(rds)) => {
            let name = non_empty(&rds.route_config_name, "rds.route_config_name").at(HCM_FIELD)?;
            listener.route_table = name.into();
            None
        }
        Some(RouteSpecifier::RouteConfig(rc)) => {
            let name = if rc.name.is_empty() {
                &l.name
            } else {
                &rc.name
            };
            let table = route_table_named(rc, name)
                .at("route_config")
                .at(HCM_FIELD)?;
            listener.route_table = table.name().clone();
            Some(table)
        }
        Some(RouteSpecifier::ScopedRoutes(_)) => {
            return Err(unsupported("scoped_routes", "scoped routes").at(HCM_FIELD));
        }
        None => {
            return Err(ConfigError::field(
                HCM_FIELD,
                "one of rds or route_config is required",
            ));
        }
    };
    Ok((listener, table))
}

/// Decodes the `HttpConnectionManager` an API listener carries.
fn http_connection_manager(any: &Any) -> Result<HttpConnectionManager, ConfigError> {
    let expected = type_name(type_url::HTTP_CONNECTION_MANAGER);
    if type_name(&any.type_url) != expected {
        return Err(unsupported(
            "",
            format!("API listener type {:?}", any.type_url),
        ));
    }
    HttpConnectionManager::decode(any.value.as_slice())
        .map_err(|e| ConfigError::field("", format!("cannot decode {expected}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::listener::v3::ApiListener;
    use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, VirtualHost};
    use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::Rds;

    fn api(name: &str, routes: RouteSpecifier) -> PbListener {
        let hcm = HttpConnectionManager {
            route_specifier: Some(routes),
            ..Default::default()
        };
        PbListener {
            name: name.into(),
            api_listener: Some(ApiListener {
                api_listener: Some(Any {
                    type_url: type_url::HTTP_CONNECTION_MANAGER.into(),
                    value: hcm.encode_to_vec(),
                }),
            }),
            ..Default::default()
        }
    }

    fn inline(name: &str, domains: &[&str]) -> RouteSpecifier {
        RouteSpecifier::RouteConfig(RouteConfiguration {
            name: name.into(),
            virtual_hosts: vec![VirtualHost {
                name: "vh".into(),
                domains: domains.iter().map(|d| (*d).to_owned()).collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    #[test]
    fn rds_and_inline_route_configs() {
        let rds = RouteSpecifier::Rds(Rds {
            route_config_name: "orders-routes".into(),
            config_source: None,
        });
        let (l, table) = listener(&api("orders:80", rds)).unwrap();
        assert_eq!((&*l.name, &*l.route_table), ("orders:80", "orders-routes"));
        assert!(table.is_none());

        let (l, table) = listener(&api("orders:80", inline("", &["orders"]))).unwrap();
        assert_eq!(&*l.route_table, "orders:80");
        assert_eq!(&**table.unwrap().name(), "orders:80");
        let (l, _) = listener(&api("orders:80", inline("local", &["orders"]))).unwrap();
        assert_eq!(&*l.route_table, "local");
    }

    #[test]
    fn listener_errors() {
        let e = listener(&api("orders:80", inline("", &["a b"]))).unwrap_err();
        assert_eq!(e.resource, r#"Listener "orders:80""#);
        assert_eq!(
            e.field,
            "api_listener.api_listener.route_config.virtual_hosts[0].domains[0]"
        );
        let e = listener(&api("orders", inline("", &["orders"]))).unwrap_err();
        assert_eq!(e.field, "name");
        let e = listener(&api("orders:80", RouteSpecifier::Rds(Rds::default()))).unwrap_err();
        assert_eq!(e.field, "api_listener.api_listener.rds.route_config_name");
        let mut socket = api("orders:80", inline("", &["x"]));
        socket.api_listener = None;
        assert_eq!(listener(&socket).unwrap_err().field, "api_listener");
        let mut wrong = api("orders:80", inline("", &["x"]));
        if let Some(a) = wrong
            .api_listener
            .as_mut()
            .and_then(|a| a.api_listener.as_mut())
        {
            a.type_url = "type.googleapis.com/acme.Other".into();
        }
        assert_eq!(
            listener(&wrong).unwrap_err().field,
            "api_listener.api_listener"
        );
        let mut garbage = api("orders:80", inline("", &["x"]));
        if let Some(a) = garbage
            .api_listener
            .as_mut()
            .and_then(|a| a.api_listener.as_mut())
        {
            a.value = vec![0xff, 0xff, 0xff];
        }
        assert!(
            listener(&garbage)
                .unwrap_err()
                .reason
                .contains("cannot decode")
        );
    }
}
