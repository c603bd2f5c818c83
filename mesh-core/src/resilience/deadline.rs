//! How long a request may take: the route's timeout, the caller's gRPC
//! deadline, and what the upstream is told.
//!
//! Envoy's rules, which gRPC's xDS client follows (gRFC A28 for
//! `max_stream_duration`):
//!
//! - A route has an overall `timeout` (retries included).
//! - A gRPC caller sends its deadline as `grpc-timeout`. When the route
//!   sets `max_stream_duration` (`grpc_timeout_header_max`), the request's
//!   timeout is the caller's deadline capped by it; without a header, the
//!   cap alone applies. Otherwise the header does not change the timeout.
//! - The upstream learns what is left: each attempt carries `grpc-timeout`
//!   with the time remaining, so the server gives up when the caller has.
//!
//! Values follow the gRPC wire format: at most 8 digits and a unit
//! (`H`, `M`, `S`, `m`, `u`, `n`).

use std::time::Duration;

use http::{HeaderName, HeaderValue};

/// The header name.
pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// The timeout of a request on a route with `route_timeout` and
/// `max_stream_duration`, given the request's `grpc-timeout` header.
pub fn request_timeout(
    route_timeout: Option<Duration>,
    max_stream_duration: Option<Duration>,
    grpc_timeout: Option<&HeaderValue>,
) -> Option<Duration> {
    let Some(cap) = max_stream_duration else {
        return route_timeout;
    };
    match grpc_timeout.and_then(parse_grpc_timeout) {
        Some(asked) => Some(asked.min(cap)),
        None => Some(cap),
    }
}

/// Parses a `grpc-timeout` value; `None` if it is malformed.
pub fn parse_grpc_timeout(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Formats `remaining` as a `grpc-timeout` value: the finest unit that
/// fits in 8 digits, rounded up so the server never gives up early.
pub fn format_grpc_timeout(remaining: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let nanos = remaining.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    let (value, unit) = units
        .iter()
        .map(|&(per, unit)| (nanos.div_ceil(per), unit))
        .find(|&(value, _)| value <= MAX)
        .unwrap_or((MAX, 'H'));
    HeaderValue::from_str(&format!("{value}{unit}")).unwrap_or(HeaderValue::from_static("1n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[test]
    fn grpc_timeouts_parse_in_every_unit() {
        assert_eq!(
            parse_grpc_timeout(&hv("2H")),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(
            parse_grpc_timeout(&hv("3M")),
            Some(Duration::from_secs(180))
        );
        assert_eq!(parse_grpc_timeout(&hv("5S")), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_grpc_timeout(&hv("250m")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_grpc_timeout(&hv("7u")),
            Some(Duration::from_micros(7))
        );
        assert_eq!(parse_grpc_timeout(&hv("9n")), Some(Duration::from_nanos(9)));
        for bad in ["", "S", "123456789S", "1x", "-1S", "1.5S", "m"] {
            assert_eq!(
                parse_grpc_timeout(&HeaderValue::from_str(bad).unwrap()),
                None,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn formatting_picks_the_finest_unit_and_rounds_up() {
        assert_eq!(format_grpc_timeout(Duration::from_nanos(5)), "5n");
        assert_eq!(format_grpc_timeout(Duration::from_millis(250)), "250000u");
        assert_eq!(format_grpc_timeout(Duration::from_secs(5)), "5000000u");
        assert_eq!(format_grpc_timeout(Duration::from_secs(3600)), "3600000m");
        assert_eq!(
            format_grpc_timeout(Duration::from_nanos(100_000_001)),
            "100001u"
        );
        for d in [
            Duration::from_nanos(1),
            Duration::from_millis(1234),
            Duration::from_secs(86_400),
        ] {
            let back = parse_grpc_timeout(&format_grpc_timeout(d)).unwrap();
            assert!(
                back >= d && back - d < d / 1000 + Duration::from_nanos(1),
                "{d:?} → {back:?}"
            );
        }
    }

    #[test]
    fn the_route_cap_bounds_the_callers_deadline() {
        let s = Duration::from_secs;
        // No max_stream_duration: the route timeout, header or not.
        assert_eq!(
            request_timeout(Some(s(15)), None, Some(&hv("1S"))),
            Some(s(15))
        );
        assert_eq!(request_timeout(None, None, Some(&hv("1S"))), None);
        // With it: the caller's deadline, capped.
        assert_eq!(
            request_timeout(Some(s(15)), Some(s(5)), Some(&hv("1S"))),
            Some(s(1))
        );
        assert_eq!(
            request_timeout(Some(s(15)), Some(s(5)), Some(&hv("9S"))),
            Some(s(5))
        );
        assert_eq!(request_timeout(Some(s(15)), Some(s(5)), None), Some(s(5)));
        assert_eq!(
            request_timeout(None, Some(s(5)), Some(&hv("junk"))),
            Some(s(5))
        );
    }
}
