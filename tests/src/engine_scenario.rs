//! The order-service scenario for the engine facade: three scriptable
//! backends on their own runtime, and engines over the Istio fixture
//! pointing at them, called from plain threads as a binding's caller
//! would.

use mesh_engine::{ConfigFormat, ConfigSource, Engine, EngineOptions, HttpRequest};
use mesh_examples::scenario::order_service_yaml;
use tokio::runtime::Runtime;

use crate::faulty::{Behavior, FaultyBackend};
use crate::parity::with_room_for_retries;

/// Backends v1-a, v1-b and v2, running until dropped.
#[derive(Debug)]
pub struct EngineScenario {
    /// Where the backends run.
    pub runtime: Runtime,
    /// The backends, in fixture order.
    pub backends: [FaultyBackend; 3],
}

impl EngineScenario {
    /// Starts the backends with these behaviours.
    pub fn start(behaviors: [Behavior; 3]) -> Self {
        let runtime = Runtime::new().expect("a runtime for the backends");
        let [a, b, c] = behaviors;
        let backends = runtime.block_on(async {
            [
                FaultyBackend::start("v1-a", a).await.unwrap(),
                FaultyBackend::start("v1-b", b).await.unwrap(),
                FaultyBackend::start("v2", c).await.unwrap(),
            ]
        });
        Self { runtime, backends }
    }

    /// The fixture with these ports and a fixed cap of 64 concurrent
    /// retries (the default budget would refuse some at 8 threads).
    pub fn yaml(&self) -> String {
        with_room_for_retries(&order_service_yaml(
            self.backends.each_ref().map(|b| b.addr().port()),
        ))
    }

    /// An engine over the fixture.
    pub fn engine(&self, options: EngineOptions) -> Engine {
        Engine::new(
            ConfigSource::Static {
                text: self.yaml(),
                format: ConfigFormat::Istio,
            },
            options,
        )
        .expect("the scenario loads")
    }
}

/// A GET of `url`.
pub fn get(url: &str) -> HttpRequest {
    HttpRequest::new(b"GET", url.as_bytes()).expect("a valid request")
}

/// A GET of `url` with `x-canary: always` (routed to v2).
pub fn canary(url: &str) -> HttpRequest {
    let mut request = get(url);
    request.add_header(b"x-canary", b"always").unwrap();
    request
}
