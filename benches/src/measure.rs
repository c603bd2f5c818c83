//! The measurement plan and the runs of the paths: every repetition runs
//! every path once per protocol (sequential in both setups, then concurrent
//! in the two-thread setup), and the report gets the medians.
//!
//! Repetitions are interleaved across paths rather than run path after
//! path, and sequential runs go further: the paths take turns every
//! [`Plan::chunks`]-th of their requests. On a shared machine a slow
//! minute then hurts every path alike, and the ratios between paths stay
//! meaningful. Every run is bounded in count and in time; a path that
//! fails (a proxy that stops answering) is reported as failed and not run
//! again, rather than failing the whole run.

use std::time::{Duration, Instant};

use crate::backend::Setup;
use crate::paths::{Path, PathKind, Protocol};
use crate::report::{LatencyTable, Row, RunSettings};
use crate::stats::median;
use crate::workload::{self, Budget, Latency, Sequential};

/// The measurement plan: full or smoke.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Repetitions of every latency and throughput measurement.
    pub reps: usize,
    /// Each sequential run.
    pub sequential: Budget,
    /// Sequential requests are sent in this many turns per path.
    pub chunks: u64,
    /// Each concurrent run.
    pub concurrent: Budget,
    /// Requests in flight in a concurrent run.
    pub in_flight: usize,
    /// Clusters of the scale runs.
    pub scale_sizes: Vec<usize>,
    /// Repetitions of every apply-time measurement.
    pub scale_reps: usize,
    /// A smoke run.
    pub smoke: bool,
}

impl Plan {
    /// The plan of a smoke run (`smoke`) or a full one.
    pub fn new(smoke: bool) -> Self {
        if smoke {
            Plan {
                reps: 1,
                sequential: budget(20, 200, 1.0),
                chunks: 2,
                concurrent: budget(0, 400, 1.0),
                in_flight: 16,
                scale_sizes: vec![100],
                scale_reps: 1,
                smoke,
            }
        } else {
            Plan {
                reps: 5,
                sequential: budget(2_000, 20_000, 4.0),
                chunks: 20,
                concurrent: budget(0, 300_000, 3.0),
                in_flight: 64,
                scale_sizes: vec![100, 1_000, 5_000],
                scale_reps: 3,
                smoke,
            }
        }
    }

    /// How the report describes it.
    pub fn settings(&self) -> RunSettings {
        RunSettings {
            reps: self.reps,
            sequential: (
                self.sequential.warmup,
                self.sequential.requests,
                self.sequential.max_time.as_secs_f64(),
            ),
            sequential_chunk: self.sequential.requests.div_ceil(self.chunks),
            concurrent: (
                self.in_flight,
                self.concurrent.requests,
                self.concurrent.max_time.as_secs_f64(),
            ),
            scale_reps: self.scale_reps,
            smoke: self.smoke,
        }
    }
}

fn budget(warmup: u64, requests: u64, seconds: f64) -> Budget {
    Budget {
        warmup,
        requests,
        max_time: Duration::from_secs_f64(seconds),
    }
}

/// The paths of one setup, and the sidecar paths that could not run there.
#[derive(Debug)]
pub struct SetupPaths {
    /// Where the backend runs.
    pub setup: Setup,
    /// The paths that can run.
    pub paths: Vec<Path>,
    /// The paths that cannot, and why.
    pub unavailable: Vec<(PathKind, String)>,
}

/// What one path collected over the repetitions, per protocol.
#[derive(Debug, Default)]
struct Samples {
    latency: [Vec<Latency>; 2],
    latency_error: [Option<String>; 2],
    throughput: [Vec<f64>; 2],
    throughput_error: [Option<String>; 2],
}

/// Runs every repetition, interleaving the paths, and returns medians:
/// latency in every setup, throughput in the first (two threads). A path
/// that fails once is not measured again in that mode and protocol.
pub async fn measure(setups: &[SetupPaths], plan: &Plan) -> (Vec<LatencyTable>, Vec<Row<f64>>) {
    let mut samples: Vec<Vec<Samples>> = setups
        .iter()
        .map(|s| s.paths.iter().map(|_| Samples::default()).collect())
        .collect();
    // Generous, but bounded: a hung proxy cannot stall the run.
    let limit = plan.concurrent.max_time * 6 + Duration::from_secs(20);
    for rep in 0..plan.reps {
        eprintln!("run {}/{}", rep + 1, plan.reps);
        for (setup, samples) in setups.iter().zip(&mut samples) {
            for protocol in Protocol::ALL {
                sequential_round(&setup.paths, samples, protocol, plan).await;
            }
        }
        let (Some(setup), Some(samples)) = (setups.first(), samples.first_mut()) else {
            continue;
        };
        for protocol in Protocol::ALL {
            let p = protocol.index();
            for (path, s) in setup.paths.iter().zip(samples.iter_mut()) {
                if s.throughput_error[p].is_some() {
                    continue;
                }
                let run = async {
                    let client = path.client(protocol)?;
                    workload::concurrent(&client, plan.in_flight, plan.concurrent).await
                };
                match bounded(limit, run).await {
                    Ok(t) => s.throughput[p].push(t.per_second),
                    Err(e) => fail(&mut s.throughput_error[p], path, protocol, "concurrent", e),
                }
            }
        }
    }
    let latency = setups
        .iter()
        .zip(&samples)
        .map(|(setup, samples)| LatencyTable {
            setup: setup.setup,
            rows: setup
                .paths
                .iter()
                .zip(samples)
                .map(|(path, s)| Row {
                    kind: path.kind,
                    by_protocol: [0, 1].map(|p| match &s.latency_error[p] {
                        Some(e) => Err(e.clone()),
                        None if s.latency[p].is_empty() => Err("not measured".into()),
                        None => Ok(median_latency(&s.latency[p])),
                    }),
                })
                .chain(unavailable(setup))
                .collect(),
        })
        .collect();
    let throughput = setups
        .first()
        .zip(samples.first())
        .map(|(setup, samples)| {
            setup
                .paths
                .iter()
                .zip(samples)
                .map(|(path, s)| Row {
                    kind: path.kind,
                    by_protocol: [0, 1].map(|p| match &s.throughput_error[p] {
                        Some(e) => Err(e.clone()),
                        None if s.throughput[p].is_empty() => Err("not measured".into()),
                        None => Ok(median(&s.throughput[p])),
                    }),
                })
                .chain(unavailable(setup))
                .collect()
        })
        .unwrap_or_default();
    (latency, throughput)
}

/// One repetition of the sequential runs of `protocol`: every path warms
/// up its own client, then the paths take turns chunk by chunk until each
/// has sent its requests (or the time is up, at a turn's end, so every path
/// gets the same number of chunks).
async fn sequential_round(
    paths: &[Path],
    samples: &mut [Samples],
    protocol: Protocol,
    plan: &Plan,
) {
    let p = protocol.index();
    let budget = plan.sequential;
    let limit = budget.max_time * 3 + Duration::from_secs(10);
    let mut runs = Vec::new();
    for (i, (path, s)) in paths.iter().zip(samples.iter_mut()).enumerate() {
        if s.latency_error[p].is_some() {
            continue;
        }
        let start = async {
            let client = path.client(protocol)?;
            Sequential::start(client, budget.warmup).await
        };
        match bounded(limit, start).await {
            Ok(run) => runs.push((i, run)),
            Err(e) => fail(&mut s.latency_error[p], path, protocol, "sequential", e),
        }
    }
    let chunk = budget.requests.div_ceil(plan.chunks).max(1);
    let deadline = Instant::now() + budget.max_time * paths.len() as u32;
    for _ in 0..plan.chunks {
        let mut index = 0;
        while index < runs.len() {
            let (i, run) = &mut runs[index];
            match bounded(limit, run.chunk(chunk)).await {
                Ok(()) => index += 1,
                Err(e) => {
                    let i = *i;
                    fail(
                        &mut samples[i].latency_error[p],
                        &paths[i],
                        protocol,
                        "sequential",
                        e,
                    );
                    runs.remove(index);
                }
            }
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    for (i, run) in runs {
        samples[i].latency[p].push(run.latency());
    }
}

fn fail(slot: &mut Option<String>, path: &Path, protocol: Protocol, mode: &str, e: String) {
    eprintln!("  {} {}: {mode} failed: {e}", path.kind, protocol.label());
    *slot = Some(format!("failed: {e}"));
}

/// Rows saying why the paths that could not run in `setup` have no figure.
fn unavailable<T>(setup: &SetupPaths) -> impl Iterator<Item = Row<T>> + '_ {
    setup.unavailable.iter().map(|(kind, why)| Row {
        kind: *kind,
        by_protocol: [Err(why.clone()), Err(why.clone())],
    })
}

async fn bounded<T>(
    limit: Duration,
    run: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(limit, run)
        .await
        .map_err(|_| format!("timed out after {limit:?}"))?
}

fn median_latency(runs: &[Latency]) -> Latency {
    let of = |f: fn(&Latency) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    Latency {
        p50: of(|l| l.p50),
        p99: of(|l| l.p99),
        p999: of(|l| l.p999),
        requests: runs.iter().map(|l| l.requests).sum(),
    }
}
