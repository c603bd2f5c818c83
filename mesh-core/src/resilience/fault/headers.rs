//! The request headers that control header faults (Envoy's
//! `x-envoy-fault-*`), read as Envoy reads them: a value that is missing
//! or does not parse as a non-negative integer means "no such fault"
//! (for a percentage: "the configured one").

use std::time::Duration;

use http::HeaderMap;

use crate::config::{AbortCode, Fraction};

/// The delay, in milliseconds.
pub const DELAY: &str = "x-envoy-fault-delay-request";
/// The share of requests delayed, a numerator.
pub const DELAY_PERCENTAGE: &str = "x-envoy-fault-delay-request-percentage";
/// The HTTP status to abort with, in `200..600`.
pub const ABORT: &str = "x-envoy-fault-abort-request";
/// The gRPC status to abort with (any `u32`, as in Envoy).
pub const ABORT_GRPC: &str = "x-envoy-fault-abort-grpc-request";
/// The share of requests aborted, a numerator.
pub const ABORT_PERCENTAGE: &str = "x-envoy-fault-abort-request-percentage";
/// The caller's node name, for `downstream_nodes`.
pub const DOWNSTREAM_NODE: &str = "x-envoy-downstream-service-node";

/// An integer header, blanks around it allowed.
fn integer<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
    let value = headers.get(name)?.to_str().ok()?;
    value.trim().parse().ok()
}

/// The delay a request asks for; none when absent, malformed or zero.
pub(super) fn delay(headers: &HeaderMap) -> Option<Duration> {
    integer::<u64>(headers, DELAY)
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// The abort a request asks for: its HTTP status if valid, else its
/// gRPC status (as in Envoy, the gRPC header counts only when the HTTP
/// one gives no valid status).
pub(super) fn abort(headers: &HeaderMap) -> Option<AbortCode> {
    integer::<u16>(headers, ABORT)
        .filter(|s| (200..600).contains(s))
        .map(AbortCode::Http)
        .or_else(|| integer::<u32>(headers, ABORT_GRPC).map(AbortCode::Grpc))
}

/// The share a request asks for under `header`: its numerator over
/// `denominator`, never above `configured`; `configured` when absent.
pub(super) fn share(
    headers: &HeaderMap,
    header: &str,
    denominator: u32,
    configured: Fraction,
) -> Fraction {
    match integer::<u32>(headers, header) {
        Some(numerator) => {
            let asked = Fraction::new(u64::from(numerator), u64::from(denominator));
            if asked.per_million() < configured.per_million() {
                asked
            } else {
                configured
            }
        }
        None => configured,
    }
}
