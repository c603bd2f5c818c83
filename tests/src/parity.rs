//! The parity scenario every binding runs: one engine, the same answers
//! in every language.
//!
//! Three real backends on loopback serve the order-service canary of
//! `shared/fixtures` (v1 twice, v2 once, 80/20, `x-canary: always` to
//! v2, retries on 5xx): `v1-a` answers 503 to 3 of every 10 requests
//! (never 5 in a row, so outlier detection stays out of the picture),
//! the others always 200, each with its name as the body. A runner (Rust
//! here, Go's `bindings/go/cmd/parity`, Python and Java later) sends
//! [`ParityPlan::requests`] GETs through its binding, every 10th with the
//! canary header, and writes a [`ParityReport`]; the backends count what
//! reached them, so the retries each runner's engine made are measured
//! outside it. [`compare`] then holds every runner to the expected split
//! and retry rate and to each other, within tolerances wide enough never
//! to flake (several standard deviations at 2 000 requests).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::faulty::{Behavior, FaultyBackend};

/// The backends' names, in the fixture's endpoint order.
pub const BACKENDS: [&str; 3] = ["v1-a", "v1-b", "v2"];

/// How a runner sends the scenario.
#[derive(Debug, Clone, Copy)]
pub struct ParityPlan {
    /// Requests in all.
    pub requests: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Default for ParityPlan {
    fn default() -> Self {
        Self {
            requests: 2_000,
            concurrency: 8,
        }
    }
}

/// The scenario's backends.
#[derive(Debug)]
pub struct ParityBackends {
    backends: [FaultyBackend; 3],
}

/// The failure pattern of `v1-a`: 3 of every 10 requests.
const FLAKY: Behavior = Behavior::FailEvery {
    status: 503,
    fail: 3,
    of: 10,
};

impl ParityBackends {
    /// Starts the three backends (inside a tokio runtime).
    pub async fn start() -> std::io::Result<Self> {
        Ok(Self {
            backends: [
                FaultyBackend::start(BACKENDS[0], FLAKY).await?,
                FaultyBackend::start(BACKENDS[1], Behavior::Ok).await?,
                FaultyBackend::start(BACKENDS[2], Behavior::Ok).await?,
            ],
        })
    }

    /// The fixture's Istio YAML with these backends' ports, and room for
    /// 64 retries at once (`connectionPool.http.maxRetries`): at 8
    /// requests in flight the default retry budget (20 % of active
    /// requests, at least 3) refuses some of the retries this scenario
    /// needs, which is the budget doing its work, not what parity checks.
    pub fn config_yaml(&self) -> String {
        with_room_for_retries(&mesh_examples::scenario::order_service_yaml(
            self.backends.each_ref().map(|b| b.addr().port()),
        ))
    }

    /// Requests each backend has received so far.
    pub fn received(&self) -> BTreeMap<String, u64> {
        self.backends
            .iter()
            .map(|b| (b.name().to_owned(), b.requests()))
            .collect()
    }

    /// Starts `v1-a`'s failure pattern over, so each runner meets the
    /// same sequence.
    pub fn restart_pattern(&self) {
        self.backends[0].set(FLAKY);
    }
}

/// The order-service fixture with `connectionPool.http.maxRetries: 64`
/// (a fixed cap on concurrent retries instead of the default budget).
pub fn with_room_for_retries(order_service_yaml: &str) -> String {
    let pool = "        http1MaxPendingRequests: 100\n";
    assert!(
        order_service_yaml.contains(pool),
        "the fixture's connection pool moved"
    );
    order_service_yaml.replacen(pool, &format!("{pool}        maxRetries: 64\n"), 1)
}

/// What a runner saw, as it writes it (`bindings/go/cmd/parity` writes
/// the same JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParityReport {
    /// The runner's language.
    pub language: String,
    /// Requests sent.
    pub requests: u64,
    /// Requests answered 200.
    pub ok: u64,
    /// Failed requests by error kind (or status).
    pub errors: BTreeMap<String, u64>,
    /// Answers by the backend that gave them (its body).
    pub backends: BTreeMap<String, u64>,
    /// Requests sent with `x-canary: always`.
    pub canary_sent: u64,
    /// Of those, answered by v2.
    pub canary_on_v2: u64,
}

impl ParityReport {
    /// Reads a runner's JSON.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let count = |v: &Value, key: &str| {
            v.get(key)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("{key:?} is missing or not a count"))
        };
        let counts = |key: &str| -> Result<BTreeMap<String, u64>, String> {
            match value.get(key) {
                None | Some(Value::Null) => Ok(BTreeMap::new()),
                Some(Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| {
                        v.as_u64()
                            .map(|n| (k.clone(), n))
                            .ok_or_else(|| format!("{key}.{k} is not a count"))
                    })
                    .collect(),
                Some(_) => Err(format!("{key:?} is not an object")),
            }
        };
        let canary = value.get("canary").ok_or("\"canary\" is missing")?;
        Ok(Self {
            language: value
                .get("language")
                .and_then(Value::as_str)
                .ok_or("\"language\" is missing")?
                .to_owned(),
            requests: count(&value, "requests")?,
            ok: count(&value, "ok")?,
            errors: counts("errors")?,
            backends: counts("backends")?,
            canary_sent: count(canary, "sent")?,
            canary_on_v2: count(canary, "on_v2")?,
        })
    }

    /// The JSON a runner writes.
    pub fn to_json(&self) -> String {
        json!({
            "language": self.language,
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "backends": self.backends,
            "canary": {"sent": self.canary_sent, "on_v2": self.canary_on_v2},
        })
        .to_string()
    }

    /// The share of requests without the canary header that v2 answered.
    pub fn v2_share_of_split(&self) -> f64 {
        let v2 = self.backends.get("v2").copied().unwrap_or(0) - self.canary_on_v2;
        let split = self.requests - self.canary_sent;
        v2 as f64 / split.max(1) as f64
    }
}

/// A runner's report with what the backends counted while it ran.
#[derive(Debug, Clone)]
pub struct ParityRun {
    /// The runner's own report.
    pub report: ParityReport,
    /// Requests that reached each backend during the run.
    pub received: BTreeMap<String, u64>,
}

impl ParityRun {
    /// Attempts beyond one per request: the retries the engine made.
    pub fn retries(&self) -> u64 {
        self.received.values().sum::<u64>() - self.report.requests
    }

    /// Retries per request.
    pub fn retry_rate(&self) -> f64 {
        self.retries() as f64 / self.report.requests.max(1) as f64
    }
}

/// Runs one runner against `backends`: restarts the failure pattern,
/// lets `run` send the scenario, and adds what reached the backends.
pub fn measure(
    backends: &ParityBackends,
    run: impl FnOnce() -> Result<ParityReport, String>,
) -> Result<ParityRun, String> {
    backends.restart_pattern();
    let before = backends.received();
    let report = run()?;
    let after = backends.received();
    let received = after
        .iter()
        .map(|(name, n)| (name.clone(), n - before.get(name).copied().unwrap_or(0)))
        .collect();
    Ok(ParityRun { report, received })
}

/// The split's expected v2 share, and how far a run may stray from it.
const V2_SHARE: f64 = 0.20;
const V2_TOLERANCE: f64 = 0.06;
/// Expected retries per request: 90 % of requests take the split, 80 %
/// of those go to v1, half of those to v1-a, which fails 30 %; each
/// failure is retried once, on v1-b.
const RETRY_RATE: f64 = 0.9 * 0.8 * 0.5 * 0.3;
const RETRY_TOLERANCE: f64 = 0.04;

/// Checks each run against the scenario and all runs against each other;
/// returns every violation found.
pub fn compare(runs: &[ParityRun]) -> Vec<String> {
    let mut problems = Vec::new();
    for run in runs {
        let r = &run.report;
        let who = &r.language;
        if r.ok != r.requests {
            problems.push(format!(
                "{who}: {} of {} requests failed ({:?}): retries should mask v1-a's 503s",
                r.requests - r.ok,
                r.requests,
                r.errors
            ));
        }
        if r.canary_on_v2 != r.canary_sent {
            problems.push(format!(
                "{who}: {} of {} canary requests reached v2",
                r.canary_on_v2, r.canary_sent
            ));
        }
        let share = r.v2_share_of_split();
        if (share - V2_SHARE).abs() > V2_TOLERANCE {
            problems.push(format!(
                "{who}: v2 took {share:.3} of the split, not 0.20 ± {V2_TOLERANCE}"
            ));
        }
        let rate = run.retry_rate();
        if (rate - RETRY_RATE).abs() > RETRY_TOLERANCE {
            problems.push(format!(
                "{who}: {rate:.3} retries per request, not {RETRY_RATE:.3} ± {RETRY_TOLERANCE}"
            ));
        }
    }
    for pair in runs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (sa, sb) = (a.report.v2_share_of_split(), b.report.v2_share_of_split());
        if (sa - sb).abs() > V2_TOLERANCE {
            problems.push(format!(
                "{} and {} split differently: v2 share {sa:.3} and {sb:.3}",
                a.report.language, b.report.language
            ));
        }
        let (ra, rb) = (a.retry_rate(), b.retry_rate());
        if (ra - rb).abs() > RETRY_TOLERANCE {
            problems.push(format!(
                "{} and {} retried differently: {ra:.3} and {rb:.3} per request",
                a.report.language, b.report.language
            ));
        }
    }
    problems
}

/// The Rust runner: the scenario through `mesh_engine::Engine`, from
/// `plan.concurrency` plain threads, as a binding's callers would.
/// Call it outside any tokio runtime.
pub fn run_rust(config: &Path, plan: ParityPlan) -> Result<ParityReport, String> {
    use mesh_engine::{ConfigFormat, ConfigSource, Engine, EngineOptions, HttpRequest};

    let engine = Engine::new(
        ConfigSource::StaticFile {
            path: config.to_owned(),
            format: ConfigFormat::Auto,
        },
        EngineOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let report = Mutex::new(ParityReport {
        language: "rust".to_owned(),
        requests: plan.requests as u64,
        ok: 0,
        errors: BTreeMap::new(),
        backends: BTreeMap::new(),
        canary_sent: 0,
        canary_on_v2: 0,
    });
    std::thread::scope(|scope| {
        for worker in 0..plan.concurrency {
            let (engine, report) = (&engine, &report);
            scope.spawn(move || {
                for i in (worker..plan.requests).step_by(plan.concurrency) {
                    let canary = i % 10 == 0;
                    let url = format!("http://order-service/orders/{i}");
                    let mut request =
                        HttpRequest::new(b"GET", url.as_bytes()).expect("a valid request");
                    if canary {
                        request
                            .add_header(b"x-canary", b"always")
                            .expect("a valid header");
                    }
                    let result = engine.execute(&request, None);
                    let mut report = report.lock().unwrap_or_else(|p| p.into_inner());
                    report.canary_sent += u64::from(canary);
                    match result {
                        Ok(response) if response.status == 200 => {
                            let name = String::from_utf8_lossy(&response.body).into_owned();
                            report.ok += 1;
                            report.canary_on_v2 += u64::from(canary && name == "v2");
                            *report.backends.entry(name).or_default() += 1;
                        }
                        Ok(response) => {
                            *report
                                .errors
                                .entry(response.status.as_u16().to_string())
                                .or_default() += 1;
                        }
                        Err(e) => *report.errors.entry(e.kind().to_string()).or_default() += 1,
                    }
                }
            });
        }
    });
    engine.close();
    Ok(report.into_inner().unwrap_or_else(|p| p.into_inner()))
}
