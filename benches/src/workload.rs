//! The two request loops every path runs.
//!
//! - [`Sequential`]: one request at a time on one connection (per
//!   endpoint), each timed from building the request to the last byte of
//!   the body, into an HDR histogram (nanosecond values, three significant
//!   digits). This is the latency a caller sees when nothing queues.
//! - [`concurrent`]: `in_flight` tasks each loop request after request on
//!   the same client until the shared budget of requests or the time limit
//!   runs out. Over HTTP/1.1 the pool opens one connection per task; over
//!   HTTP/2 they share one connection. The figure is completed requests per
//!   second of wall time.
//!
//! Both warm up first (connections open, pools and allocator caches warm)
//! and both are bounded in count and in time. Both run on the caller's
//! runtime: the harness uses one current-thread runtime on its main thread,
//! so the client side is one core's worth of work, as the backend is.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::paths::PathClient;

/// Latency of a sequential run, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Requests measured.
    pub requests: u64,
}

/// Bounds of one measurement.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Requests before measuring.
    pub warmup: u64,
    /// Requests measured, at most.
    pub requests: u64,
    /// Wall time measured, at most.
    pub max_time: Duration,
}

/// A sequential run in progress: one client (so one connection per
/// endpoint) and its histogram, measured in chunks so the harness can
/// interleave the paths chunk by chunk — drift on a shared machine then
/// lands on every path alike instead of on whichever ran during it.
#[derive(Debug)]
pub struct Sequential {
    client: PathClient,
    histogram: Histogram<u64>,
}

impl Sequential {
    /// Warms `client` up with `warmup` requests.
    pub async fn start(client: PathClient, warmup: u64) -> Result<Self, String> {
        for _ in 0..warmup {
            client.send().await?;
        }
        // 1 ns to 60 s at three significant digits.
        let histogram =
            Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| e.to_string())?;
        Ok(Self { client, histogram })
    }

    /// Sends `requests` requests one after the other, timing each.
    pub async fn chunk(&mut self, requests: u64) -> Result<(), String> {
        for _ in 0..requests {
            let sent = Instant::now();
            self.client.send().await?;
            let elapsed = u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.histogram.saturating_record(elapsed);
        }
        Ok(())
    }

    /// The percentiles so far.
    pub fn latency(&self) -> Latency {
        let micros = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1_000.0;
        Latency {
            p50: micros(0.5),
            p99: micros(0.99),
            p999: micros(0.999),
            requests: self.histogram.len(),
        }
    }
}

/// Throughput of a concurrent run.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Completed requests per second.
    pub per_second: f64,
    /// Requests completed.
    pub requests: u64,
}

/// Keeps `in_flight` requests outstanding until `budget.requests` have
/// been issued or `budget.max_time` has passed.
pub async fn concurrent(
    client: &PathClient,
    in_flight: usize,
    budget: Budget,
) -> Result<Throughput, String> {
    // Warm-up opens the connections the measured part will use.
    let warmup = budget.warmup.max(in_flight as u64 * 4);
    run_tasks(client, in_flight, warmup, budget.max_time).await?;
    let started = Instant::now();
    let requests = run_tasks(client, in_flight, budget.requests, budget.max_time).await?;
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Throughput {
        per_second: requests as f64 / elapsed,
        requests,
    })
}

/// Runs `in_flight` looping tasks until `total` requests were issued or
/// `max_time` passed; returns how many completed.
async fn run_tasks(
    client: &PathClient,
    in_flight: usize,
    total: u64,
    max_time: Duration,
) -> Result<u64, String> {
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + max_time;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight.max(1) {
        let (client, issued) = (client.clone(), issued.clone());
        tasks.spawn(async move {
            let mut done = 0u64;
            while issued.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline {
                client.send().await?;
                done += 1;
            }
            Ok::<u64, String>(done)
        });
    }
    let mut completed = 0;
    while let Some(joined) = tasks.join_next().await {
        completed += joined.map_err(|e| e.to_string())??;
    }
    Ok(completed)
}
