//! Value matchers shared by routes: strings, headers, query parameters.
//!
//! Semantics follow Envoy's `StringMatcher`, `HeaderMatcher` and
//! `QueryParameterMatcher`: a regex must match the *whole* value (RE2 full
//! match, here the `regex` crate with an anchored pattern), `ignore_case`
//! compares literals ASCII-case-insensitively, a header that appears
//! several times is matched against its values joined by `,`, and `invert`
//! flips the result of a header that is present. An absent header matches
//! only `present_match: false` (or, inverted, `present_match: true`),
//! whatever the rule; with `treat_missing_header_as_empty` it is matched as
//! the empty value instead, inversion included.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, HeaderName};

use super::ConfigError;
use crate::request::RequestHead;

/// Upper bound on a compiled regex, against patterns that explode in size.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A regular expression that must match the entire input.
#[derive(Debug, Clone)]
pub struct FullRegex {
    source: Arc<str>,
    regex: regex::Regex,
}

impl FullRegex {
    /// Compiles `pattern` with full-match semantics.
    pub fn new(pattern: &str) -> Result<Self, ConfigError> {
        let regex = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| ConfigError::field("regex", format!("invalid regex {pattern:?}: {e}")))?;
        Ok(Self {
            source: pattern.into(),
            regex,
        })
    }

    /// The pattern as written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

impl PartialEq for FullRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// How a [`StringMatcher`] compares.
#[derive(Debug, Clone, PartialEq)]
pub enum StringMatch {
    /// The value equals the pattern.
    Exact(Box<str>),
    /// The value starts with the pattern.
    Prefix(Box<str>),
    /// The value ends with the pattern.
    Suffix(Box<str>),
    /// The value contains the pattern.
    Contains(Box<str>),
    /// The whole value matches the regex.
    Regex(FullRegex),
}

/// Envoy's `type.matcher.v3.StringMatcher`.
#[derive(Debug, Clone, PartialEq)]
pub struct StringMatcher {
    kind: StringMatch,
    ignore_case: bool,
}

impl StringMatcher {
    /// A matcher; with `ignore_case`, literal patterns compare ASCII
    /// case-insensitively (it has no effect on a regex, as in Envoy).
    pub fn new(kind: StringMatch, ignore_case: bool) -> Result<Self, ConfigError> {
        let kind = match kind {
            StringMatch::Prefix(p) if p.is_empty() => {
                return Err(ConfigError::field("prefix", "must not be empty"));
            }
            StringMatch::Suffix(p) if p.is_empty() => {
                return Err(ConfigError::field("suffix", "must not be empty"));
            }
            StringMatch::Contains(p) if p.is_empty() => {
                return Err(ConfigError::field("contains", "must not be empty"));
            }
            StringMatch::Exact(p) if ignore_case => StringMatch::Exact(lower(&p)),
            StringMatch::Prefix(p) if ignore_case => StringMatch::Prefix(lower(&p)),
            StringMatch::Suffix(p) if ignore_case => StringMatch::Suffix(lower(&p)),
            StringMatch::Contains(p) if ignore_case => StringMatch::Contains(lower(&p)),
            other => other,
        };
        let ignore_case = ignore_case && !matches!(kind, StringMatch::Regex(_));
        Ok(Self { kind, ignore_case })
    }

    /// An exact, case-sensitive matcher.
    pub fn exact(value: &str) -> Self {
        Self {
            kind: StringMatch::Exact(value.into()),
            ignore_case: false,
        }
    }

    /// How this matcher compares.
    pub fn kind(&self) -> &StringMatch {
        &self.kind
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        let (v, case) = (value.as_bytes(), !self.ignore_case);
        match &self.kind {
            StringMatch::Exact(p) => bytes_eq(v, p.as_bytes(), case),
            StringMatch::Prefix(p) => {
                v.len() >= p.len() && bytes_eq(&v[..p.len()], p.as_bytes(), case)
            }
            StringMatch::Suffix(p) => {
                v.len() >= p.len() && bytes_eq(&v[v.len() - p.len()..], p.as_bytes(), case)
            }
            StringMatch::Contains(p) if case => value.contains(&**p),
            StringMatch::Contains(p) => value.to_ascii_lowercase().contains(&**p),
            StringMatch::Regex(r) => r.is_match(value),
        }
    }
}

/// Byte equality, ASCII-case-insensitive unless `case_sensitive`; the
/// pattern side of an insensitive comparison is stored lower-case.
fn bytes_eq(value: &[u8], pattern: &[u8], case_sensitive: bool) -> bool {
    if case_sensitive {
        value == pattern
    } else {
        value.eq_ignore_ascii_case(pattern)
    }
}

fn lower(s: &str) -> Box<str> {
    s.to_ascii_lowercase().into_boxed_str()
}

/// What a [`HeaderMatcher`] checks of the header's value.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderRule {
    /// The value matches a string matcher.
    Value(StringMatcher),
    /// `present: true` matches when the header is there; `present: false`
    /// matches when it is absent.
    Present(bool),
    /// The value parses as an integer in `[start, end)`.
    Range {
        /// Inclusive lower bound.
        start: i64,
        /// Exclusive upper bound.
        end: i64,
    },
}

/// The header a [`HeaderMatcher`] reads: a regular one, or one of the
/// HTTP/2 pseudo-headers Envoy lets routes match (`:method`,
/// `:authority`, `:path` with its query, `:scheme`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderKey {
    /// A regular header.
    Regular(HeaderName),
    /// `:method`.
    Method,
    /// `:authority`.
    Authority,
    /// `:path`, query included.
    Path,
    /// `:scheme`.
    Scheme,
}

impl HeaderKey {
    /// Parses a header name, pseudo-headers included, lower-casing it.
    pub fn parse(name: &str) -> Result<Self, ConfigError> {
        let lower = name.to_ascii_lowercase();
        Ok(match lower.as_str() {
            ":method" => Self::Method,
            ":authority" | "host" => Self::Authority,
            ":path" => Self::Path,
            ":scheme" => Self::Scheme,
            _ => Self::Regular(HeaderName::from_bytes(lower.as_bytes()).map_err(|_| {
                ConfigError::field("name", format!("invalid header name {name:?}"))
            })?),
        })
    }
}

/// Envoy's `config.route.v3.HeaderMatcher`.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderMatcher {
    name: HeaderKey,
    rule: HeaderRule,
    invert: bool,
    treat_missing_as_empty: bool,
}

impl HeaderMatcher {
    /// A matcher of header `name`; the name is validated and lower-cased.
    pub fn new(
        name: &str,
        rule: HeaderRule,
        invert: bool,
        treat_missing_as_empty: bool,
    ) -> Result<Self, ConfigError> {
        let name = HeaderKey::parse(name)?;
        if let HeaderRule::Range { start, end } = rule
            && start >= end
        {
            return Err(ConfigError::field(
                "range_match",
                format!("start {start} must be below end {end}"),
            ));
        }
        Ok(Self {
            name,
            rule,
            invert,
            treat_missing_as_empty,
        })
    }

    /// The header read.
    pub fn name(&self) -> &HeaderKey {
        &self.name
    }

    /// Whether the request satisfies this matcher.
    pub fn matches(&self, request: &RequestHead<'_>) -> bool {
        let name = match &self.name {
            HeaderKey::Regular(name) => name,
            HeaderKey::Method => return self.value_matches(request.method) != self.invert,
            HeaderKey::Authority => return self.value_matches(request.authority) != self.invert,
            HeaderKey::Scheme => return self.value_matches(request.scheme) != self.invert,
            HeaderKey::Path if request.query.is_empty() => {
                return self.value_matches(request.path) != self.invert;
            }
            HeaderKey::Path => {
                let full = format!("{}?{}", request.path, request.query);
                return self.value_matches(&full) != self.invert;
            }
        };
        self.matches_headers(name, request.headers)
    }

    fn matches_headers(&self, name: &HeaderName, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(name).iter();
        let matched = match values.next() {
            None if self.treat_missing_as_empty => self.value_matches(""),
            // Envoy: an absent header satisfies only a presence rule that
            // expects absence, inversion folded in.
            None => return matches!(self.rule, HeaderRule::Present(p) if p == self.invert),
            Some(first) => match values.next() {
                None => self.value_matches(&header_str(first)),
                Some(_) => {
                    let joined = join_values(headers.get_all(name).iter());
                    self.value_matches(&joined)
                }
            },
        };
        matched != self.invert
    }

    fn value_matches(&self, value: &str) -> bool {
        match &self.rule {
            HeaderRule::Value(m) => m.matches(value),
            HeaderRule::Present(present) => *present,
            HeaderRule::Range { start, end } => value
                .parse::<i64>()
                .is_ok_and(|v| (*start..*end).contains(&v)),
        }
    }
}

/// A header value as text: as is when it is UTF-8 (the common case, no
/// copy), with replacement characters otherwise, never silently empty.
pub(crate) fn header_str(value: &http::HeaderValue) -> Cow<'_, str> {
    // `from_utf8` checks ASCII a word at a time; the lossy decoder walks
    // chunk by chunk even when there is nothing to replace.
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    }
}

fn join_values<'a>(values: impl Iterator<Item = &'a http::HeaderValue>) -> String {
    let mut joined = String::new();
    for (i, v) in values.enumerate() {
        if i > 0 {
            joined.push(',');
        }
        joined.push_str(&header_str(v));
    }
    joined
}

/// What a [`QueryParamMatcher`] checks.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryRule {
    /// The parameter is present (with any value, or none).
    Present,
    /// The parameter's value matches.
    Value(StringMatcher),
}

/// Envoy's `config.route.v3.QueryParameterMatcher`. Values are compared as
/// they appear in the URL (not percent-decoded); the first occurrence of
/// the parameter is the one checked.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryParamMatcher {
    name: Box<str>,
    rule: QueryRule,
}

impl QueryParamMatcher {
    /// A matcher of query parameter `name`.
    pub fn new(name: &str, rule: QueryRule) -> Result<Self, ConfigError> {
        if name.is_empty() {
            return Err(ConfigError::field("name", "must not be empty"));
        }
        Ok(Self {
            name: name.into(),
            rule,
        })
    }

    /// Whether the query string (without the `?`) satisfies this matcher.
    pub fn matches(&self, query: &str) -> bool {
        match query_param(query, &self.name) {
            None => false,
            Some(value) => match &self.rule {
                QueryRule::Present => true,
                QueryRule::Value(m) => m.matches(value),
            },
        }
    }
}

/// The value of the first `name` parameter of `query` (`""` for a bare
/// `name`), or `None` when absent.
pub(crate) fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    fn sm(kind: StringMatch, ignore_case: bool) -> StringMatcher {
        StringMatcher::new(kind, ignore_case).unwrap()
    }

    #[test]
    fn string_matchers_table() {
        let re = |p: &str| StringMatch::Regex(FullRegex::new(p).unwrap());
        let cases: Vec<(StringMatcher, &str, bool)> = vec![
            (sm(StringMatch::Exact("abc".into()), false), "abc", true),
            (sm(StringMatch::Exact("abc".into()), false), "ABC", false),
            (sm(StringMatch::Exact("abc".into()), true), "ABC", true),
            (sm(StringMatch::Exact("".into()), false), "", true),
            (sm(StringMatch::Prefix("ab".into()), false), "abc", true),
            (sm(StringMatch::Prefix("AB".into()), true), "abc", true),
            (sm(StringMatch::Prefix("ab".into()), false), "xab", false),
            (sm(StringMatch::Suffix("bc".into()), false), "abc", true),
            (sm(StringMatch::Suffix("bc".into()), false), "bca", false),
            (sm(StringMatch::Contains("b".into()), false), "abc", true),
            (sm(StringMatch::Contains("B".into()), true), "abc", true),
            (sm(StringMatch::Contains("d".into()), false), "abc", false),
            // Regex is a full match: no implicit substring search.
            (sm(re(r"\d{3}"), false), "123", true),
            (sm(re(r"\d{3}"), false), "1234", false),
            (sm(re(r"\d{3}"), false), "a123", false),
            (sm(re("a|b"), false), "ab", false),
            (sm(re("a|b"), false), "b", true),
            (sm(re("^abc$"), false), "abc", true),
        ];
        for (i, (m, value, want)) in cases.iter().enumerate() {
            assert_eq!(m.matches(value), *want, "case {i}: {m:?} on {value:?}");
        }
    }

    #[test]
    fn empty_literal_patterns_are_rejected() {
        assert!(StringMatcher::new(StringMatch::Prefix("".into()), false).is_err());
        assert!(StringMatcher::new(StringMatch::Suffix("".into()), false).is_err());
        assert!(StringMatcher::new(StringMatch::Contains("".into()), false).is_err());
        let e = FullRegex::new("(").unwrap_err();
        assert!(e.reason.contains("invalid regex"), "{e}");
    }

    #[test]
    fn header_matchers_table() {
        let exact = |v: &str| HeaderRule::Value(StringMatcher::exact(v));
        let h = |name: &str, rule: HeaderRule, invert: bool, missing_empty: bool| {
            HeaderMatcher::new(name, rule, invert, missing_empty).unwrap()
        };
        let with = headers(&[("x-canary", "always"), ("x-num", "42"), ("x-empty", "")]);
        let multi = headers(&[("x-multi", "a"), ("x-multi", "b")]);
        let none = headers(&[]);
        let cases: Vec<(HeaderMatcher, &HeaderMap, bool)> = vec![
            (h("x-canary", exact("always"), false, false), &with, true),
            (h("X-Canary", exact("always"), false, false), &with, true),
            (h("x-canary", exact("never"), false, false), &with, false),
            (h("x-canary", exact("never"), true, false), &with, true),
            (h("x-canary", exact("always"), true, false), &with, false),
            // Absent header: no value rule matches, inverted or not.
            (h("x-canary", exact("always"), false, false), &none, false),
            (h("x-canary", exact("always"), true, false), &none, false),
            (h("x-canary", exact("always"), true, true), &none, true),
            // Absent versus empty value.
            (h("x-empty", exact(""), false, false), &with, true),
            (h("x-empty", exact(""), false, false), &none, false),
            (h("x-empty", exact(""), false, true), &none, true),
            // Present.
            (
                h("x-canary", HeaderRule::Present(true), false, false),
                &with,
                true,
            ),
            (
                h("x-canary", HeaderRule::Present(true), false, false),
                &none,
                false,
            ),
            (
                h("x-canary", HeaderRule::Present(true), true, false),
                &none,
                true,
            ),
            (
                h("x-canary", HeaderRule::Present(false), false, false),
                &none,
                true,
            ),
            (
                h("x-canary", HeaderRule::Present(false), false, false),
                &with,
                false,
            ),
            (
                h("x-empty", HeaderRule::Present(true), false, false),
                &with,
                true,
            ),
            // Range is [start, end).
            (
                h(
                    "x-num",
                    HeaderRule::Range { start: 0, end: 43 },
                    false,
                    false,
                ),
                &with,
                true,
            ),
            (
                h(
                    "x-num",
                    HeaderRule::Range { start: 0, end: 42 },
                    false,
                    false,
                ),
                &with,
                false,
            ),
            (
                h(
                    "x-num",
                    HeaderRule::Range { start: 42, end: 50 },
                    false,
                    false,
                ),
                &with,
                true,
            ),
            (
                h(
                    "x-canary",
                    HeaderRule::Range { start: 0, end: 9 },
                    false,
                    false,
                ),
                &with,
                false,
            ),
            (
                h(
                    "x-num",
                    HeaderRule::Range { start: 0, end: 42 },
                    true,
                    false,
                ),
                &with,
                true,
            ),
            // Repeated headers are joined with ','.
            (h("x-multi", exact("a,b"), false, false), &multi, true),
            (h("x-multi", exact("a"), false, false), &multi, false),
        ];
        for (i, (m, map, want)) in cases.iter().enumerate() {
            assert_eq!(m.matches(&head(map)), *want, "case {i}: {m:?}");
        }
    }

    fn head(headers: &HeaderMap) -> RequestHead<'_> {
        RequestHead {
            method: "POST",
            scheme: "http",
            authority: "orders:80",
            path: "/v1/orders",
            query: "id=7",
            headers,
            source_ip: None,
        }
    }

    #[test]
    fn pseudo_headers_match_the_request_line() {
        let empty = HeaderMap::new();
        let exact = |name: &str, v: &str, invert: bool| {
            HeaderMatcher::new(
                name,
                HeaderRule::Value(StringMatcher::exact(v)),
                invert,
                false,
            )
            .unwrap()
        };
        assert!(exact(":method", "POST", false).matches(&head(&empty)));
        assert!(!exact(":method", "GET", false).matches(&head(&empty)));
        assert!(exact(":method", "GET", true).matches(&head(&empty)));
        assert!(exact(":authority", "orders:80", false).matches(&head(&empty)));
        assert!(exact(":path", "/v1/orders?id=7", false).matches(&head(&empty)));
        assert!(exact(":scheme", "http", false).matches(&head(&empty)));
    }

    #[test]
    fn header_matcher_validation() {
        let e =
            HeaderMatcher::new("bad header", HeaderRule::Present(true), false, false).unwrap_err();
        assert_eq!(e.field, "name");
        let e = HeaderMatcher::new("x", HeaderRule::Range { start: 5, end: 5 }, false, false)
            .unwrap_err();
        assert_eq!(e.field, "range_match");
    }

    #[test]
    fn query_matchers_table() {
        let q = |name: &str, rule: QueryRule| QueryParamMatcher::new(name, rule).unwrap();
        let val = |v: &str| QueryRule::Value(StringMatcher::exact(v));
        let cases = [
            (q("debug", QueryRule::Present), "debug", true),
            (q("debug", QueryRule::Present), "a=1&debug=", true),
            (q("debug", QueryRule::Present), "a=1", false),
            (q("debug", QueryRule::Present), "", false),
            (q("a", val("1")), "a=1&b=2", true),
            (q("b", val("2")), "a=1&b=2", true),
            (q("a", val("2")), "a=1&a=2", false),
            (q("a", val("")), "a", true),
            (q("ab", val("1")), "a=1", false),
        ];
        for (i, (m, query, want)) in cases.iter().enumerate() {
            assert_eq!(m.matches(query), *want, "case {i}: {m:?} on {query:?}");
        }
    }
}
