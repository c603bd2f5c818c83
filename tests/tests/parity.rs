//! The parity scenario with the Rust runner, twice against the same
//! backends: each run meets the scenario (split, header route, 503s
//! masked by retries at the expected rate) and the two agree. The
//! cross-language run (`cargo run -p mesh-tests --bin parity -- --go
//! bindings/go`) holds the bindings to the same checks.

use mesh_tests::parity::{self, ParityBackends, ParityPlan};

#[test]
fn two_engines_meet_the_scenario_and_agree() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the backends");
    let backends = runtime
        .block_on(ParityBackends::start())
        .expect("the backends start");
    let dir = std::env::temp_dir().join(format!("mesh-parity-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("order-service.yaml");
    std::fs::write(&config, backends.config_yaml()).unwrap();

    let plan = ParityPlan::default();
    let runs: Vec<_> = (0..2)
        .map(|_| parity::measure(&backends, || parity::run_rust(&config, plan)).unwrap())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    for run in &runs {
        assert_eq!(run.report.requests, 2_000);
        assert!(run.retries() > 0, "v1-a's 503s were retried: {run:?}");
    }
    let problems = parity::compare(&runs);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn reports_read_back_what_runners_write() {
    let report = parity::ParityReport {
        language: "go".into(),
        requests: 10,
        ok: 9,
        errors: [("timeout".to_owned(), 1)].into(),
        backends: [("v1-a".to_owned(), 5), ("v2".to_owned(), 4)].into(),
        canary_sent: 1,
        canary_on_v2: 1,
    };
    assert_eq!(
        parity::ParityReport::from_json(&report.to_json()),
        Ok(report)
    );
    assert!(parity::ParityReport::from_json("{\"language\": \"go\"}").is_err());
}
