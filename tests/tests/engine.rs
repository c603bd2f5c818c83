//! The engine facade end to end, as the bindings use it: plain threads
//! calling a blocking API, real backends on loopback, a real control
//! plane for the xDS source.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mesh_engine::{
    Cancel, ConfigFormat, ConfigSource, Engine, EngineOptions, ErrorKind, Failure, HttpRequest,
    Outcome, PolicySource,
};
use mesh_examples::scenario::order_service_yaml;
use mesh_tests::canary::{self, CanaryBackends, TARGET};
use mesh_tests::control_plane::ControlPlane;
use mesh_tests::engine_scenario::{EngineScenario as Scenario, canary, get};
use mesh_tests::faulty::Behavior;
use mesh_tests::xds_resources::canary_scenario;
use tokio::runtime::Runtime;

#[test]
fn execute_routes_splits_and_masks_failures_from_many_threads() {
    let scenario = Scenario::start([
        Behavior::FailEvery {
            status: 503,
            fail: 1,
            of: 5,
        },
        Behavior::Ok,
        Behavior::Ok,
    ]);
    let engine = Arc::new(scenario.engine(EngineOptions::default()));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut v2 = 0;
                for i in 0..100 {
                    let response = engine
                        .execute(&get(&format!("http://order-service/orders/{i}")), None)
                        .expect("every request is answered");
                    assert_eq!(response.status, 200, "retries mask v1-a's 503s");
                    v2 += usize::from(&response.body[..] == b"v2");
                    assert_eq!(
                        response.cluster.as_deref(),
                        Some("outbound|80||order-service")
                    );
                }
                v2
            })
        })
        .collect();
    let v2: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!((100..260).contains(&v2), "{v2} of 800 went to v2 (20 %)");
    for _ in 0..20 {
        let response = engine
            .execute(&canary("http://order-service/"), None)
            .unwrap();
        assert_eq!(&response.body[..], b"v2");
        assert!(
            response
                .headers
                .iter()
                .any(|(name, value)| name == "x-backend" && value == "v2")
        );
    }

    let metrics = engine.metrics_text().unwrap();
    assert!(
        metrics.contains(
            "mesh_engine_requests_total{mode=\"execute\",cluster=\"outbound|80||order-service\",result=\"200\"} 820"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("mesh_cluster_endpoints{cluster=\"outbound|80||order-service\"} 3"));
    let dump: serde_json::Value = serde_json::from_str(&engine.config_dump().unwrap()).unwrap();
    assert_eq!(
        dump["clusters"][0]["endpoints"].as_array().unwrap().len(),
        3
    );
    assert_eq!(dump["listeners"].as_array().unwrap().len(), 1);
    drop(scenario.runtime);
}

#[test]
fn a_call_ends_at_its_timeout_or_when_cancelled() {
    let scenario = Scenario::start([Behavior::Hang, Behavior::Hang, Behavior::Hang]);
    let engine = scenario.engine(EngineOptions::default());

    let mut request = get("http://order-service/slow");
    request.set_timeout(Some(Duration::from_millis(100)));
    let started = Instant::now();
    let error = engine.execute(&request, None).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "the call's own timeout ended it"
    );

    let cancel = Cancel::new();
    let firing = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            cancel.fire();
        })
    };
    let started = Instant::now();
    let error = engine
        .execute(&get("http://order-service/slow"), Some(&cancel))
        .unwrap_err();
    firing.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    assert!(started.elapsed() < Duration::from_millis(700));
    drop(scenario.runtime);
}

#[test]
fn closing_ends_calls_in_flight_and_refuses_later_ones() {
    let scenario = Scenario::start([Behavior::Hang, Behavior::Hang, Behavior::Hang]);
    let engine = Arc::new(scenario.engine(EngineOptions::default()));
    let in_flight = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.execute(&get("http://order-service/"), None))
    };
    std::thread::sleep(Duration::from_millis(50));
    engine.close();
    let error = in_flight.join().unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Closed, "{error}");
    assert_eq!(
        engine
            .execute(&get("http://order-service/"), None)
            .unwrap_err()
            .kind(),
        ErrorKind::Closed
    );
    assert_eq!(engine.config_dump().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(
        engine
            .resolve(&get("http://order-service/"))
            .unwrap_err()
            .kind(),
        ErrorKind::Closed
    );
    engine.close();
    drop(scenario.runtime);
}

#[test]
fn bodies_over_the_limit_are_refused_both_ways() {
    let scenario = Scenario::start([Behavior::Ok, Behavior::Ok, Behavior::Ok]);
    let engine = scenario.engine(EngineOptions {
        max_body_bytes: 3,
        ..EngineOptions::default()
    });
    let mut request = HttpRequest::new(b"POST", b"http://order-service/orders").unwrap();
    request.set_body(bytes::Bytes::from_static(b"four"));
    assert_eq!(
        engine.execute(&request, None).unwrap_err().kind(),
        ErrorKind::BodyTooLarge
    );
    // Every backend answers with its name: at least 2 bytes, "v2".
    let error = engine.execute(&get("http://order-service/"), None);
    match error {
        Ok(response) => assert_eq!(&response.body[..], b"v2"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::BodyTooLarge, "{e}"),
    }
    let answered_by_v1 = (0..20)
        .filter_map(|_| engine.execute(&get("http://order-service/"), None).err())
        .next()
        .expect("a v1 answer (4 bytes) is over the limit");
    assert_eq!(answered_by_v1.kind(), ErrorKind::BodyTooLarge);
    drop(scenario.runtime);
}

#[test]
fn decide_mode_retries_a_host_failure_on_another_endpoint() {
    let scenario = Scenario::start([Behavior::Status(503), Behavior::Ok, Behavior::Ok]);
    let engine = scenario.engine(EngineOptions::default());
    let v1_a = scenario.backends[0].addr().to_string();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    // The host's own transport: hyper, with the decision's endpoint and
    // authority.
    let send = |decision: &mesh_engine::Decision| -> u16 {
        let request = http::Request::get(format!("http://{}/orders/1", decision.endpoint()))
            .header("host", decision.authority())
            .body(http_body_util::Empty::new())
            .unwrap();
        scenario
            .runtime
            .block_on(client.request(request))
            .expect("the endpoint answers")
            .status()
            .as_u16()
    };
    let mut retried = 0;
    for _ in 0..40 {
        let mut decision = engine
            .resolve(&get("http://order-service/orders/1"))
            .unwrap();
        assert_eq!(decision.authority(), "order-service");
        loop {
            let status = send(&decision);
            let outcome = Outcome::response(status, http::HeaderMap::new()).unwrap();
            let failed_on = decision.endpoint().to_owned();
            match engine.report(decision, &outcome).unwrap() {
                Some(next) => {
                    assert_eq!(failed_on, v1_a, "only v1-a fails");
                    assert_ne!(next.endpoint(), v1_a, "the retry avoids it");
                    assert_eq!(next.attempt(), 2);
                    retried += 1;
                    decision = next;
                }
                None => {
                    assert_eq!(status, 200);
                    break;
                }
            }
        }
    }
    assert!(retried > 0, "some first attempts went to v1-a");
    let metrics = engine.metrics_text().unwrap();
    assert!(metrics.contains(&format!(
        "mesh_engine_retries_total{{mode=\"decide\",cluster=\"outbound|80||order-service\"}} {retried}"
    )), "{metrics}");
    // Istio's metrics count each decided request once, by its answer.
    let istio: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("istio_requests_total{") && l.contains("response_code=\"200\""))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(istio, 40, "{metrics}");
    assert!(
        !metrics.contains("response_code=\"503\""),
        "retried attempts are not requests"
    );

    // A connection failure is reported as such, and retried too.
    let decision = engine.resolve(&get("http://order-service/")).unwrap();
    assert!(
        engine
            .report(decision, &Outcome::Failure(Failure::Connect))
            .unwrap()
            .is_some()
    );
    drop(scenario.runtime);
}

#[test]
fn invalid_configuration_is_refused_with_the_field_named() {
    let refused = |source: ConfigSource, options: EngineOptions| {
        Engine::new(source, options).expect_err("refused")
    };
    let bad_weight = order_service_yaml([1, 2, 3]).replace("weight: 80", "weight: -80");
    let error = refused(
        ConfigSource::Static {
            text: bad_weight,
            format: ConfigFormat::Auto,
        },
        EngineOptions::default(),
    );
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
    assert!(error.message().contains("weight"), "{error}");

    let error = refused(
        ConfigSource::Static {
            text: order_service_yaml([1, 2, 3]),
            format: ConfigFormat::Auto,
        },
        EngineOptions {
            policy: Some(PolicySource {
                json: r#"{"service_timeout_ms": 800, "max_retries": 3, "backoff_strategy": "sideways", "jitter_enabled": true}"#.into(),
                host: "order-service".into(),
            }),
            ..EngineOptions::default()
        },
    );
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
    assert!(error.message().contains("backoff_strategy"), "{error}");

    let error = refused(
        ConfigSource::StaticFile {
            path: "/nonexistent/mesh.yaml".into(),
            format: ConfigFormat::Auto,
        },
        EngineOptions::default(),
    );
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid);

    let error = refused(
        ConfigSource::Xds {
            bootstrap: Some("{}".into()),
            targets: vec![TARGET.into()],
            ready_timeout: Duration::ZERO,
        },
        EngineOptions::default(),
    );
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");

    let error = refused(
        ConfigSource::Static {
            text: order_service_yaml([1, 2, 3]),
            format: ConfigFormat::Auto,
        },
        EngineOptions {
            max_body_bytes: 0,
            ..EngineOptions::default()
        },
    );
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn an_engine_over_xds_serves_what_the_control_plane_sends() {
    let runtime = Runtime::new().unwrap();
    let (backends, cp) = runtime.block_on(async {
        let backends = CanaryBackends::start().await;
        let cp = ControlPlane::start().await;
        cp.set_all(canary_scenario(
            TARGET,
            &backends.v1_addrs(),
            &backends.v2_addrs(),
            (0, 100),
        ));
        (backends, cp)
    });
    let engine = Engine::new(
        ConfigSource::Xds {
            bootstrap: Some(canary::bootstrap_json(&[cp.addr()], &["xds_v3"])),
            targets: vec![TARGET.into()],
            ready_timeout: Duration::from_secs(10),
        },
        EngineOptions::default(),
    )
    .expect("the engine starts");
    for _ in 0..10 {
        let response = engine.execute(&get("http://order-service/"), None).unwrap();
        assert_eq!(&response.body[..], b"v2");
    }
    let dump: serde_json::Value = serde_json::from_str(&engine.config_dump().unwrap()).unwrap();
    assert!(
        dump["xds"].is_object(),
        "the xDS client's status is in the dump"
    );
    engine.close();
    drop((backends, cp));
}

#[test]
fn execute_refuses_to_block_inside_an_async_runtime() {
    let scenario = Scenario::start([Behavior::Ok, Behavior::Ok, Behavior::Ok]);
    let engine = scenario.engine(EngineOptions::default());
    let error = scenario
        .runtime
        .block_on(async { engine.execute(&get("http://order-service/"), None) })
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    engine.close();
}

#[test]
fn connections_keep_their_timers_while_no_call_is_in_flight() {
    let scenario = Scenario::start([Behavior::Ok, Behavior::Ok, Behavior::Ok]);
    let pool = "        http1MaxPendingRequests: 100\n";
    let yaml = scenario
        .yaml()
        .replacen(pool, &format!("{pool}        idleTimeout: 100ms\n"), 1);
    let engine = Engine::new(
        ConfigSource::Static {
            text: yaml,
            format: ConfigFormat::Istio,
        },
        EngineOptions::default(),
    )
    .unwrap();
    let mut canary_request = canary("http://order-service/");
    canary_request.set_timeout(Some(Duration::from_secs(5)));
    engine.execute(&canary_request, None).unwrap();
    let v2 = &scenario.backends[2];
    assert_eq!(v2.connections_open(), 1);
    // No caller drives the requests' runtime now: the idle driver runs
    // the connection's idle timer, which closes it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while v2.connections_open() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        v2.connections_open(),
        0,
        "the idle connection was closed after 100 ms"
    );
    engine.close();
    drop(scenario.runtime);
}

#[test]
fn submitted_calls_answer_through_their_callback_without_blocking() {
    let scenario = Scenario::start([Behavior::Ok, Behavior::Ok, Behavior::Ok]);
    let engine = scenario.engine(EngineOptions::default());
    let (sender, answers) = std::sync::mpsc::channel();
    let total = 200;
    for i in 0..total {
        let request = if i % 10 == 0 {
            canary("http://order-service/orders")
        } else {
            get("http://order-service/orders")
        };
        let sender = sender.clone();
        engine
            .submit(&request, Cancel::new(), move |result| {
                let _ = sender.send((i % 10 == 0, result));
            })
            .expect("the call starts");
    }
    drop(sender);
    let mut answered = 0;
    for (is_canary, result) in answers.iter().take(total) {
        let response = result.expect("a response");
        assert_eq!(response.status, 200);
        if is_canary {
            assert_eq!(
                response.body.as_ref(),
                b"v2",
                "the canary header routes to v2"
            );
        }
        answered += 1;
    }
    assert_eq!(answered, total, "every callback ran once");
    let metrics = engine.metrics_text().unwrap();
    assert!(metrics.contains(r#"mode="submit""#), "{metrics}");
    drop(scenario.runtime);
}

#[test]
fn submitted_calls_end_when_cancelled_or_when_the_engine_closes() {
    let scenario = Scenario::start([Behavior::Hang, Behavior::Hang, Behavior::Hang]);
    let engine = scenario.engine(EngineOptions::default());
    let (sender, answers) = std::sync::mpsc::channel();

    let cancel = Cancel::new();
    let first = sender.clone();
    engine
        .submit(&get("http://order-service/"), cancel.clone(), move |r| {
            let _ = first.send(r);
        })
        .unwrap();
    cancel.fire();
    let error = answers
        .recv_timeout(Duration::from_secs(5))
        .expect("the cancelled call answers")
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");

    for _ in 0..3 {
        let sender = sender.clone();
        engine
            .submit(&get("http://order-service/"), Cancel::new(), move |r| {
                let _ = sender.send(r);
            })
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    engine.close();
    for _ in 0..3 {
        let error = answers
            .recv_timeout(Duration::from_secs(5))
            .expect("closing answers every call in flight")
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Closed, "{error}");
    }
    let refused = engine.submit(&get("http://order-service/"), Cancel::new(), |_| {
        unreachable!("a refused call is not answered through its callback")
    });
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::Closed);
    drop(scenario.runtime);
}

#[test]
fn an_interruptible_call_asks_its_hook_while_it_waits() {
    let scenario = Scenario::start([Behavior::Hang, Behavior::Hang, Behavior::Hang]);
    let engine = scenario.engine(EngineOptions::default());
    let mut asked = 0;
    let error = engine
        .execute_interruptible(
            &get("http://order-service/"),
            None,
            Duration::from_millis(10),
            &mut || {
                asked += 1;
                asked == 3
            },
        )
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    assert_eq!(asked, 3, "the call ended at the first `true`");

    let scenario_ok = Scenario::start([Behavior::Ok, Behavior::Ok, Behavior::Ok]);
    let engine_ok = scenario_ok.engine(EngineOptions::default());
    let response = engine_ok
        .execute_interruptible(
            &get("http://order-service/"),
            None,
            Duration::from_secs(60),
            &mut || true,
        )
        .expect("a call that ends first is not interrupted");
    assert_eq!(response.status, 200);

    // The hook runs outside the engine's locks: it may close the engine.
    let error = engine
        .execute_interruptible(
            &get("http://order-service/"),
            None,
            Duration::from_millis(10),
            &mut || {
                engine.close();
                false
            },
        )
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Closed, "{error}");
    drop(scenario.runtime);
    drop(scenario_ok.runtime);
}
