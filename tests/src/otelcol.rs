//! A real OpenTelemetry Collector for the tests: the small distribution
//! under `tests/otelcol` (OTLP receiver, batch processor, file exporter),
//! built with Go by `scripts/otelcol.sh`, started on loopback; the spans
//! it received are read back from its JSON-lines file.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running collector, killed when dropped.
#[derive(Debug)]
pub struct Collector {
    child: Child,
    address: SocketAddr,
    dir: PathBuf,
}

/// One span as the collector wrote it (OTLP/JSON).
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The `service.name` of its resource.
    pub service: String,
    /// The span itself: `traceId`, `spanId`, `parentSpanId`, `name`,
    /// `kind`, `attributes`, `status`, ...
    pub span: Value,
}

impl ReceivedSpan {
    /// A string field of the span (`traceId`, `name`, ...), or "".
    pub fn field(&self, name: &str) -> &str {
        self.span[name].as_str().unwrap_or_default()
    }

    /// An attribute's value, as text (`intValue`s are strings in
    /// OTLP/JSON).
    pub fn attribute(&self, key: &str) -> Option<String> {
        let value = self.span["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == key)?["value"]
            .clone();
        let (_, inner) = value.as_object()?.iter().next()?;
        Some(match inner {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

impl Collector {
    /// Builds (when needed) and starts the collector.
    pub fn start() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let output = Command::new("bash")
            .arg(root.join("scripts/otelcol.sh"))
            .output()
            .expect("bash runs scripts/otelcol.sh");
        assert!(
            output.status.success(),
            "building the collector failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let binary = stdout.lines().last().expect("the binary's path").trim();
        let address = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().unwrap()
        };
        let dir = std::env::temp_dir().join(format!(
            "mesh-otelcol-{}-{}",
            std::process::id(),
            address.port()
        ));
        std::fs::create_dir_all(&dir).expect("a directory for the collector");
        let config = dir.join("config.yaml");
        std::fs::write(
            &config,
            format!(
                "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {address}\n\
                 processors:\n  batch:\n    timeout: 50ms\n\
                 exporters:\n  file:\n    path: {}\n    flush_interval: 50ms\n\
                 service:\n  telemetry:\n    logs:\n      level: warn\n    metrics:\n      level: none\n\
                 \x20 pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [file]\n\
                 \x20   metrics:\n      receivers: [otlp]\n      exporters: [file]\n",
                dir.join("received.jsonl").display()
            ),
        )
        .expect("the collector's configuration");
        let child = Command::new(binary)
            .arg(format!("--config={}", config.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the collector starts");
        let collector = Self {
            child,
            address,
            dir,
        };
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(address).is_err() {
            assert!(
                Instant::now() < until,
                "the collector never listened on {address}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        collector
    }

    /// The OTLP/gRPC endpoint, `http://127.0.0.1:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The data points of metric `name` received so far (each point an
    /// OTLP/JSON object: `attributes`, `asInt`, `count`, ...), in the
    /// order received.
    pub fn metric_points(&self, name: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.join("received.jsonl")).unwrap_or_default();
        let mut points = Vec::new();
        for line in text.lines() {
            let Ok(request) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            for resource in request["resourceMetrics"].as_array().into_iter().flatten() {
                for scope in resource["scopeMetrics"].as_array().into_iter().flatten() {
                    for metric in scope["metrics"].as_array().into_iter().flatten() {
                        if metric["name"] != name {
                            continue;
                        }
                        for kind in ["sum", "histogram", "gauge"] {
                            if let Some(found) = metric[kind]["dataPoints"].as_array() {
                                points.extend(found.iter().cloned());
                            }
                        }
                    }
                }
            }
        }
        points
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let text = std::fs::read_to_string(self.dir.join("received.jsonl")).unwrap_or_default();
        let mut spans = Vec::new();
        for line in text.lines() {
            let Ok(request) = serde_json::from_str::<Value>(line) else {
                continue; // a line still being written
            };
            for resource in request["resourceSpans"].as_array().into_iter().flatten() {
                let service = resource["resource"]["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["key"] == "service.name")
                    .and_then(|a| a["value"]["stringValue"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                    for span in scope["spans"].as_array().into_iter().flatten() {
                        spans.push(ReceivedSpan {
                            service: service.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
        }
        spans
    }

    /// The spans of `trace_id` once there are at least `count` (polling
    /// every 50 ms for up to 20 s).
    pub fn wait_for_trace(&self, trace_id: &str, count: usize) -> Vec<ReceivedSpan> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let spans: Vec<_> = self
                .spans()
                .into_iter()
                .filter(|s| s.field("traceId") == trace_id)
                .collect();
            if spans.len() >= count || Instant::now() >= until {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
