//! Server pushback: `Retry-After` and gRPC's `grpc-retry-pushback-ms`.
//!
//! A server that knows when it can take the request again says so, and its
//! word beats any backoff the client computes: the client was only
//! guessing. Two headers carry that word:
//!
//! - `Retry-After` (RFC 9110 §10.2.3): a number of seconds or an HTTP date.
//!   Envoy honours it through `rate_limited_retry_back_off` (its
//!   `reset_headers`), waiting a jittered `[d, 1.5·d)` and discarding values
//!   above that back-off's `max_interval` (300 s by default); we do the
//!   same with [`MAX_RETRY_AFTER`].
//! - `grpc-retry-pushback-ms` (gRFC A6): a non-negative integer of
//!   milliseconds to wait, exactly; a negative or unparsable value means
//!   "do not retry at all".
//!
//! Both parsers take `&str`, `&[u8]` or an `http::HeaderValue` and never
//! allocate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest `Retry-After` honoured (Envoy's default `max_interval` of
/// `rate_limited_retry_back_off`); a longer one is ignored and the normal
/// backoff applies.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// What a `grpc-retry-pushback-ms` header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushBack {
    /// Retry after exactly this long (and restart the backoff sequence).
    Delay(Duration),
    /// Do not retry this request (a negative or unparsable value).
    DoNotRetry,
}

/// Parses `grpc-retry-pushback-ms` per gRFC A6: a non-negative decimal
/// integer of milliseconds is a [`PushBack::Delay`]; anything else
/// (negative, empty, not a number, out of range) is
/// [`PushBack::DoNotRetry`]. Blanks around the value are ignored.
pub fn parse_grpc_pushback(value: impl AsRef<[u8]>) -> PushBack {
    let bytes = value.as_ref().trim_ascii();
    let digits = bytes.strip_prefix(b"+").unwrap_or(bytes);
    match parse_decimal(digits) {
        Some(ms) => PushBack::Delay(Duration::from_millis(ms)),
        None => PushBack::DoNotRetry,
    }
}

/// Parses `Retry-After`: delay-seconds, or an HTTP date (IMF-fixdate,
/// RFC 850 or asctime, as RFC 9110 requires recipients to accept) turned
/// into the time left from `now`. A date in the past yields zero; an
/// invalid value yields `None`.
pub fn parse_retry_after(value: impl AsRef<[u8]>, now: SystemTime) -> Option<Duration> {
    let bytes = value.as_ref().trim_ascii();
    if bytes.first().is_some_and(u8::is_ascii_digit) {
        return parse_decimal(bytes).map(Duration::from_secs);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let at = UNIX_EPOCH + Duration::from_secs(parse_http_date(text)?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A non-empty run of ASCII digits as a `u64`, `None` on anything else or
/// overflow.
fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Seconds since the Unix epoch of an HTTP date in any of the three
/// formats. The weekday is not checked (RFC 9110 lets recipients skip it).
fn parse_http_date(text: &str) -> Option<u64> {
    let mut tokens = [""; 6];
    let mut count = 0;
    for token in text.split([' ', ',', '-']).filter(|t| !t.is_empty()) {
        *tokens.get_mut(count)? = token;
        count += 1;
    }
    let (day, month, year, time) = match (count, tokens) {
        // IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT` and RFC 850
        // `Sunday, 06-Nov-94 08:49:37 GMT`.
        (6, [_, day, month, year, time, "GMT"]) => {
            let year = match parse_decimal(year.as_bytes())? {
                // RFC 850's two-digit year: RFC 9110 picks the century
                // that is not more than 50 years ahead; 70 is close enough
                // for a retry delay.
                y if year.len() == 2 && y < 70 => 2000 + y,
                y if year.len() == 2 => 1900 + y,
                y => y,
            };
            (day, month, year, time)
        }
        // asctime `Sun Nov  6 08:49:37 1994`.
        (5, [_, month, day, time, year, _]) => (day, month, parse_decimal(year.as_bytes())?, time),
        _ => return None,
    };
    let month = month_number(month)?;
    let day = parse_decimal(day.as_bytes())?;
    let mut hms = time.split(':').map(|t| {
        (t.len() == 2)
            .then(|| parse_decimal(t.as_bytes()))
            .flatten()
    });
    let (hour, minute, second) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if !(1970..=9999).contains(&year) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn month_number(name: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS.iter().position(|m| *m == name).map(|i| i as u64 + 1)
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm,
/// restricted to years from 1970 on so everything stays unsigned).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1994-11-06T08:49:37Z, the date of RFC 9110's examples.
    const RFC_EXAMPLE: u64 = 784_111_777;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn pushback_non_negative_integer_is_an_exact_delay() {
        assert_eq!(
            parse_grpc_pushback("250"),
            PushBack::Delay(Duration::from_millis(250))
        );
        assert_eq!(parse_grpc_pushback(" 0 "), PushBack::Delay(Duration::ZERO));
        assert_eq!(
            parse_grpc_pushback(http::HeaderValue::from_static("1000")),
            PushBack::Delay(Duration::from_secs(1))
        );
    }

    #[test]
    fn pushback_negative_or_unparsable_means_do_not_retry() {
        for value in [
            "-1",
            "-0x",
            "",
            "abc",
            "1.5",
            "12ms",
            "99999999999999999999999",
        ] {
            assert_eq!(
                parse_grpc_pushback(value),
                PushBack::DoNotRetry,
                "{value:?}"
            );
        }
    }

    #[test]
    fn retry_after_in_seconds() {
        let now = at(RFC_EXAMPLE);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(http::HeaderValue::from_static("3"), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("3s", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn retry_after_as_http_date_in_all_three_formats() {
        let now = at(RFC_EXAMPLE - 30);
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                parse_retry_after(date, now),
                Some(Duration::from_secs(30)),
                "{date}"
            );
        }
    }

    #[test]
    fn retry_after_date_in_the_past_means_now() {
        let now = at(RFC_EXAMPLE + 3_600);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_rejects_malformed_dates() {
        let now = at(0);
        for date in [
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 31 Feb 2024 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "tomorrow",
        ] {
            assert_eq!(parse_retry_after(date, now), None, "{date}");
        }
    }

    #[test]
    fn http_dates_match_known_epochs() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480)
        );
    }
}
