//! What the ABI tests share.

/// One service, `order-service`, with one endpoint on the discard port
/// (9): nothing listens there, so requests fail fast with `TRANSPORT`.
pub const CONFIG: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders, namespace: default}
spec:
  hosts: [order-service]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: 9}}
"#;
