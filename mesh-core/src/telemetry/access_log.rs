//! The access log: one JSON line per request, with the fields of
//! Envoy's default access log, sampled, to a file or a callback.
//!
//! Writing a file must not block a request, so entries go through a
//! bounded queue to a writer thread that drains it every 100 ms (polling:
//! a logged request wakes no thread); an entry that finds the queue full
//! is dropped and counted. A callback runs on the request's thread, as
//! the caller's own code.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TryRecvError};
use std::time::{Duration, SystemTime};

use super::flags::ResponseFlags;
use crate::rng::MeshRng;

/// One request, as logged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessLogEntry {
    /// When the call started.
    pub start_time: Option<SystemTime>,
    /// `GET`, ...
    pub method: String,
    /// The logical authority (`order-service`).
    pub authority: String,
    /// Path and query.
    pub path: String,
    /// `HTTP/1.1`, `HTTP/2` or `gRPC`.
    pub protocol: &'static str,
    /// The status (0 when the caller gave up).
    pub response_code: u16,
    /// The gRPC status, for gRPC.
    pub grpc_status: Option<u8>,
    /// Envoy's response flags.
    pub response_flags: ResponseFlags,
    /// Request body bytes.
    pub bytes_received: u64,
    /// Response body bytes.
    pub bytes_sent: u64,
    /// From the call to the end of the response body.
    pub duration: Duration,
    /// The endpoint of the last attempt.
    pub upstream_host: Option<String>,
    /// The cluster.
    pub upstream_cluster: Option<String>,
    /// The route's name.
    pub route_name: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// `x-request-id`.
    pub request_id: Option<String>,
    /// `user-agent`.
    pub user_agent: Option<String>,
    /// The trace, when the request was traced.
    pub trace_id: Option<String>,
}

impl AccessLogEntry {
    /// The entry as one line of JSON (absent values are `null`, as in
    /// Envoy's JSON format).
    pub fn to_json(&self) -> String {
        let start = self
            .start_time
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(serde_json::Value::Null, |d| {
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX).into()
            });
        let value = serde_json::json!({
            "start_time_ms": start,
            "method": self.method,
            "authority": self.authority,
            "path": self.path,
            "protocol": self.protocol,
            "response_code": self.response_code,
            "grpc_status": self.grpc_status,
            "response_flags": self.response_flags.to_string(),
            "bytes_received": self.bytes_received,
            "bytes_sent": self.bytes_sent,
            "duration_ms": self.duration.as_secs_f64() * 1e3,
            "upstream_host": self.upstream_host,
            "upstream_cluster": self.upstream_cluster,
            "route_name": self.route_name,
            "attempts": self.attempts,
            "request_id": self.request_id,
            "user_agent": self.user_agent,
            "trace_id": self.trace_id,
        });
        let mut line = value.to_string();
        line.push('\n');
        line
    }
}

/// Where entries go.
enum Sink {
    File(SyncSender<String>),
    Callback(Arc<dyn Fn(&AccessLogEntry) + Send + Sync>),
}

/// A sampled access log.
pub struct AccessLog {
    ratio: f64,
    sink: Sink,
    dropped: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("ratio", &self.ratio)
            .finish_non_exhaustive()
    }
}

/// Entries waiting for the writer, at most.
const QUEUE: usize = 4_096;

impl AccessLog {
    /// Appends a share `ratio` (0 to 1) of requests to the file at
    /// `path` (created if missing), from a writer thread.
    pub fn file(path: &Path, ratio: f64) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (sender, receiver) = mpsc::sync_channel::<String>(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let (counted, lost) = (written.clone(), dropped.clone());
        std::thread::Builder::new()
            .name("mesh-access-log".into())
            .spawn(move || {
                let mut out = BufWriter::new(file);
                loop {
                    std::thread::sleep(Duration::from_millis(100));
                    let mut open = true;
                    loop {
                        match receiver.try_recv() {
                            Ok(line) => {
                                let counter = match out.write_all(line.as_bytes()) {
                                    Ok(()) => &counted,
                                    Err(_) => &lost,
                                };
                                counter.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Disconnected) => {
                                open = false;
                                break;
                            }
                        }
                    }
                    let _ = out.flush();
                    if !open {
                        return;
                    }
                }
            })?;
        Ok(Self {
            ratio,
            sink: Sink::File(sender),
            dropped,
            written,
        })
    }

    /// Hands a share `ratio` of requests' entries to `callback`, on the
    /// request's thread.
    pub fn callback(callback: Arc<dyn Fn(&AccessLogEntry) + Send + Sync>, ratio: f64) -> Self {
        Self {
            ratio,
            sink: Sink::Callback(callback),
            dropped: Arc::default(),
            written: Arc::default(),
        }
    }

    /// Whether to log the next request.
    #[inline]
    pub fn samples(&self, rng: &mut dyn MeshRng) -> bool {
        self.ratio >= 1.0
            || (self.ratio > 0.0 && (rng.next_u64() >> 11) as f64 * 2f64.powi(-53) < self.ratio)
    }

    /// Logs `entry`.
    pub fn log(&self, entry: &AccessLogEntry) {
        match &self.sink {
            Sink::File(sender) => {
                if sender.try_send(entry.to_json()).is_err() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Sink::Callback(callback) => {
                callback(entry);
                self.written.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// `(written, dropped)` entries so far (dropped: the queue was full,
    /// or the write failed).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.written.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn entries_are_json_lines_with_envoy_fields() {
        let entry = AccessLogEntry {
            method: "GET".into(),
            authority: "order-service".into(),
            path: "/orders/1".into(),
            protocol: "HTTP/1.1",
            response_code: 503,
            response_flags: ResponseFlags::UPSTREAM_RETRY_LIMIT_EXCEEDED,
            attempts: 3,
            ..AccessLogEntry::default()
        };
        let line = entry.to_json();
        assert!(line.ends_with('\n'));
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["response_flags"], "URX");
        assert_eq!(json["attempts"], 3);
        assert_eq!(json["upstream_host"], serde_json::Value::Null);
    }

    #[test]
    fn sampling_keeps_about_the_ratio_and_a_file_gets_every_line() {
        let log = AccessLog::callback(Arc::new(|_| {}), 0.1);
        let mut rng = SeededRng::new(11);
        let kept = (0..10_000).filter(|_| log.samples(&mut rng)).count();
        assert!((800..1_200).contains(&kept), "{kept}");

        let path = std::env::temp_dir().join(format!("mesh-access-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let file = AccessLog::file(&path, 1.0).unwrap();
        for code in [200, 404] {
            file.log(&AccessLogEntry {
                response_code: code,
                ..AccessLogEntry::default()
            });
        }
        drop(file);
        let until = std::time::Instant::now() + Duration::from_secs(5);
        let mut text = String::new();
        while text.lines().count() < 2 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
            text = std::fs::read_to_string(&path).unwrap_or_default();
        }
        assert_eq!(text.lines().count(), 2, "{text}");
        let _ = std::fs::remove_file(&path);
    }
}
