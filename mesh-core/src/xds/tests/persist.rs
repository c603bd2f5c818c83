//! The on-disk snapshot: what was accepted comes back and serves.

use std::time::Instant;

use super::fixtures::*;
use crate::xds::{PersistError, Protocol, ResourceStatus, XdsOptions, XdsState};

fn keeping(protocol: Protocol) -> XdsState {
    let options = XdsOptions {
        targets: vec![TARGET.into()],
        keep_raw: true,
        protocol,
        ..Default::default()
    };
    XdsState::new(options, node())
}

#[test]
fn a_restored_snapshot_serves_before_any_server_answers() {
    let now = Instant::now();
    let mut c = keeping(Protocol::StateOfTheWorld);
    c.stream_started(now);
    c.on_response(response(LDS, "1", "l1", vec![listener(TARGET, "rt")]), now);
    c.on_response(
        response(RDS, "1", "r1", vec![route("rt", &[("a", 1)])]),
        now,
    );
    c.on_response(response(CDS, "1", "c1", vec![cluster("a")]), now);
    c.on_response(
        response(EDS, "1", "e1", vec![endpoints("a", &[8000, 8001])]),
        now,
    );
    let bytes = c.persisted().expect("kept");

    let mut fresh = keeping(Protocol::StateOfTheWorld);
    assert_eq!(fresh.restore(&bytes, now).unwrap(), 4);
    let config = fresh.take_config().expect("serves from disk");
    assert_eq!(config.cluster("a").unwrap().endpoints.len(), 2);
    assert_eq!(
        fresh.cache(EDS).entry("a").unwrap().status,
        ResourceStatus::Acked
    );
    let out = sotw(fresh.stream_started(now));
    assert_eq!(out.len(), 4, "subscribes to the whole restored tree");
    assert!(
        out.iter().all(|r| r.version_info.is_empty()),
        "claims no version"
    );
}

#[test]
fn a_damaged_snapshot_is_an_error_not_a_crash() {
    let mut c = keeping(Protocol::StateOfTheWorld);
    assert!(matches!(
        c.restore(b"nonsense", Instant::now()),
        Err(PersistError::BadMagic)
    ));
    let mut bytes = b"MESHXDS1".to_vec();
    bytes.extend([0xff, 0xff, 0x01]);
    assert!(matches!(
        c.restore(&bytes, Instant::now()),
        Err(PersistError::Malformed(_))
    ));
    assert!(c.take_config().is_none());
}

#[test]
fn nothing_is_kept_unless_asked() {
    assert!(client(Protocol::StateOfTheWorld).persisted().is_none());
}
