//! `HTTPMatchRequest` → [`RouteMatch`].
//!
//! As Istio translates it for Envoy: `uri` exact/prefix/regex is the
//! path rule (plain prefix, query included, as for mesh VirtualServices),
//! `ignoreUriCase` makes literal path rules case-insensitive (it does not
//! touch a regex, as in Envoy); `headers`, `method` (`:method`),
//! `authority` (`:authority`) and `scheme` (`:scheme`) become header
//! matchers; `withoutHeaders` become inverted ones that treat a missing
//! header as empty (so `withoutHeaders: {x: {exact: a}}` matches a request
//! without `x`); `queryParams` become query matchers. A `StringMatch` with
//! no rule (`{}`), an empty prefix, or the regex `*` checks presence only.
//! Regexes must match the whole value (RE2 full match).
//!
//! A match block with a `port` other than the listener's, or with
//! `gateways` that do not include `mesh`, does not apply to this listener.
//! `sourceLabels` and `sourceNamespace` are rejected: the engine does not
//! know the labels of the workload it is embedded in, so it cannot decide
//! them the way Istio decides them per proxy. JWT-claim pseudo-headers
//! (`@request.auth.claims...`) are rejected too.

use super::spec::{HttpMatchSpec, StringMatchSpec};
use super::values;
use crate::config::{
    ConfigError, FullRegex, HeaderMatcher, HeaderRule, PathMatch, QueryParamMatcher, QueryRule,
    ResultExt, RouteMatch, StringMatch, StringMatcher,
};

/// The rule a `StringMatch` spells.
enum Rule {
    /// Only presence is checked.
    Present,
    /// The value must match.
    Value(StringMatcher),
}

/// Converts one match block for the listener on `listener_port`; `None`
/// when the block does not apply to that listener.
pub(crate) fn route_match(
    spec: &HttpMatchSpec,
    listener_port: u16,
) -> Result<Option<RouteMatch>, ConfigError> {
    if !spec.source_labels.is_empty() {
        return Err(ConfigError::field(
            "sourceLabels",
            "not supported: the engine does not know its own workload's labels",
        ));
    }
    if spec
        .source_namespace
        .as_deref()
        .is_some_and(|n| !n.is_empty())
    {
        return Err(ConfigError::field(
            "sourceNamespace",
            "not supported: the engine does not know its own workload's namespace",
        ));
    }
    let port = spec.port.map(|p| values::port(p).at("port")).transpose()?;
    let mut out = RouteMatch::any();
    if let Some(uri) = &spec.uri {
        out.path = path(uri).at("uri")?;
    }
    out.case_sensitive = !spec.ignore_uri_case;
    for (name, rule) in &spec.headers {
        let field = format!("headers.{name}");
        out.headers
            .push(header(name, rule.as_ref(), false).at(field)?);
    }
    for (name, rule) in &spec.without_headers {
        let field = format!("withoutHeaders.{name}");
        out.headers
            .push(header(name, rule.as_ref(), true).at(field)?);
    }
    let pseudo = [
        (":method", "method", &spec.method),
        (":authority", "authority", &spec.authority),
        (":scheme", "scheme", &spec.scheme),
    ];
    for (name, field, rule) in pseudo {
        if let Some(rule) = rule {
            out.headers.push(header(name, Some(rule), false).at(field)?);
        }
    }
    for (name, rule) in &spec.query_params {
        let field = format!("queryParams.{name}");
        let rule = match string_rule(rule.as_ref()).at(&field)? {
            Rule::Present => QueryRule::Present,
            Rule::Value(m) => QueryRule::Value(m),
        };
        out.query_params
            .push(QueryParamMatcher::new(name, rule).at(&field)?);
    }
    let other_port = port.is_some_and(|p| p != listener_port);
    let gateway_only = !spec.gateways.is_empty() && !spec.gateways.iter().any(|g| g == "mesh");
    Ok((!other_port && !gateway_only).then_some(out))
}

fn path(spec: &StringMatchSpec) -> Result<PathMatch, ConfigError> {
    Ok(match exclusive(spec)? {
        None => PathMatch::Prefix("/".into()),
        Some(Spelled::Exact(v)) => PathMatch::Exact(v.into()),
        Some(Spelled::Prefix(v)) => PathMatch::Prefix(v.into()),
        Some(Spelled::Regex(r)) => PathMatch::Regex(FullRegex::new(r)?),
    })
}

fn header(
    name: &str,
    spec: Option<&StringMatchSpec>,
    invert: bool,
) -> Result<HeaderMatcher, ConfigError> {
    if name.starts_with('@') {
        return Err(ConfigError::field(
            "",
            format!("{name:?}: JWT claim matching is not supported"),
        ));
    }
    let (rule, missing_as_empty) = match string_rule(spec)? {
        Rule::Present => (HeaderRule::Present(true), false),
        // Istio: an inverted value match treats a missing header as "".
        Rule::Value(m) => (HeaderRule::Value(m), invert),
    };
    HeaderMatcher::new(name, rule, invert, missing_as_empty)
}

fn string_rule(spec: Option<&StringMatchSpec>) -> Result<Rule, ConfigError> {
    let Some(spec) = spec else {
        return Ok(Rule::Present);
    };
    let kind = match exclusive(spec)? {
        None => return Ok(Rule::Present),
        Some(Spelled::Prefix("")) | Some(Spelled::Regex("*")) => return Ok(Rule::Present),
        Some(Spelled::Exact(v)) => StringMatch::Exact(v.into()),
        Some(Spelled::Prefix(v)) => StringMatch::Prefix(v.into()),
        Some(Spelled::Regex(r)) => StringMatch::Regex(FullRegex::new(r)?),
    };
    Ok(Rule::Value(StringMatcher::new(kind, false)?))
}

enum Spelled<'a> {
    Exact(&'a str),
    Prefix(&'a str),
    Regex(&'a str),
}

/// The one rule a `StringMatch` sets, if any.
fn exclusive(spec: &StringMatchSpec) -> Result<Option<Spelled<'_>>, ConfigError> {
    let set = [
        spec.exact.as_deref().map(Spelled::Exact),
        spec.prefix.as_deref().map(Spelled::Prefix),
        spec.regex.as_deref().map(Spelled::Regex),
    ];
    let mut set = set.into_iter().flatten();
    let first = set.next();
    if set.next().is_some() {
        return Err(ConfigError::field(
            "",
            "exact, prefix and regex are mutually exclusive",
        ));
    }
    Ok(first)
}
