//! `server_uri` forms: what a bootstrap's server target dials.

/// What a `server_uri` dials.
#[derive(Debug, PartialEq)]
pub(super) enum Target {
    /// `unix:` and `http(s)://`: dialed as written.
    AsIs,
    /// A TCP address; `host` keeps an IPv6 literal's brackets.
    HostPort { host: String, port: u16 },
}

pub(super) fn parse_target(uri: &str) -> Result<Target, String> {
    if let Some(path) = uri.strip_prefix("unix:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err("a unix: target needs a socket path".into());
        }
        return Ok(Target::AsIs);
    }
    if uri.starts_with("http://") || uri.starts_with("https://") {
        let parsed: http::Uri = uri.parse().map_err(|e| format!("not a valid URL: {e}"))?;
        if parsed.host().is_none_or(str::is_empty) {
            return Err("the URL has no host".into());
        }
        if parsed.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err("the URL must not have a path".into());
        }
        return Ok(Target::AsIs);
    }
    let address = if let Some(rest) = uri
        .strip_prefix("dns:")
        .or_else(|| uri.strip_prefix("passthrough:"))
    {
        match rest.strip_prefix("//") {
            None => rest,
            Some(with_authority) => match with_authority.split_once('/') {
                Some(("", address)) => address,
                Some((server, _)) => {
                    return Err(format!(
                        "a target authority ({server:?}, a DNS server) is not supported"
                    ));
                }
                None => return Err("expected scheme:///host:port".into()),
            },
        }
    } else if let Some(rest) = uri
        .strip_prefix("ipv4:")
        .or_else(|| uri.strip_prefix("ipv6:"))
    {
        if rest.contains(',') {
            return Err("address lists are not supported: give one address".into());
        }
        rest
    } else if let Some((scheme, _)) = uri.split_once("://") {
        return Err(format!(
            "unsupported scheme {scheme:?} (use host:port, dns:///host:port, unix:path, http:// or https://)"
        ));
    } else {
        uri
    };
    parse_host_port(address)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the port defaults to 443.
fn parse_host_port(address: &str) -> Result<Target, String> {
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address is missing its closing bracket")?;
        if v6.is_empty() || v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{v6:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected :port after ]")?),
        };
        (&address[..v6.len() + 2], port)
    } else {
        match address.split_once(':') {
            Some((_, p)) if p.contains(':') => {
                return Err("an IPv6 address needs brackets: [addr]:port".into());
            }
            Some((h, p)) => (h, Some(p)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b"/?#@".contains(&b))
    {
        return Err(format!("{host:?} is not a host name"));
    }
    let port = match port {
        None => 443,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{p:?} is not a port number"))?,
    };
    Ok(Target::HostPort {
        host: host.to_owned(),
        port,
    })
}
