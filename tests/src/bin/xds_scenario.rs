//! The canary scenario over xDS, as a process other languages' tests
//! start: the test control plane (a real tonic ADS server on loopback)
//! serving the order-service canary (`x-canary: always` to v2, otherwise
//! 80/20 v1/v2) and the two backends it points at.
//!
//! ```text
//! cargo run -p mesh-tests --bin xds_scenario
//! ```
//!
//! Prints one JSON line, `{"target": "order-service:80", "bootstrap":
//! "<gRPC bootstrap JSON>"}`, then serves until its standard input closes
//! (so it never outlives the test that started it).

use std::io::{Read, Write};

use mesh_tests::canary::{self, CanaryBackends, TARGET};
use mesh_tests::control_plane::ControlPlane;
use mesh_tests::xds_resources::canary_scenario;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (backends, control_plane) = runtime.block_on(async {
        let backends = CanaryBackends::start().await;
        let control_plane = ControlPlane::start().await;
        control_plane.set_all(canary_scenario(
            TARGET,
            &backends.v1_addrs(),
            &backends.v2_addrs(),
            (80, 20),
        ));
        (backends, control_plane)
    });
    let line = serde_json::json!({
        "target": TARGET,
        "bootstrap": canary::bootstrap_json(&[control_plane.addr()], &["xds_v3"]),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    // Serves until the parent closes our standard input (or exits).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop((backends, control_plane));
    Ok(())
}
