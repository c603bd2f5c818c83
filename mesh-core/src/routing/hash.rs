//! The request hash that ring-hash balancing consumes.
//!
//! Envoy's rules: hash policies are tried in order; each that finds its
//! input contributes `xxh64(input)`, folded into the running hash as
//! `rotl(hash, 1) ^ new`; after a terminal policy, the walk stops if any
//! hash exists by then (its own or an earlier one's). A header with several
//! values hashes them sorted, so their order does not matter. No input
//! anywhere means no hash, and the balancer picks at random.

use xxhash_rust::xxh64::xxh64;

use crate::RequestHead;
use crate::config::matcher::query_param;
use crate::config::{HashPolicy, HashSource};

/// The hash of `request` under `policies`, if any policy found its input.
pub fn request_hash(policies: &[HashPolicy], request: &RequestHead<'_>) -> Option<u64> {
    let mut hash: Option<u64> = None;
    for policy in policies {
        if let Some(new) = hash_input(&policy.source, request, |bytes| xxh64(bytes, 0)) {
            hash = Some(hash.map_or(new, |h| h.rotate_left(1) ^ new));
        }
        if policy.terminal && hash.is_some() {
            break;
        }
    }
    hash
}

fn hash_input(
    source: &HashSource,
    request: &RequestHead<'_>,
    digest: impl Fn(&[u8]) -> u64,
) -> Option<u64> {
    match source {
        HashSource::Header(name) => {
            let mut values = request.headers.get_all(name).iter();
            let first = values.next()?;
            let Some(second) = values.next() else {
                return Some(digest(first.as_bytes()));
            };
            // Several values hash together, sorted.
            let mut all: Vec<&[u8]> = [first, second]
                .into_iter()
                .chain(values)
                .map(http::HeaderValue::as_bytes)
                .collect();
            all.sort_unstable();
            Some(digest(&all.concat()))
        }
        HashSource::Cookie(name) => cookie(request, name).map(|v| digest(v.as_bytes())),
        HashSource::SourceIp => request
            .source_ip
            .map(|ip| digest(ip.to_string().as_bytes())),
        HashSource::QueryParameter(name) => {
            query_param(request.query, name).map(|v| digest(v.as_bytes()))
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'r>(request: &RequestHead<'r>, name: &str) -> Option<&'r str> {
    request
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderName};

    use super::*;

    fn head<'a>(headers: &'a HeaderMap, query: &'a str) -> RequestHead<'a> {
        RequestHead {
            method: "GET",
            scheme: "http",
            authority: "a",
            path: "/",
            query,
            headers,
            source_ip: Some([10, 0, 0, 1].into()),
        }
    }

    fn policy(source: HashSource, terminal: bool) -> HashPolicy {
        HashPolicy { source, terminal }
    }

    #[test]
    fn header_cookie_query_and_source_hash_their_values() {
        let mut headers = HeaderMap::new();
        headers.insert("x-user", "alice".parse().unwrap());
        headers.insert("cookie", "a=1; session=s1; b=2".parse().unwrap());
        let h = head(&headers, "tenant=t1");
        let user = HeaderName::from_static("x-user");
        let one = |s| request_hash(&[policy(s, false)], &h);
        assert_eq!(
            one(HashSource::Header(user.clone())),
            Some(xxh64(b"alice", 0))
        );
        assert_eq!(
            one(HashSource::Cookie("session".into())),
            Some(xxh64(b"s1", 0))
        );
        assert_eq!(
            one(HashSource::QueryParameter("tenant".into())),
            Some(xxh64(b"t1", 0))
        );
        assert_eq!(one(HashSource::SourceIp), Some(xxh64(b"10.0.0.1", 0)));
        assert_eq!(one(HashSource::Cookie("missing".into())), None);
        assert_eq!(request_hash(&[], &h), None);
    }

    #[test]
    fn policies_fold_and_terminal_stops() {
        let mut headers = HeaderMap::new();
        headers.insert("x-a", "1".parse().unwrap());
        headers.insert("x-b", "2".parse().unwrap());
        let h = head(&headers, "");
        let a = HashSource::Header(HeaderName::from_static("x-a"));
        let b = HashSource::Header(HeaderName::from_static("x-b"));
        let missing = HashSource::Header(HeaderName::from_static("x-missing"));
        let (ha, hb) = (xxh64(b"1", 0), xxh64(b"2", 0));
        let both = request_hash(&[policy(a.clone(), false), policy(b.clone(), false)], &h);
        assert_eq!(both, Some(ha.rotate_left(1) ^ hb));
        let first = request_hash(&[policy(a, true), policy(b.clone(), false)], &h);
        assert_eq!(first, Some(ha));
        // A terminal policy without input stops the walk only when an
        // earlier policy produced a hash.
        let skip = request_hash(
            &[policy(missing.clone(), true), policy(b.clone(), false)],
            &h,
        );
        assert_eq!(skip, Some(hb));
        let a = HashSource::Header(HeaderName::from_static("x-a"));
        let stop = request_hash(
            &[policy(a, false), policy(missing, true), policy(b, false)],
            &h,
        );
        assert_eq!(stop, Some(ha));
    }

    #[test]
    fn repeated_header_values_hash_in_any_order() {
        let name = HeaderName::from_static("x-k");
        let hash_of = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(name.clone(), v.parse().unwrap());
            }
            request_hash(
                &[policy(HashSource::Header(name.clone()), false)],
                &head(&headers, ""),
            )
        };
        assert_eq!(hash_of(&["b", "a"]), hash_of(&["a", "b"]));
        assert_eq!(hash_of(&["b", "a"]), Some(xxh64(b"ab", 0)));
    }
}
