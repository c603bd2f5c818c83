//! Mirror of `RouteMatch` and the matchers it holds: `StringMatcher`,
//! `RegexMatcher`, `HeaderMatcher` (legacy fields included) and
//! `QueryParameterMatcher`.

use envoy_types::pb::envoy::config::route::v3::{
    self as pb, header_matcher::HeaderMatchSpecifier as Header,
    query_parameter_matcher::QueryParameterMatchSpecifier as Query,
    route_match::PathSpecifier as Path,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{self as mpb, string_matcher::MatchPattern};
use envoy_types::pb::envoy::r#type::v3::Int64Range as PbInt64Range;
use envoy_types::pb::google::protobuf::BoolValue;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::policy::RuntimeFractionalPercent;
use super::wkt::{Int, nullable};
use super::{each, oneof, opt};
use crate::config::ConfigError;

/// `type.matcher.v3.RegexMatcher` (the engine choice is ignored: RE2
/// syntax is what the model compiles).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RegexMatcher {
    #[serde(deserialize_with = "nullable")]
    regex: String,
}

impl RegexMatcher {
    fn into_proto(self) -> mpb::RegexMatcher {
        mpb::RegexMatcher {
            regex: self.regex,
            engine_type: None,
        }
    }
}

/// `type.matcher.v3.StringMatcher`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StringMatcher {
    exact: Option<String>,
    prefix: Option<String>,
    suffix: Option<String>,
    #[serde(alias = "safeRegex")]
    safe_regex: Option<RegexMatcher>,
    contains: Option<String>,
    custom: Option<IgnoredAny>,
    #[serde(alias = "ignoreCase", deserialize_with = "nullable")]
    ignore_case: bool,
}

impl StringMatcher {
    pub(super) fn into_proto(self) -> Result<mpb::StringMatcher, ConfigError> {
        let match_pattern = oneof([
            ("exact", self.exact.map(MatchPattern::Exact)),
            ("prefix", self.prefix.map(MatchPattern::Prefix)),
            ("suffix", self.suffix.map(MatchPattern::Suffix)),
            (
                "safe_regex",
                self.safe_regex
                    .map(|r| MatchPattern::SafeRegex(r.into_proto())),
            ),
            ("contains", self.contains.map(MatchPattern::Contains)),
            // The extension is judged (and refused) by the conversion.
            (
                "custom",
                self.custom
                    .map(|_| MatchPattern::Custom(Default::default())),
            ),
        ])?;
        Ok(mpb::StringMatcher {
            ignore_case: self.ignore_case,
            match_pattern,
        })
    }
}

/// `type.v3.Int64Range`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Int64Range {
    start: Option<Int<i64>>,
    end: Option<Int<i64>>,
}

/// `config.route.v3.HeaderMatcher`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HeaderMatcher {
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(alias = "invertMatch", deserialize_with = "nullable")]
    invert_match: bool,
    #[serde(alias = "treatMissingHeaderAsEmpty", deserialize_with = "nullable")]
    treat_missing_header_as_empty: bool,
    #[serde(alias = "exactMatch")]
    exact_match: Option<String>,
    #[serde(alias = "safeRegexMatch")]
    safe_regex_match: Option<RegexMatcher>,
    #[serde(alias = "rangeMatch")]
    range_match: Option<Int64Range>,
    #[serde(alias = "presentMatch")]
    present_match: Option<bool>,
    #[serde(alias = "prefixMatch")]
    prefix_match: Option<String>,
    #[serde(alias = "suffixMatch")]
    suffix_match: Option<String>,
    #[serde(alias = "containsMatch")]
    contains_match: Option<String>,
    #[serde(alias = "stringMatch")]
    string_match: Option<StringMatcher>,
}

impl HeaderMatcher {
    #[allow(deprecated)] // the legacy specifiers are deprecated, not gone
    pub(super) fn into_proto(self) -> Result<pb::HeaderMatcher, ConfigError> {
        let string_match = opt(self.string_match, "string_match", StringMatcher::into_proto)?;
        let range = self.range_match.map(|r| PbInt64Range {
            start: r.start.map_or(0, |v| v.0),
            end: r.end.map_or(0, |v| v.0),
        });
        let header_match_specifier = oneof([
            ("exact_match", self.exact_match.map(Header::ExactMatch)),
            (
                "safe_regex_match",
                self.safe_regex_match
                    .map(|r| Header::SafeRegexMatch(r.into_proto())),
            ),
            ("range_match", range.map(Header::RangeMatch)),
            (
                "present_match",
                self.present_match.map(Header::PresentMatch),
            ),
            ("prefix_match", self.prefix_match.map(Header::PrefixMatch)),
            ("suffix_match", self.suffix_match.map(Header::SuffixMatch)),
            (
                "contains_match",
                self.contains_match.map(Header::ContainsMatch),
            ),
            ("string_match", string_match.map(Header::StringMatch)),
        ])?;
        Ok(pb::HeaderMatcher {
            name: self.name,
            invert_match: self.invert_match,
            treat_missing_header_as_empty: self.treat_missing_header_as_empty,
            header_match_specifier,
        })
    }
}

/// `config.route.v3.QueryParameterMatcher`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QueryParameterMatcher {
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(alias = "stringMatch")]
    string_match: Option<StringMatcher>,
    #[serde(alias = "presentMatch")]
    present_match: Option<bool>,
}

impl QueryParameterMatcher {
    fn into_proto(self) -> Result<pb::QueryParameterMatcher, ConfigError> {
        let string_match = opt(self.string_match, "string_match", StringMatcher::into_proto)?;
        Ok(pb::QueryParameterMatcher {
            name: self.name,
            query_parameter_match_specifier: oneof([
                ("string_match", string_match.map(Query::StringMatch)),
                ("present_match", self.present_match.map(Query::PresentMatch)),
            ])?,
        })
    }
}

/// `config.route.v3.RouteMatch`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RouteMatch {
    prefix: Option<String>,
    path: Option<String>,
    #[serde(alias = "safeRegex")]
    safe_regex: Option<RegexMatcher>,
    #[serde(alias = "pathSeparatedPrefix")]
    path_separated_prefix: Option<String>,
    #[serde(alias = "connectMatcher")]
    connect_matcher: Option<IgnoredAny>,
    #[serde(alias = "pathMatchPolicy")]
    path_match_policy: Option<IgnoredAny>,
    #[serde(alias = "caseSensitive")]
    case_sensitive: Option<bool>,
    #[serde(deserialize_with = "nullable")]
    headers: Vec<HeaderMatcher>,
    #[serde(alias = "queryParameters", deserialize_with = "nullable")]
    query_parameters: Vec<QueryParameterMatcher>,
    grpc: Option<IgnoredAny>,
    #[serde(alias = "runtimeFraction")]
    runtime_fraction: Option<RuntimeFractionalPercent>,
}

impl RouteMatch {
    pub(super) fn into_proto(self) -> Result<pb::RouteMatch, ConfigError> {
        let path_specifier = oneof([
            ("prefix", self.prefix.map(Path::Prefix)),
            ("path", self.path.map(Path::Path)),
            (
                "safe_regex",
                self.safe_regex.map(|r| Path::SafeRegex(r.into_proto())),
            ),
            (
                "path_separated_prefix",
                self.path_separated_prefix.map(Path::PathSeparatedPrefix),
            ),
            (
                "connect_matcher",
                self.connect_matcher
                    .map(|_| Path::ConnectMatcher(Default::default())),
            ),
            (
                "path_match_policy",
                self.path_match_policy
                    .map(|_| Path::PathMatchPolicy(Default::default())),
            ),
        ])?;
        Ok(pb::RouteMatch {
            path_specifier,
            case_sensitive: self.case_sensitive.map(|value| BoolValue { value }),
            headers: each(self.headers, "headers", HeaderMatcher::into_proto)?,
            query_parameters: each(
                self.query_parameters,
                "query_parameters",
                QueryParameterMatcher::into_proto,
            )?,
            grpc: self.grpc.map(|_| Default::default()),
            runtime_fraction: self
                .runtime_fraction
                .map(RuntimeFractionalPercent::into_proto),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::envoy::proto::type_name;

    fn route_match(yaml: &str) -> Result<pb::RouteMatch, ConfigError> {
        serde_yaml::from_str::<RouteMatch>(yaml)
            .unwrap()
            .into_proto()
    }

    #[test]
    #[allow(deprecated)]
    fn camel_and_snake_case_both_read() {
        let m = route_match(
            "{pathSeparatedPrefix: /api, caseSensitive: false,
              headers: [{name: x-a, exactMatch: '1', invertMatch: true},
                        {name: x-b, string_match: {safeRegex: {regex: 'v.*'}, ignoreCase: true}},
                        {name: x-c, rangeMatch: {start: '1', end: 5}}],
              queryParameters: [{name: q, presentMatch: true}]}",
        )
        .unwrap();
        assert_eq!(
            m.path_specifier,
            Some(Path::PathSeparatedPrefix("/api".into()))
        );
        assert_eq!(m.case_sensitive, Some(BoolValue { value: false }));
        assert_eq!(
            m.headers[0].header_match_specifier,
            Some(Header::ExactMatch("1".into()))
        );
        assert!(m.headers[0].invert_match);
        let Some(Header::StringMatch(sm)) = &m.headers[1].header_match_specifier else {
            panic!("{:?}", m.headers[1]);
        };
        assert!(sm.ignore_case);
        assert_eq!(
            m.headers[2].header_match_specifier,
            Some(Header::RangeMatch(PbInt64Range { start: 1, end: 5 }))
        );
        assert_eq!(
            m.query_parameters[0].query_parameter_match_specifier,
            Some(Query::PresentMatch(true))
        );
        assert_eq!(type_name("a/b.C"), "b.C");
    }

    #[test]
    fn two_members_of_a_oneof_are_rejected() {
        let e = route_match("{prefix: /, path: /x}").unwrap_err();
        assert_eq!(e.field, "path");
        let e =
            route_match("{prefix: /, headers: [{name: a, exact_match: x, present_match: true}]}")
                .unwrap_err();
        assert_eq!(e.field, "headers[0].present_match");
        let m = route_match("{prefix: /, headers: ~, query_parameters: null}").unwrap();
        assert!(m.headers.is_empty());
    }
}
