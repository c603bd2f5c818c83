//! Virtual-host domains and how an authority selects one.
//!
//! Envoy's order: an exact domain first, then the longest `*.suffix`
//! wildcard, then the longest `prefix.*` wildcard, then `*`. Matching is
//! case-insensitive and port-aware: a domain written with a port
//! (`orders:8080`) matches only that authority, while a domain without a
//! port also matches the host of an authority that carries one (so
//! `orders` serves `orders:80`, the way Istio's generated domains list both
//! forms). Wildcards match at least one character.

use std::collections::HashMap;

use crate::fast_hash::FastMap;

use super::ConfigError;

/// One entry of a virtual host's `domains`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DomainPattern {
    /// `orders.svc` or `orders.svc:80`: equal, ignoring case.
    Exact(Box<str>),
    /// `*.svc`: stored as the suffix `.svc`.
    Suffix(Box<str>),
    /// `orders.*`: stored as the prefix `orders.`.
    Prefix(Box<str>),
    /// `*`: everything.
    Any,
}

impl DomainPattern {
    /// Parses a domain as written in a virtual host.
    pub fn parse(domain: &str) -> Result<Self, ConfigError> {
        let d = domain.to_ascii_lowercase();
        let stars = d.matches('*').count();
        let bad = |why: &str| ConfigError::field("domains", format!("{domain:?}: {why}"));
        if d.is_empty() {
            return Err(bad("must not be empty"));
        }
        if d.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(bad("holds whitespace or '/'"));
        }
        match (stars, d.as_str()) {
            (0, _) => Ok(Self::Exact(d.into())),
            (1, "*") => Ok(Self::Any),
            (1, _) if d.starts_with('*') => Ok(Self::Suffix(d[1..].into())),
            (1, _) if d.ends_with('*') => Ok(Self::Prefix(d[..d.len() - 1].into())),
            _ => Err(bad("a wildcard may only stand alone, first or last, once")),
        }
    }

    /// How specific this pattern is, for ordering wildcards: the length of
    /// its literal part.
    fn literal_len(&self) -> usize {
        match self {
            Self::Exact(s) | Self::Suffix(s) | Self::Prefix(s) => s.len(),
            Self::Any => 0,
        }
    }

    fn matches(&self, authority: &str) -> bool {
        match self {
            Self::Exact(s) => &**s == authority,
            Self::Suffix(s) => authority.len() > s.len() && authority.ends_with(&**s),
            Self::Prefix(s) => authority.len() > s.len() && authority.starts_with(&**s),
            Self::Any => true,
        }
    }
}

/// A lookup from authority to virtual-host index, built once per table.
#[derive(Debug, Clone, Default)]
pub struct DomainIndex {
    exact: FastMap<Box<str>, usize>,
    /// Sorted longest first.
    suffixes: Vec<(DomainPattern, usize)>,
    /// Sorted longest first.
    prefixes: Vec<(DomainPattern, usize)>,
    any: Option<usize>,
}

impl DomainIndex {
    /// Indexes `(virtual host index, domains)`; a domain served by two
    /// virtual hosts is an error, as in Envoy.
    pub fn new<'a>(
        hosts: impl IntoIterator<Item = (usize, &'a [DomainPattern])>,
    ) -> Result<Self, ConfigError> {
        let mut index = Self::default();
        let mut seen = HashMap::new();
        for (vh, domains) in hosts {
            for (d, pattern) in domains.iter().enumerate() {
                if let Some(other) = seen.insert(pattern.clone(), vh) {
                    return Err(ConfigError::field(
                        format!("virtual_hosts[{vh}].domains[{d}]"),
                        format!("{pattern:?} is already served by virtual_hosts[{other}]"),
                    ));
                }
                match pattern {
                    DomainPattern::Exact(s) => {
                        index.exact.insert(s.clone(), vh);
                    }
                    DomainPattern::Suffix(_) => index.suffixes.push((pattern.clone(), vh)),
                    DomainPattern::Prefix(_) => index.prefixes.push((pattern.clone(), vh)),
                    DomainPattern::Any => index.any = Some(vh),
                }
            }
        }
        index
            .suffixes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.literal_len()));
        index
            .prefixes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.literal_len()));
        Ok(index)
    }

    /// The virtual host that serves `authority` (any case), if any.
    pub fn find(&self, authority: &str) -> Option<usize> {
        if authority.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.find_lower(&authority.to_ascii_lowercase());
        }
        self.find_lower(authority)
    }

    /// Each tier (exact, suffix, prefix) tries the full authority, then the
    /// host without its port, before the next tier.
    fn find_lower(&self, authority: &str) -> Option<usize> {
        let host = strip_port(authority);
        let forms = [authority, host];
        let forms = &forms[..if host == authority { 1 } else { 2 }];
        let wildcard = |list: &[(DomainPattern, usize)]| {
            forms.iter().find_map(|form| {
                list.iter()
                    .find(|(p, _)| p.matches(form))
                    .map(|(_, vh)| *vh)
            })
        };
        forms
            .iter()
            .find_map(|form| self.exact.get(*form).copied())
            .or_else(|| wildcard(&self.suffixes))
            .or_else(|| wildcard(&self.prefixes))
            .or(self.any)
    }
}

/// `host:port` → `host`; IPv6 literals keep their brackets.
pub(crate) fn strip_port(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(i) if authority[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            let host = &authority[..i];
            if host.starts_with('[') && !host.ends_with(']') {
                authority
            } else {
                host
            }
        }
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(hosts: &[&[&str]]) -> DomainIndex {
        let parsed: Vec<Vec<DomainPattern>> = hosts
            .iter()
            .map(|ds| {
                ds.iter()
                    .map(|d| DomainPattern::parse(d).unwrap())
                    .collect()
            })
            .collect();
        DomainIndex::new(parsed.iter().enumerate().map(|(i, d)| (i, &d[..]))).unwrap()
    }

    #[test]
    fn selection_order_table() {
        let idx = index(&[
            &["orders.svc", "orders.svc:8080"], // 0
            &["*.svc"],                         // 1
            &["*.b.svc"],                       // 2
            &["orders.*"],                      // 3
            &["orders.internal.*"],             // 4
            &["*"],                             // 5
            &["pay:9000"],                      // 6
        ]);
        let cases = [
            ("orders.svc", Some(0)),
            ("ORDERS.svc", Some(0)),
            ("orders.svc:8080", Some(0)),
            ("orders.svc:80", Some(0)), // a portless domain serves any port
            ("a.b.svc", Some(2)),       // longest suffix wins
            ("x.svc", Some(1)),
            ("x.svc:1234", Some(1)),
            (".svc", Some(5)), // a wildcard matches at least one character
            ("orders.internal.x", Some(4)), // longest prefix wins
            ("orders.x", Some(3)),
            ("pay:9000", Some(6)),
            ("pay:9001", Some(5)), // a domain with a port matches only that port
            ("pay", Some(5)),
            ("[::1]:80", Some(5)),
        ];
        for (authority, want) in cases {
            assert_eq!(idx.find(authority), want, "{authority}");
        }
    }

    #[test]
    fn suffix_beats_prefix_and_no_any_means_none() {
        let idx = index(&[&["orders.*"], &["*.svc"]]);
        assert_eq!(idx.find("orders.svc"), Some(1));
        assert_eq!(idx.find("unknown"), None);
    }

    #[test]
    fn bad_domains_and_duplicates_are_rejected() {
        for bad in ["", "a*b", "*.*", "**", "a b", "x/y"] {
            assert!(DomainPattern::parse(bad).is_err(), "{bad:?}");
        }
        let a = [DomainPattern::parse("x").unwrap()];
        let b = [DomainPattern::parse("X").unwrap()];
        let e = DomainIndex::new([(0, &a[..]), (1, &b[..])]).unwrap_err();
        assert_eq!(e.field, "virtual_hosts[1].domains[0]");
    }

    #[test]
    fn strip_port_keeps_ipv6() {
        assert_eq!(strip_port("a:80"), "a");
        assert_eq!(strip_port("a"), "a");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}
