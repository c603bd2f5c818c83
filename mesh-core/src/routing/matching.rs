//! Does a request satisfy a route's match? Envoy's rules, in order of
//! cost: the path first, then headers, then query parameters, the gRPC
//! content type, and last the random draw of a fractional route (so a
//! request that fails the rest draws nothing).

use crate::RequestHead;
use crate::config::{PathMatch, RouteMatch};
use crate::rng::MeshRng;

/// Whether `request` satisfies every part of `matcher`; `rng` draws the
/// fraction of a fractional route.
pub fn route_matches(
    matcher: &RouteMatch,
    request: &RequestHead<'_>,
    rng: &mut dyn MeshRng,
) -> bool {
    path_matches(&matcher.path, matcher.case_sensitive, request)
        && matcher.headers.iter().all(|h| h.matches(request))
        && matcher
            .query_params
            .iter()
            .all(|q| q.matches(request.query))
        && (!matcher.grpc_only || crate::is_grpc(request.headers))
        && matcher.fraction.is_none_or(|f| f.drawn(rng))
}

fn path_matches(rule: &PathMatch, case_sensitive: bool, request: &RequestHead<'_>) -> bool {
    let path = request.path.as_bytes();
    match rule {
        PathMatch::Prefix(prefix) => {
            // Envoy compares a prefix with the whole `:path`, query included.
            let prefix = prefix.as_bytes();
            if path.len() >= prefix.len() {
                return starts_with(path, prefix, case_sensitive);
            }
            let (head, rest) = prefix.split_at(path.len());
            equals(path, head, case_sensitive)
                && rest.first() == Some(&b'?')
                && starts_with(request.query.as_bytes(), &rest[1..], case_sensitive)
        }
        PathMatch::Exact(exact) => equals(path, exact.as_bytes(), case_sensitive),
        PathMatch::Regex(regex) => regex.is_match(request.path),
        PathMatch::PathSeparatedPrefix(prefix) => {
            starts_with(path, prefix.as_bytes(), case_sensitive)
                && matches!(path.get(prefix.len()), None | Some(b'/'))
        }
    }
}

fn starts_with(value: &[u8], prefix: &[u8], case_sensitive: bool) -> bool {
    value.len() >= prefix.len() && equals(&value[..prefix.len()], prefix, case_sensitive)
}

fn equals(value: &[u8], expected: &[u8], case_sensitive: bool) -> bool {
    if case_sensitive {
        value == expected
    } else {
        value.eq_ignore_ascii_case(expected)
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::config::Fraction;
    use crate::config::{
        FullRegex, HeaderMatcher, HeaderRule, QueryParamMatcher, QueryRule, StringMatcher,
    };
    use crate::rng::SeededRng;

    fn request<'a>(path: &'a str, query: &'a str, headers: &'a HeaderMap) -> RequestHead<'a> {
        RequestHead {
            method: "GET",
            scheme: "http",
            authority: "orders",
            path,
            query,
            headers,
            source_ip: None,
        }
    }

    fn path_rule(rule: PathMatch, case_sensitive: bool) -> RouteMatch {
        RouteMatch {
            path: rule,
            case_sensitive,
            ..RouteMatch::any()
        }
    }

    #[test]
    fn path_matchers_table() {
        let prefix = |p: &str| PathMatch::Prefix(p.into());
        let exact = |p: &str| PathMatch::Exact(p.into());
        let regex = |p: &str| PathMatch::Regex(FullRegex::new(p).unwrap());
        let psp = |p: &str| PathMatch::path_separated_prefix(p).unwrap();
        let cases = [
            // Prefix "/" matches everything.
            (prefix("/"), true, "/", "", true),
            (prefix("/"), true, "/anything/at/all", "x=1", true),
            (prefix("/api"), true, "/api", "", true),
            (prefix("/api"), true, "/apis", "", true),
            (prefix("/api"), true, "/ap", "", false),
            (prefix("/API"), true, "/api", "", false),
            (prefix("/API"), false, "/api/x", "", true),
            // A prefix reaches into the query, as Envoy's does on `:path`.
            (prefix("/api?v=2"), true, "/api", "v=2&x", true),
            (prefix("/api?v=2"), true, "/api", "v=3", false),
            // Exact ignores the query.
            (exact("/api"), true, "/api", "x=1", true),
            (exact("/api"), true, "/api/", "", false),
            (exact("/API"), false, "/api", "", true),
            (exact("/API"), true, "/api", "", false),
            // Regex is a full match of the path without the query.
            (regex("/api/[0-9]+"), true, "/api/42", "q", true),
            (regex("/api/[0-9]+"), true, "/api/42/x", "", false),
            (regex("/api/[0-9]+"), true, "/v1/api/42", "", false),
            (regex("/api/.*"), true, "/api/", "", true),
            // Path-separated prefix.
            (psp("/api"), true, "/api", "", true),
            (psp("/api"), true, "/api/x", "", true),
            (psp("/api"), true, "/apix", "", false),
            (psp("/api"), true, "/API/x", "", false),
            (psp("/api"), false, "/API/x", "", true),
        ];
        let headers = HeaderMap::new();
        for (i, (rule, case_sensitive, path, query, want)) in cases.into_iter().enumerate() {
            let m = path_rule(rule, case_sensitive);
            assert_eq!(
                route_matches(&m, &request(path, query, &headers), &mut SeededRng::new(0)),
                want,
                "case {i}: {m:?} on {path}?{query}"
            );
        }
    }

    #[test]
    fn grpc_only_routes_need_the_grpc_content_type() {
        let m = RouteMatch {
            grpc_only: true,
            ..RouteMatch::any()
        };
        let mut rng = SeededRng::new(0);
        let mut headers = HeaderMap::new();
        assert!(!route_matches(&m, &request("/", "", &headers), &mut rng));
        headers.insert("content-type", "application/grpc+proto".parse().unwrap());
        assert!(route_matches(&m, &request("/", "", &headers), &mut rng));
        headers.insert("content-type", "application/json".parse().unwrap());
        assert!(!route_matches(&m, &request("/", "", &headers), &mut rng));
    }

    #[test]
    fn a_fractional_route_matches_its_fraction() {
        let m = RouteMatch {
            fraction: Some(Fraction::new(5, 100)),
            ..RouteMatch::any()
        };
        let mut rng = SeededRng::new(9);
        let headers = HeaderMap::new();
        let hits = (0..20_000)
            .filter(|_| route_matches(&m, &request("/", "", &headers), &mut rng))
            .count();
        // 5% of 20 000 is 1 000, standard deviation about 31.
        assert!((850..=1_150).contains(&hits), "{hits}");
        let none = RouteMatch {
            fraction: Some(Fraction::new(0, 100)),
            ..RouteMatch::any()
        };
        assert!(!route_matches(&none, &request("/", "", &headers), &mut rng));
    }

    #[test]
    fn bad_path_separated_prefixes_are_rejected() {
        for bad in ["api", "/api/", "/a?b", "/a#b", "/", ""] {
            assert!(PathMatch::path_separated_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_part_must_match() {
        let mut rng = SeededRng::new(0);
        let mut headers = HeaderMap::new();
        headers.insert("x-canary", "always".parse().unwrap());
        let m = RouteMatch {
            headers: vec![
                HeaderMatcher::new(
                    "x-canary",
                    HeaderRule::Value(StringMatcher::exact("always")),
                    false,
                    false,
                )
                .unwrap(),
            ],
            query_params: vec![QueryParamMatcher::new("debug", QueryRule::Present).unwrap()],
            ..RouteMatch::any()
        };
        assert!(route_matches(
            &m,
            &request("/", "debug", &headers),
            &mut rng
        ));
        assert!(!route_matches(&m, &request("/", "", &headers), &mut rng));
        let empty = HeaderMap::new();
        assert!(!route_matches(&m, &request("/", "debug", &empty), &mut rng));
    }

    #[test]
    fn non_ascii_paths_do_not_panic() {
        let mut rng = SeededRng::new(0);
        let headers = HeaderMap::new();
        let m = path_rule(PathMatch::Prefix("/ab".into()), false);
        assert!(!route_matches(&m, &request("/é", "", &headers), &mut rng));
        let m = path_rule(PathMatch::Exact("/éa".into()), false);
        assert!(route_matches(&m, &request("/éA", "", &headers), &mut rng));
    }
}
