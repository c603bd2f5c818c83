//! A real Prometheus server for the tests: the Debian package's binary,
//! started on loopback with a scrape configuration the test writes, and
//! queried over its HTTP API.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Prometheus, killed when dropped.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    address: SocketAddr,
    dir: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`, path `/metrics`)
    /// every 500 ms; waits until its API answers. The binary is
    /// `$PROMETHEUS`, or `prometheus` on the `PATH` (`apt-get install
    /// prometheus`; `scripts/test.sh` installs it).
    pub fn start(target: SocketAddr) -> Self {
        let binary = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".to_owned());
        let dir = std::env::temp_dir().join(format!(
            "mesh-prometheus-{}-{}",
            std::process::id(),
            target.port()
        ));
        std::fs::create_dir_all(&dir).expect("a directory for Prometheus");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n\
                 scrape_configs:\n  - job_name: mesh\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("the scrape configuration");
        let address = free_port();
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {binary} ({e}): install Prometheus (apt-get install prometheus), \
                     or set PROMETHEUS to its binary; scripts/test.sh installs it"
                )
            });
        let prometheus = Self {
            child,
            address,
            dir,
        };
        let ready = prometheus.wait_for(Duration::from_secs(30), |p| {
            p.get("/-/ready").is_some_and(|(status, _)| status == 200)
        });
        assert!(ready, "Prometheus did not become ready on {address}");
        prometheus
    }

    /// Runs an instant PromQL query; the `data.result` array.
    pub fn query(&self, promql: &str) -> Option<Vec<serde_json::Value>> {
        let (status, body) = self.get(&format!("/api/v1/query?query={}", encode(promql)))?;
        if status != 200 {
            return None;
        }
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        json["data"]["result"].as_array().cloned()
    }

    /// The scrape targets' state, as JSON (for failure messages).
    pub fn targets(&self) -> String {
        self.get("/api/v1/targets")
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    /// Polls `done` every 200 ms until it holds or `timeout` passes.
    pub fn wait_for(&self, timeout: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if done(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// A GET over HTTP/1.0: the status and the body.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&self.address, Duration::from_secs(2)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.address
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback address with a port free right now.
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}

/// Percent-encodes a query parameter.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
