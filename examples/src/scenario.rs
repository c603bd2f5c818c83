//! The order-service canary scenario of `shared/fixtures`, with live ports.
//!
//! The fixture's ServiceEntry lists three endpoints on ports 18081-18083
//! (v1, v1, v2) and says whoever starts the backends fills in the ports:
//! [`order_service_yaml`] does that on a copy embedded in this crate.

/// The fixture `istio/order-service.yaml`, as shipped.
pub const ORDER_SERVICE_YAML: &str = include_str!("../fixtures/order-service.yaml");

/// The fixture's endpoint ports, in order: v1, v1, v2.
pub const FIXTURE_PORTS: [u16; 3] = [18081, 18082, 18083];

/// The fixture with its three endpoint ports replaced by `ports`.
pub fn order_service_yaml(ports: [u16; 3]) -> String {
    FIXTURE_PORTS
        .iter()
        .zip(ports)
        .fold(ORDER_SERVICE_YAML.to_owned(), |yaml, (from, to)| {
            yaml.replace(&format!("http: {from}"), &format!("http: {to}"))
        })
}

/// The gRPC canary: `greeter:50051`, v1 twice and v2 once, 80/20 with
/// `x-canary: always` pinned to v2 (`fixtures/greeter.yaml`).
pub const GREETER_YAML: &str = include_str!("../fixtures/greeter.yaml");

/// [`GREETER_YAML`] with its endpoint ports (v1, v1, v2) filled in.
pub fn greeter_yaml(ports: [u16; 3]) -> String {
    ["0001", "0002", "0003"]
        .iter()
        .zip(ports)
        .fold(GREETER_YAML.to_owned(), |yaml, (from, to)| {
            yaml.replace(&format!("grpc: {from}"), &format!("grpc: {to}"))
        })
}
