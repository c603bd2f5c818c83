//! Durations as Istio users write them.
//!
//! Istio's CRDs take protobuf `Duration`s, but its documentation and
//! every example write them the way Go's `time.ParseDuration` reads them:
//! `800ms`, `10s`, `1.5s`, `1m`, `1h30m`. This parser accepts that syntax
//! (units `h`, `m`, `s`, `ms`, `us`/`µs`, `ns`; decimal fractions; several
//! terms summed) and rejects what Istio's validation rejects: negative
//! values, missing units, and garbage. It computes in integer nanoseconds
//! so `0.1s` is exactly 100 ms, and overflow is an error, never a panic.

use std::time::Duration;

use crate::config::ConfigError;

/// The nanoseconds of each unit; longer names first so `ms` wins over `m`.
const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
];

/// Parses an Istio duration; the error has an empty field path for the
/// caller to locate with [`ConfigError::at`].
pub(crate) fn parse(text: &str) -> Result<Duration, ConfigError> {
    let bad = |why: &str| ConfigError::field("", format!("invalid duration {text:?}: {why}"));
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if s.starts_with('-') {
        return Err(bad("must not be negative"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(if unit.is_empty() {
                bad("missing unit (ns, us, ms, s, m or h)")
            } else {
                bad("unknown unit")
            });
        };
        let nanos = term_nanos(number, scale).ok_or_else(|| bad("not a number"))?;
        total = total
            .checked_add(nanos)
            .filter(|t| *t <= u128::from(u64::MAX))
            .ok_or_else(|| bad("too large"))?;
        rest = next;
    }
    Ok(Duration::from_nanos(total as u64))
}

/// `number` (digits with at most one `.`) times `scale` nanoseconds;
/// fractions below a nanosecond are dropped. `None` when not a number or
/// absurdly large.
fn term_nanos(number: &str, scale: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    // 20 digits hold any u64; more cannot fit once scaled anyway.
    if whole.len() > 20 {
        return None;
    }
    let whole_value: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole_value.checked_mul(scale)?;
    let mut unit = scale;
    for digit in fraction.bytes() {
        unit /= 10;
        if unit == 0 {
            break;
        }
        nanos = nanos.checked_add(u128::from(digit - b'0') * unit)?;
    }
    Some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_istio_spellings() {
        let ms = Duration::from_millis;
        let cases = [
            ("800ms", ms(800)),
            ("10s", ms(10_000)),
            ("1.5s", ms(1_500)),
            ("1m", ms(60_000)),
            ("1h", ms(3_600_000)),
            ("1h30m", ms(5_400_000)),
            ("0.1s", ms(100)),
            (".5s", ms(500)),
            ("0s", Duration::ZERO),
            ("0", Duration::ZERO),
            ("250us", Duration::from_micros(250)),
            ("250µs", Duration::from_micros(250)),
            ("7ns", Duration::from_nanos(7)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in [
            "", "10", "-1s", "1x", "s", ".s", "1..5s", "ms10", "1.2.3s", "10 s",
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.reason.contains("invalid duration"), "{text}: {e}");
            assert_eq!(e.field, "");
        }
        assert!(parse("99999999999999999999999h").is_err());
        assert!(parse("600000000000h").is_err());
    }
}
