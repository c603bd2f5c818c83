//! Property tests over decoding and the response-handling sequence:
//! arbitrary bytes, valid resources with random bytes flipped or cut,
//! and random interleavings of responses (both variants), stream losses
//! and timers must never panic, must answer every response of a known
//! type with at most one ACK or NACK first, and must only ever publish a
//! configuration whose every listener has its route table and every
//! route its clusters (which `MeshConfigBuilder::build` checks).

use std::time::{Duration, Instant};

use envoy_types::pb::google::protobuf::Any;
use proptest::prelude::*;

use super::fixtures::*;
use crate::xds::{Outgoing, Protocol, ResourceType, XdsState, resource::decode};

/// Valid resources of every type, over a small set of names so that
/// random sequences hit the same ones.
fn pool() -> Vec<(ResourceType, &'static str, Any)> {
    vec![
        (LDS, TARGET, listener(TARGET, "r1")),
        (LDS, TARGET, listener(TARGET, "r2")),
        (LDS, "other:80", listener("other:80", "r1")),
        (RDS, "r1", route("r1", &[("a", 1)])),
        (RDS, "r1", route("r1", &[("a", 3), ("b", 1)])),
        (RDS, "r2", route("r2", &[("b", 1), ("c", 1)])),
        (CDS, "a", cluster("a")),
        (CDS, "b", cluster("b")),
        (CDS, "c", cluster("c")),
        (EDS, "a", endpoints("a", &[8000])),
        (EDS, "b", endpoints("b", &[8001, 8002])),
        (EDS, "c", endpoints("c", &[8003])),
        (EDS, "b", endpoints("b", &[70000])),
    ]
}

/// A resource from the pool, possibly damaged.
fn resource() -> impl Strategy<Value = (ResourceType, String, Any)> {
    let pool = pool();
    (0..pool.len(), any::<u8>(), any::<usize>(), any::<u8>()).prop_map(
        move |(i, damage, at, byte)| {
            let (ty, name, mut any) = pool[i].clone();
            match damage % 8 {
                0 if !any.value.is_empty() => {
                    let at = at % any.value.len();
                    any.value[at] = byte;
                }
                1 => any.value.truncate(at % (any.value.len() + 1)),
                2 => any.type_url = ResourceType::ALL[at % 4].type_url().to_owned(),
                _ => {}
            }
            (ty, name.to_owned(), any)
        },
    )
}

#[derive(Debug, Clone)]
enum Event {
    Response {
        ty: usize,
        resources: Vec<(ResourceType, String, Any)>,
        removed: Vec<String>,
    },
    Lost,
    Started,
    Tick(u64),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => (0..4usize, prop::collection::vec(resource(), 0..4), prop::collection::vec(
            prop::sample::select(vec!["a", "b", "c", "r1", "r2", TARGET]).prop_map(str::to_owned), 0..2))
            .prop_map(|(ty, resources, removed)| Event::Response { ty, resources, removed }),
        1 => Just(Event::Lost),
        1 => Just(Event::Started),
        1 => (0..20_000u64).prop_map(Event::Tick),
    ]
}

fn run(protocol: Protocol, events: Vec<Event>) {
    let mut c: XdsState = client(protocol);
    let mut now = Instant::now();
    let mut connected = true;
    c.stream_started(now);
    for (n, event) in events.into_iter().enumerate() {
        match event {
            Event::Response {
                ty,
                resources,
                removed,
            } => {
                if !connected {
                    continue;
                }
                let ty = ResourceType::ALL[ty];
                let nonce = format!("n{n}");
                let out = match protocol {
                    Protocol::StateOfTheWorld => {
                        let anys = resources.into_iter().map(|(_, _, a)| a).collect();
                        c.on_response(response(ty, &format!("v{n}"), &nonce, anys), now)
                    }
                    Protocol::Delta => {
                        let named: Vec<(&str, &str, Any)> = resources
                            .iter()
                            .map(|(_, name, any)| (name.as_str(), "x", any.clone()))
                            .collect();
                        let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
                        c.on_delta_response(delta_response(ty, &nonce, named, &removed), now)
                    }
                };
                let answers = out
                    .iter()
                    .filter(|o| match o {
                        Outgoing::Sotw(r) => {
                            r.response_nonce == nonce && r.type_url == ty.type_url()
                        }
                        Outgoing::Delta(r) => r.response_nonce == nonce,
                    })
                    .count();
                assert!(answers <= 1, "one answer per response: {out:#?}");
            }
            Event::Lost => {
                c.stream_lost();
                connected = false;
            }
            Event::Started => {
                c.stream_started(now);
                connected = true;
            }
            Event::Tick(ms) => {
                now += Duration::from_millis(ms);
                c.on_timer(now);
            }
        }
        if let Some(config) = c.take_config() {
            for l in config.listeners() {
                assert!(config.route_table(&l.route_table).is_some());
            }
        }
    }
    let _ = c.config_dump(now, std::time::SystemTime::now());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), ty in 0..4usize) {
        for url in ResourceType::ALL.map(ResourceType::type_url) {
            let any = Any { type_url: url.to_owned(), value: bytes.clone() };
            let _ = decode(ResourceType::ALL[ty], &any);
        }
    }

    #[test]
    fn damaged_resources_decode_or_fail_cleanly((ty, _, any) in resource()) {
        let _ = decode(ty, &any);
    }

    #[test]
    fn any_sotw_sequence_is_handled(events in prop::collection::vec(event(), 1..40)) {
        run(Protocol::StateOfTheWorld, events);
    }

    #[test]
    fn any_delta_sequence_is_handled(events in prop::collection::vec(event(), 1..40)) {
        run(Protocol::Delta, events);
    }
}
