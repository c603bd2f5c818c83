//! Interop with a real control plane: go-control-plane's snapshot cache
//! (the Go program under `tests/interop/`, built here with
//! `scripts/interop.sh`) serves the order-service canary over ADS; the
//! Rust client routes through it at 80/20, follows a weight update to
//! 0/100, and keeps serving the last good configuration after the Go
//! process is killed.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use mesh_core::xds::XdsClient;
use mesh_tests::canary::{self, CanaryBackends, TARGET, mesh_client, spread};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const WAIT: Duration = Duration::from_secs(20);

/// Builds the Go control plane (a no-op when up to date) and returns it.
fn build() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = std::process::Command::new("bash")
        .arg(root.join("scripts/interop.sh"))
        .output()
        .expect("bash runs scripts/interop.sh");
    assert!(
        output.status.success(),
        "building the Go control plane failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// The next line of the Go program that starts with `prefix`.
async fn line(lines: &mut Lines<BufReader<ChildStdout>>, prefix: &str) -> String {
    let found = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.expect("readable stdout") {
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
            assert!(!line.starts_with("ERROR"), "{line}");
        }
        panic!("the control plane exited before printing {prefix}");
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {prefix} line within {WAIT:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_control_plane_serves_the_canary_and_its_weight_update() {
    let binary = build();
    let backends = CanaryBackends::start().await;
    let mut go: Child = Command::new(binary)
        .args(["-port", "0", "-target", TARGET])
        .arg("-v1")
        .arg(backends.v1.addr().to_string())
        .arg("-v2")
        .arg(backends.v2.addr().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // Its per-request log, with MESH_INTEROP_LOG=1.
        .stderr(if std::env::var_os("MESH_INTEROP_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .expect("the Go control plane starts");
    let mut lines = BufReader::new(go.stdout.take().unwrap()).lines();
    let port: u16 = line(&mut lines, "LISTENING").await.parse().unwrap();
    assert_eq!(line(&mut lines, "SNAPSHOT").await, "1");
    let mut stdin = go.stdin.take().unwrap();

    let bootstrap = canary::bootstrap(&[([127, 0, 0, 1], port).into()], &["xds_v3"]);
    let client = XdsClient::start(&bootstrap, canary::options()).expect("client starts");
    assert!(
        client.ready(WAIT).await,
        "configuration from go-control-plane"
    );
    let mesh = mesh_client(&client);
    let seen = spread(&mesh, 400).await;
    let v1 = seen.get("v1").copied().unwrap_or(0);
    // 80% of 400: standard deviation 8; ±60 never flakes.
    assert!((260..=380).contains(&v1), "{seen:?}");
    assert_eq!(
        client.stats().updates_rejected,
        0,
        "{}",
        client.config_dump()
    );

    let generation = client.generation();
    stdin.write_all(b"weights 0 100\n").await.unwrap();
    stdin.flush().await.unwrap();
    assert_eq!(line(&mut lines, "SNAPSHOT").await, "2");
    assert!(
        client.published_after(generation, WAIT).await,
        "the update arrives"
    );
    let seen = spread(&mesh, 50).await;
    assert_eq!(seen.get("v2"), Some(&50), "{seen:?}");

    go.kill().await.expect("the Go process is killed");
    let deadline = tokio::time::Instant::now() + WAIT;
    while client.stats().connected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!client.stats().connected, "the stream broke");
    let seen = spread(&mesh, 50).await;
    assert_eq!(seen.get("v2"), Some(&50), "last good config: {seen:?}");
}
