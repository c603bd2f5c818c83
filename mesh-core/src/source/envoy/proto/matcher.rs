//! Matchers: Envoy's `StringMatcher`, `HeaderMatcher`,
//! `QueryParameterMatcher` and `RouteMatch`.
//!
//! The legacy header fields (`exact_match`, `prefix_match`,
//! `safe_regex_match`, ...) are deprecated in the proto but still sent by
//! control planes, so they are read alongside `string_match`. A header
//! matcher with no rule at all checks presence, as in Envoy.

use envoy_types::pb::envoy::config::route::v3::{
    HeaderMatcher as PbHeaderMatcher, QueryParameterMatcher, RouteMatch as PbRouteMatch,
    header_matcher::HeaderMatchSpecifier as Header,
    query_parameter_matcher::QueryParameterMatchSpecifier as Query,
    route_match::PathSpecifier as Path,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{
    RegexMatcher, StringMatcher as PbStringMatcher, string_matcher::MatchPattern,
};

use super::{each, unsupported};
use crate::config::{
    ConfigError, FullRegex, HeaderMatcher, HeaderRule, PathMatch, QueryParamMatcher, QueryRule,
    ResultExt, RouteMatch, StringMatch, StringMatcher,
};

/// A `RegexMatcher`; the error is located at the matcher itself (the
/// caller's field, e.g. `safe_regex`).
fn regex(m: &RegexMatcher) -> Result<FullRegex, ConfigError> {
    FullRegex::new(&m.regex).map_err(|e| ConfigError::field("", e.reason))
}

/// `type.matcher.v3.StringMatcher`.
pub(super) fn string_matcher(m: &PbStringMatcher) -> Result<StringMatcher, ConfigError> {
    let kind = match &m.match_pattern {
        Some(MatchPattern::Exact(s)) => StringMatch::Exact(s.as_str().into()),
        Some(MatchPattern::Prefix(s)) => StringMatch::Prefix(s.as_str().into()),
        Some(MatchPattern::Suffix(s)) => StringMatch::Suffix(s.as_str().into()),
        Some(MatchPattern::Contains(s)) => StringMatch::Contains(s.as_str().into()),
        Some(MatchPattern::SafeRegex(r)) => StringMatch::Regex(regex(r).at("safe_regex")?),
        Some(MatchPattern::Custom(c)) => {
            return Err(unsupported(
                "custom",
                format!("custom matcher {:?}", c.name),
            ));
        }
        None => {
            return Err(ConfigError::field(
                "",
                "one of exact, prefix, suffix, contains or safe_regex is required",
            ));
        }
    };
    StringMatcher::new(kind, m.ignore_case)
}

/// A legacy literal header rule, its errors located at `field`.
fn legacy(field: &str, kind: StringMatch) -> Result<HeaderRule, ConfigError> {
    StringMatcher::new(kind, false)
        .map(HeaderRule::Value)
        .map_err(|e| ConfigError::field(field, e.reason))
}

/// `config.route.v3.HeaderMatcher`.
#[allow(deprecated)] // the legacy specifiers are deprecated, not gone
pub(super) fn header_matcher(h: &PbHeaderMatcher) -> Result<HeaderMatcher, ConfigError> {
    let rule = match &h.header_match_specifier {
        Some(Header::ExactMatch(s)) => HeaderRule::Value(StringMatcher::exact(s)),
        Some(Header::PrefixMatch(s)) => {
            legacy("prefix_match", StringMatch::Prefix(s.as_str().into()))?
        }
        Some(Header::SuffixMatch(s)) => {
            legacy("suffix_match", StringMatch::Suffix(s.as_str().into()))?
        }
        Some(Header::ContainsMatch(s)) => {
            legacy("contains_match", StringMatch::Contains(s.as_str().into()))?
        }
        Some(Header::SafeRegexMatch(r)) => HeaderRule::Value(StringMatcher::new(
            StringMatch::Regex(regex(r).at("safe_regex_match")?),
            false,
        )?),
        Some(Header::RangeMatch(r)) => HeaderRule::Range {
            start: r.start,
            end: r.end,
        },
        Some(Header::PresentMatch(present)) => HeaderRule::Present(*present),
        Some(Header::StringMatch(m)) => HeaderRule::Value(string_matcher(m).at("string_match")?),
        None => HeaderRule::Present(true),
    };
    HeaderMatcher::new(
        &h.name,
        rule,
        h.invert_match,
        h.treat_missing_header_as_empty,
    )
}

/// `config.route.v3.QueryParameterMatcher`; no rule means presence.
pub(super) fn query_matcher(q: &QueryParameterMatcher) -> Result<QueryParamMatcher, ConfigError> {
    let rule = match &q.query_parameter_match_specifier {
        Some(Query::StringMatch(m)) => QueryRule::Value(string_matcher(m).at("string_match")?),
        Some(Query::PresentMatch(true)) | None => QueryRule::Present,
        Some(Query::PresentMatch(false)) => {
            return Err(ConfigError::field(
                "present_match",
                "false is not supported (in Envoy such a matcher never matches)",
            ));
        }
    };
    QueryParamMatcher::new(&q.name, rule)
}

/// `config.route.v3.RouteMatch`: the path rule, case sensitivity, headers
/// and query parameters.
pub(super) fn route_match(m: &PbRouteMatch) -> Result<RouteMatch, ConfigError> {
    let path = match &m.path_specifier {
        Some(Path::Prefix(p)) => PathMatch::Prefix(p.as_str().into()),
        Some(Path::Path(p)) => PathMatch::Exact(p.as_str().into()),
        Some(Path::SafeRegex(r)) => PathMatch::Regex(regex(r).at("safe_regex")?),
        Some(Path::PathSeparatedPrefix(p)) => PathMatch::path_separated_prefix(p)?,
        Some(Path::ConnectMatcher(_)) => {
            return Err(unsupported("connect_matcher", "matching CONNECT requests"));
        }
        Some(Path::PathMatchPolicy(p)) => {
            return Err(unsupported(
                "path_match_policy",
                format!("path match policy {:?}", p.name),
            ));
        }
        None => {
            return Err(ConfigError::field(
                "",
                "one of prefix, path, safe_regex or path_separated_prefix is required",
            ));
        }
    };
    let fraction = match &m.runtime_fraction {
        None => None,
        Some(rf) => {
            let Some(percent) = rf.default_value.as_ref() else {
                return Err(ConfigError::field(
                    "runtime_fraction.default_value",
                    "required (there is no runtime to read the key from)",
                ));
            };
            Some(super::policy::fraction(percent).at("runtime_fraction.default_value")?)
        }
    };
    Ok(RouteMatch {
        path,
        case_sensitive: m.case_sensitive.is_none_or(|b| b.value),
        headers: each(&m.headers, "headers", header_matcher)?,
        query_params: each(&m.query_parameters, "query_parameters", query_matcher)?,
        grpc_only: m.grpc.is_some(),
        fraction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::r#type::v3::Int64Range;
    use envoy_types::pb::google::protobuf::BoolValue;

    fn sm(pattern: MatchPattern) -> PbStringMatcher {
        PbStringMatcher {
            match_pattern: Some(pattern),
            ignore_case: false,
        }
    }

    fn re(pattern: &str) -> RegexMatcher {
        RegexMatcher {
            regex: pattern.into(),
            ..Default::default()
        }
    }

    #[test]
    fn string_matchers_convert_and_reject() {
        let m = string_matcher(&sm(MatchPattern::SafeRegex(re("v[0-9]+")))).unwrap();
        assert!(m.matches("v12") && !m.matches("xv12"));
        let e = string_matcher(&sm(MatchPattern::SafeRegex(re("(")))).unwrap_err();
        assert_eq!(e.field, "safe_regex");
        let e = string_matcher(&sm(MatchPattern::Prefix(String::new()))).unwrap_err();
        assert_eq!(e.field, "prefix");
        assert!(string_matcher(&PbStringMatcher::default()).is_err());
    }

    #[test]
    #[allow(deprecated)]
    fn header_matchers_cover_legacy_and_new_fields() {
        let h = |spec: Option<Header>| PbHeaderMatcher {
            name: "x-canary".into(),
            header_match_specifier: spec,
            ..Default::default()
        };
        for spec in [
            Header::ExactMatch("a".into()),
            Header::PrefixMatch("a".into()),
            Header::SuffixMatch("a".into()),
            Header::ContainsMatch("a".into()),
            Header::SafeRegexMatch(re("a.*")),
            Header::RangeMatch(Int64Range { start: 1, end: 2 }),
            Header::PresentMatch(false),
            Header::StringMatch(sm(MatchPattern::Exact("a".into()))),
        ] {
            header_matcher(&h(Some(spec.clone()))).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        }
        assert!(header_matcher(&h(None)).is_ok());
        let e = header_matcher(&h(Some(Header::PrefixMatch(String::new())))).unwrap_err();
        assert_eq!(e.field, "prefix_match");
        let e = header_matcher(&h(Some(Header::SafeRegexMatch(re("["))))).unwrap_err();
        assert_eq!(e.field, "safe_regex_match");
        let e = header_matcher(&h(Some(Header::StringMatch(sm(MatchPattern::SafeRegex(
            re("["),
        ))))))
        .unwrap_err();
        assert_eq!(e.field, "string_match.safe_regex");
        let e = header_matcher(&h(Some(Header::RangeMatch(Int64Range {
            start: 3,
            end: 3,
        }))))
        .unwrap_err();
        assert_eq!(e.field, "range_match");
    }

    #[test]
    fn route_match_paths_and_nested_errors() {
        let mut m = PbRouteMatch {
            path_specifier: Some(Path::PathSeparatedPrefix("/api".into())),
            case_sensitive: Some(BoolValue { value: false }),
            ..Default::default()
        };
        let rm = route_match(&m).unwrap();
        assert_eq!(rm.path, PathMatch::PathSeparatedPrefix("/api".into()));
        assert!(!rm.case_sensitive);
        m.path_specifier = Some(Path::PathSeparatedPrefix("/api/".into()));
        assert_eq!(route_match(&m).unwrap_err().field, "path_separated_prefix");
        m.path_specifier = Some(Path::SafeRegex(re("*")));
        assert_eq!(route_match(&m).unwrap_err().field, "safe_regex");
        m.path_specifier = None;
        assert!(route_match(&m).is_err());
        m.path_specifier = Some(Path::Prefix("/".into()));
        m.query_parameters = vec![
            QueryParameterMatcher {
                name: "debug".into(),
                ..Default::default()
            },
            QueryParameterMatcher {
                name: "x".into(),
                query_parameter_match_specifier: Some(Query::PresentMatch(false)),
            },
        ];
        let e = route_match(&m).unwrap_err();
        assert_eq!(e.field, "query_parameters[1].present_match");
    }
}
