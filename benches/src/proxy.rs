//! The sidecar-pair stand-in: two real proxies in a row on loopback.
//!
//! Under a sidecar mesh a call crosses the caller's proxy and the callee's
//! proxy: client → proxy → proxy → server. The harness reproduces that
//! with nginx or HAProxy from the distribution's packages (installed by
//! `scripts/bench.sh`), each hop a single process with one worker thread,
//! no logging, keep-alive upstream connections, and generated config files
//! in a temporary directory that is removed when the pair drops.
//!
//! HTTP/2: HAProxy speaks h2c on both sides (`bind ... proto h2`,
//! `server ... proto h2`), so its HTTP/2 runs are HTTP/2 end to end. nginx
//! accepts h2c from the client (`listen ... http2`) but proxies upstream
//! over HTTP/1.1 only, so its HTTP/2 runs are HTTP/2 on the first leg and
//! HTTP/1.1 behind it; the report says so.
//!
//! No TLS on any hop: the mesh's path has none yet either, and mTLS would
//! only widen the gap.

use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which proxy plays the sidecars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// nginx (`ngx_http_proxy_module`).
    Nginx,
    /// HAProxy.
    Haproxy,
}

impl fmt::Display for ProxyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyKind::Nginx => "nginx",
            ProxyKind::Haproxy => "HAProxy",
        })
    }
}

impl ProxyKind {
    /// Both, in report order.
    pub const ALL: [ProxyKind; 2] = [ProxyKind::Nginx, ProxyKind::Haproxy];

    /// The executable's name.
    pub fn binary(self) -> &'static str {
        match self {
            ProxyKind::Nginx => "nginx",
            ProxyKind::Haproxy => "haproxy",
        }
    }

    /// Where the executable is, searching `PATH` and the sbin folders a
    /// non-root `PATH` may lack.
    pub fn find(self) -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
            .map(|dir| dir.join(self.binary()))
            .find(|candidate| candidate.is_file())
    }

    /// The proxy's own version line, e.g. `nginx/1.22.1`.
    pub fn version(self, binary: &Path) -> String {
        let output = Command::new(binary).arg("-v").output();
        let Ok(output) = output else {
            return "unknown version".into();
        };
        // nginx prints to stderr, HAProxy to stdout.
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let line = text.lines().next().unwrap_or("").trim();
        match self {
            ProxyKind::Nginx => line.trim_start_matches("nginx version: ").to_owned(),
            ProxyKind::Haproxy => line
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// How its HTTP/2 runs go, for the report.
    pub fn http2_note(self) -> &'static str {
        match self {
            ProxyKind::Nginx => {
                "h2c from the client to the first nginx; nginx proxies upstream over HTTP/1.1 only"
            }
            ProxyKind::Haproxy => "h2c on every hop",
        }
    }
}

/// Ports one hop listens on.
#[derive(Debug, Clone, Copy)]
struct Listen {
    http1: u16,
    http2: u16,
}

/// Two running proxies, outer (the caller's sidecar) → inner (the
/// callee's) → backend; dropping the pair stops both and removes their
/// directory.
#[derive(Debug)]
pub struct SidecarPair {
    kind: ProxyKind,
    outer: Listen,
    children: Vec<Child>,
    dir: PathBuf,
}

impl SidecarPair {
    /// Starts two `kind` proxies in front of the backend's `backend_port`
    /// and waits until both accept connections (at most five seconds).
    pub fn start(kind: ProxyKind, binary: &Path, backend_port: u16) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!(
            "mesh-bench-{}-{}-{backend_port}",
            kind.binary(),
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut pair = Self {
            kind,
            outer: Listen { http1: 0, http2: 0 },
            children: Vec::new(),
            dir,
        };
        let inner = Listen {
            http1: free_port()?,
            http2: free_port()?,
        };
        let outer = Listen {
            http1: free_port()?,
            http2: free_port()?,
        };
        let backend = Listen {
            http1: backend_port,
            http2: backend_port,
        };
        pair.spawn(binary, "inner", inner, backend)?;
        pair.spawn(binary, "outer", outer, inner)?;
        pair.outer = outer;
        pair.wait_ready(&[inner, outer])?;
        Ok(pair)
    }

    /// Which proxy.
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// The outer proxy's HTTP/1.1 port.
    pub fn http1_port(&self) -> u16 {
        self.outer.http1
    }

    /// The outer proxy's h2c port.
    pub fn http2_port(&self) -> u16 {
        self.outer.http2
    }

    fn spawn(
        &mut self,
        binary: &Path,
        name: &str,
        listen: Listen,
        next: Listen,
    ) -> Result<(), String> {
        let config_path = self.dir.join(format!("{name}.conf"));
        let config = match self.kind {
            ProxyKind::Nginx => nginx_config(&self.dir, name, listen, next),
            ProxyKind::Haproxy => haproxy_config(listen, next),
        };
        std::fs::write(&config_path, config)
            .map_err(|e| format!("{}: {e}", config_path.display()))?;
        let log = std::fs::File::create(self.dir.join(format!("{name}.stderr")))
            .map_err(|e| format!("log file: {e}"))?;
        let mut command = Command::new(binary);
        match self.kind {
            ProxyKind::Nginx => command
                .arg("-p")
                .arg(&self.dir)
                .arg("-e")
                .arg(self.dir.join(format!("{name}.error.log")))
                .arg("-c")
                .arg(&config_path),
            ProxyKind::Haproxy => command.arg("-db").arg("-f").arg(&config_path),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        self.children.push(child);
        Ok(())
    }

    fn wait_ready(&mut self, hops: &[Listen]) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let ports: Vec<u16> = hops.iter().flat_map(|l| [l.http1, l.http2]).collect();
        loop {
            for child in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "{} exited at start ({status}): {}",
                        self.kind,
                        self.logs()
                    ));
                }
            }
            let ready = ports.iter().all(|&port| {
                TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], port)),
                    Duration::from_millis(100),
                )
                .is_ok()
            });
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not listen within 5 s: {}",
                    self.kind,
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The tail of what the proxies wrote, for error messages.
    fn logs(&self) -> String {
        let mut text = String::new();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let is_log = path
                    .extension()
                    .is_some_and(|e| e == "stderr" || e == "log");
                if is_log && let Ok(content) = std::fs::read_to_string(&path) {
                    for line in content.lines().filter(|l| !l.trim().is_empty()) {
                        text.push_str(line.trim());
                        text.push_str("; ");
                    }
                }
            }
        }
        let text = text.trim();
        let start = text.len().saturating_sub(400);
        let start = (start..=text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_owned()
    }
}

impl Drop for SidecarPair {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// One nginx hop: a single process (`master_process off`, so killing the
/// child stops it all), keep-alive to the next hop over HTTP/1.1 from both
/// listeners, request limits raised so no connection is recycled mid-run.
fn nginx_config(dir: &Path, name: &str, listen: Listen, next: Listen) -> String {
    let dir = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {dir}/{name}.pid;
error_log {dir}/{name}.error.log error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/{name}-client-body;
    proxy_temp_path {dir}/{name}-proxy;
    fastcgi_temp_path {dir}/{name}-fastcgi;
    uwsgi_temp_path {dir}/{name}-uwsgi;
    scgi_temp_path {dir}/{name}-scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    upstream next {{
        server 127.0.0.1:{next_port};
        keepalive 256;
        keepalive_requests 100000000;
        keepalive_timeout 300s;
    }}
    server {{
        listen 127.0.0.1:{h1};
        listen 127.0.0.1:{h2} http2;
        location / {{
            proxy_pass http://next;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"#,
        next_port = next.http1,
        h1 = listen.http1,
        h2 = listen.http2,
    )
}

/// One HAProxy hop: one thread, keep-alive and connection reuse on, one
/// frontend and backend per protocol so HTTP/2 stays HTTP/2 to the next
/// hop.
fn haproxy_config(listen: Listen, next: Listen) -> String {
    format!(
        r#"global
    nbthread 1
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
    http-reuse always

frontend http1
    bind 127.0.0.1:{h1}
    default_backend next_http1

frontend http2
    bind 127.0.0.1:{h2} proto h2
    default_backend next_http2

backend next_http1
    server next 127.0.0.1:{n1}

backend next_http2
    server next 127.0.0.1:{n2} proto h2
"#,
        h1 = listen.http1,
        h2 = listen.http2,
        n1 = next.http1,
        n2 = next.http2,
    )
}
