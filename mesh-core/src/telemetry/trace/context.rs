//! Trace context on the wire: W3C `traceparent` (and `tracestate`,
//! forwarded untouched) and Zipkin's B3, single (`b3`) and multi
//! (`X-B3-*`) header.
//!
//! Extraction prefers `traceparent` and falls back to B3; a malformed
//! header is ignored, as the W3C recommendation says (the request starts
//! a new trace rather than failing). Injection writes the formats the
//! tracer is configured with.

use std::fmt::Write;

use http::{HeaderMap, HeaderName, HeaderValue};

// The headers of each format, parsed once: a lookup by `&str` parses the
// name on every call, and every traced request looks.
/// W3C's context header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// W3C's vendor state, forwarded as it came.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
const B3: HeaderName = HeaderName::from_static("b3");
const B3_TRACE_ID: HeaderName = HeaderName::from_static("x-b3-traceid");
const B3_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-spanid");
const B3_PARENT_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-parentspanid");
const B3_SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
const B3_FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");

/// Where a span sits in its trace, and whether the trace is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace, 16 bytes, never all zero.
    pub trace_id: [u8; 16],
    /// The span, 8 bytes, never all zero.
    pub span_id: [u8; 8],
    /// Whether the trace is recorded.
    pub sampled: bool,
    /// The caller left the decision to this side (a B3 context without a
    /// sampling flag): the sampler decides as for a new trace, in the
    /// caller's trace.
    pub deferred: bool,
}

/// The header formats a tracer injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Propagation {
    /// W3C `traceparent` (and the caller's `tracestate`).
    pub w3c: bool,
    /// B3 single header: `b3: {trace}-{span}-{sampled}`.
    pub b3_single: bool,
    /// B3 multi header: `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled`.
    pub b3_multi: bool,
}

impl Default for Propagation {
    /// W3C only.
    fn default() -> Self {
        Self {
            w3c: true,
            b3_single: false,
            b3_multi: false,
        }
    }
}

/// The incoming context of a request: `traceparent`, else (when
/// `propagation` has a B3 format) `b3`, else the `X-B3-*` headers;
/// `None` when none is there or well formed.
pub fn extract(headers: &HeaderMap, propagation: Propagation) -> Option<SpanContext> {
    match headers.get(TRACEPARENT) {
        Some(value) => parse_traceparent(value.as_bytes()),
        None => extract_b3(headers, propagation),
    }
}

/// The B3 context of a request (`b3`, else `X-B3-*`), when `propagation`
/// has a B3 format.
pub fn extract_b3(headers: &HeaderMap, propagation: Propagation) -> Option<SpanContext> {
    if !(propagation.b3_single || propagation.b3_multi) {
        return None;
    }
    if let Some(value) = headers.get(B3) {
        return parse_b3_single(value.as_bytes());
    }
    let trace_id = headers.get(B3_TRACE_ID)?;
    let span_id = headers.get(B3_SPAN_ID)?;
    let debug = headers.get(B3_FLAGS).is_some_and(|f| f == "1");
    let sampled = match headers.get(B3_SAMPLED).map(HeaderValue::as_bytes) {
        Some(b"1" | b"true") => Some(true),
        Some(b"0" | b"false") => Some(false),
        Some(_) => return None,
        None if debug => Some(true),
        None => None,
    };
    Some(SpanContext {
        trace_id: b3_trace_id(trace_id.as_bytes())?,
        span_id: span_id_of(span_id.as_bytes())?,
        sampled: sampled.unwrap_or(false) || debug,
        deferred: sampled.is_none(),
    })
}

/// Writes `context` into `headers` in the formats of `propagation`,
/// replacing what the caller sent in those formats.
pub fn inject(headers: &mut HeaderMap, context: &SpanContext, propagation: Propagation) {
    if propagation.w3c {
        headers.insert(TRACEPARENT, traceparent(context));
    } else {
        // A caller's traceparent would name the caller, not this span, to
        // a server that prefers W3C.
        headers.remove(TRACEPARENT);
        headers.remove(TRACESTATE);
    }
    let trace = hex(&context.trace_id);
    let span = hex(&context.span_id);
    let sampled = if context.sampled { "1" } else { "0" };
    if propagation.b3_single
        && let Ok(value) = HeaderValue::from_str(&format!("{trace}-{span}-{sampled}"))
    {
        headers.insert(B3, value);
    }
    if propagation.b3_multi {
        for (name, value) in [
            (B3_TRACE_ID, trace.as_str()),
            (B3_SPAN_ID, span.as_str()),
            (B3_SAMPLED, sampled),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        headers.remove(B3_PARENT_SPAN_ID);
        headers.remove(B3_FLAGS);
    }
}

/// `00-{trace}-{span}-{flags}`.
pub fn traceparent(context: &SpanContext) -> HeaderValue {
    let mut value = String::with_capacity(55);
    value.push_str("00-");
    push_hex(&mut value, &context.trace_id);
    value.push('-');
    push_hex(&mut value, &context.span_id);
    value.push_str(if context.sampled { "-01" } else { "-00" });
    HeaderValue::from_str(&value).expect("hex and dashes are a valid header value")
}

/// A W3C `traceparent` (version 00, or a later one read as 00):
/// `vv-{32 hex}-{16 hex}-ff`, lower-case hex, ids not all zero.
pub fn parse_traceparent(value: &[u8]) -> Option<SpanContext> {
    let value = value.trim_ascii();
    if value.len() < 55 || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let [version] = lower_hex::<1>(&value[..2])?;
    // Version 00 has exactly four fields; later ones may add more.
    let valid_length = match version {
        0xff => false,
        0 => value.len() == 55,
        _ => value.len() == 55 || value[55] == b'-',
    };
    if !valid_length {
        return None;
    }
    let [flags] = lower_hex::<1>(&value[53..55])?;
    Some(SpanContext {
        trace_id: nonzero(lower_hex(&value[3..35])?)?,
        span_id: nonzero(lower_hex(&value[36..52])?)?,
        sampled: flags & 1 == 1,
        deferred: false,
    })
}

/// A B3 single header: `{trace}-{span}[-{sampled}[-{parent}]]`. The
/// sampling-only forms (`0`, `1`, `d`) carry no context.
pub fn parse_b3_single(value: &[u8]) -> Option<SpanContext> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let mut parts = text.split('-');
    let trace = b3_trace_id(parts.next()?.as_bytes())?;
    let span = span_id_of(parts.next()?.as_bytes())?;
    let sampled = match parts.next() {
        None => None,
        Some("1" | "d") => Some(true),
        Some("0") => Some(false),
        Some(_) => return None,
    };
    Some(SpanContext {
        trace_id: trace,
        span_id: span,
        sampled: sampled.unwrap_or(false),
        deferred: sampled.is_none(),
    })
}

/// A B3 trace id: 32 hex digits, or 16 (left-padded with zeros).
fn b3_trace_id(value: &[u8]) -> Option<[u8; 16]> {
    match value.len() {
        32 => nonzero(any_hex(value)?),
        16 => {
            let low: [u8; 8] = any_hex(value)?;
            let mut id = [0; 16];
            id[8..].copy_from_slice(&low);
            nonzero(id)
        }
        _ => None,
    }
}

fn span_id_of(value: &[u8]) -> Option<[u8; 8]> {
    nonzero(any_hex(value)?)
}

/// `2 * N` hex digits, lower case only (W3C).
fn lower_hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    decode(digits, false)
}

/// `2 * N` hex digits of either case (B3).
fn any_hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    decode(digits, true)
}

fn decode<const N: usize>(digits: &[u8], upper_too: bool) -> Option<[u8; N]> {
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' if upper_too => Some(d - b'A' + 10),
        _ => None,
    };
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nonzero<const N: usize>(id: [u8; N]) -> Option<[u8; N]> {
    id.iter().any(|b| *b != 0).then_some(id)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract_any(headers: &HeaderMap) -> Option<SpanContext> {
        let b3 = Propagation {
            w3c: true,
            b3_single: true,
            b3_multi: false,
        };
        extract(headers, b3)
    }

    #[test]
    fn b3_is_read_only_when_configured() {
        let b3 = headers(&[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-1")]);
        assert_eq!(extract(&b3, Propagation::default()), None);
        assert!(extract_any(&b3).is_some());
    }

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn traceparent_round_trips_and_rejects_what_the_spec_rejects() {
        let context = parse_traceparent(PARENT.as_bytes()).unwrap();
        assert!(context.sampled);
        assert_eq!(hex(&context.span_id), "00f067aa0ba902b7");
        assert_eq!(traceparent(&context), PARENT);
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(parse_traceparent(bad.as_bytes()), None, "{bad}");
        }
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more";
        assert_eq!(
            parse_traceparent(later.as_bytes()).map(|c| c.sampled),
            Some(false)
        );
    }

    #[test]
    fn b3_single_and_multi_are_read_when_traceparent_is_absent() {
        let single = extract_any(&headers(&[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        )]))
        .unwrap();
        assert!(single.sampled);
        assert_eq!(hex(&single.span_id), "e457b5a2e4d86bd1");
        let short =
            extract_any(&headers(&[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-0")])).unwrap();
        assert_eq!(hex(&short.trace_id), "0000000000000000a3ce929d0e0e4736");
        assert!(!short.sampled);
        assert_eq!(extract_any(&headers(&[("b3", "0")])), None);
        let multi = extract_any(&headers(&[
            ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
            ("x-b3-spanid", "a2fb4a1d1a96d312"),
            ("x-b3-sampled", "1"),
        ]))
        .unwrap();
        assert!(multi.sampled);
        let both = extract_any(&headers(&[
            ("traceparent", PARENT),
            ("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-0"),
        ]))
        .unwrap();
        assert!(both.sampled, "traceparent wins");
    }

    #[test]
    fn b3_only_injection_drops_the_callers_traceparent() {
        let context = parse_traceparent(PARENT.as_bytes()).unwrap();
        let mut out = headers(&[("traceparent", PARENT), ("tracestate", "a=1")]);
        let b3 = Propagation {
            w3c: false,
            b3_single: true,
            b3_multi: false,
        };
        inject(&mut out, &context, b3);
        assert!(!out.contains_key("traceparent") && !out.contains_key("tracestate"));
        assert_eq!(extract_any(&out), Some(context));
    }

    #[test]
    fn injection_writes_every_configured_format() {
        let context = parse_traceparent(PARENT.as_bytes()).unwrap();
        let mut out = headers(&[("x-b3-flags", "1")]);
        let all = Propagation {
            w3c: true,
            b3_single: true,
            b3_multi: true,
        };
        inject(&mut out, &context, all);
        assert_eq!(out["traceparent"], PARENT);
        assert_eq!(
            out["b3"],
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"
        );
        assert_eq!(out["x-b3-spanid"], "00f067aa0ba902b7");
        assert_eq!(out["x-b3-sampled"], "1");
        assert!(!out.contains_key("x-b3-flags"));
        assert_eq!(extract_any(&out), Some(context));
    }
}
