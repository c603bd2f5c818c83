//! A request head kept for the attempts after the first.
//!
//! A request that may be retried (or hedged) must keep its head: the
//! transport consumes the one it sends. Cloning an `http` head is not
//! cheap, though: each header value is a `Bytes`, and one built from a
//! string (most of what a client sets) is promoted to a shared buffer on
//! its first clone, an allocation per header, with a reference count to
//! touch again on every drop. Most requests are never retried, so the head
//! is packed instead: its URI, names and values copied into one buffer,
//! one allocation. The first attempt sends the caller's own head; a retry
//! unpacks a new one, paying then what the copy saved.

use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::{self, Uri};
use http::{HeaderMap, Method, Version};
use mesh_core::{Error, ErrorKind};

/// Marks a sensitive value in a packed header's length.
const SENSITIVE: u32 = 1 << 31;

/// The parts of a request head an attempt needs, packed for later.
#[derive(Debug)]
pub(crate) struct ReplayHead {
    method: Method,
    version: Version,
    extensions: http::Extensions,
    /// How many header values are packed.
    headers: usize,
    /// The scheme, authority and path-and-query, each prefixed by its
    /// length, then every header as `name length, value length (high bit:
    /// sensitive), name, value`, lengths as little-endian `u32`.
    packed: Vec<u8>,
}

impl ReplayHead {
    /// Packs `head` (which stays as it is).
    pub(crate) fn pack(head: &Parts) -> Self {
        let uri = [
            head.uri.scheme_str().unwrap_or_default(),
            head.uri.authority().map_or("", uri::Authority::as_str),
            head.uri
                .path_and_query()
                .map_or("", uri::PathAndQuery::as_str),
        ];
        // Measured to the byte: a buffer of a size the allocator sees
        // again and again comes back from its cache.
        let size = uri.iter().map(|part| 4 + part.len()).sum::<usize>()
            + head
                .headers
                .iter()
                .map(|(name, value)| 8 + name.as_str().len() + value.len())
                .sum::<usize>();
        let mut packed = Vec::with_capacity(size);
        for part in uri {
            push_len(&mut packed, part.len());
            packed.extend_from_slice(part.as_bytes());
        }
        for (name, value) in &head.headers {
            push_len(&mut packed, name.as_str().len());
            let sensitive = if value.is_sensitive() { SENSITIVE } else { 0 };
            packed.extend_from_slice(&(len_u32(value.len()) | sensitive).to_le_bytes());
            packed.extend_from_slice(name.as_str().as_bytes());
            packed.extend_from_slice(value.as_bytes());
        }
        Self {
            method: head.method.clone(),
            version: head.version,
            extensions: head.extensions.clone(),
            headers: head.headers.len(),
            packed,
        }
    }

    /// A new head equal to the one packed.
    pub(crate) fn unpack(&self) -> Result<Parts, Error> {
        let mut reader = Reader(&self.packed);
        let mut parts = uri::Parts::default();
        let scheme = reader.take_part();
        let authority = reader.take_part();
        let path = reader.take_part();
        if !scheme.is_empty() {
            parts.scheme = Some(scheme.try_into().map_err(corrupt)?);
        }
        if !authority.is_empty() {
            parts.authority = Some(uri::Authority::try_from(authority).map_err(corrupt)?);
        }
        if !path.is_empty() {
            parts.path_and_query = Some(uri::PathAndQuery::try_from(path).map_err(corrupt)?);
        }
        let mut headers = HeaderMap::with_capacity(self.headers);
        for _ in 0..self.headers {
            let name_len = reader.take_len() as usize;
            let value_len = reader.take_len();
            let name = HeaderName::from_bytes(reader.take(name_len)).map_err(corrupt)?;
            let bytes = reader.take((value_len & !SENSITIVE) as usize);
            let mut value = HeaderValue::from_bytes(bytes).map_err(corrupt)?;
            value.set_sensitive(value_len & SENSITIVE != 0);
            headers.append(name, value);
        }
        let mut head = http::Request::new(()).into_parts().0;
        head.method = self.method.clone();
        head.uri = Uri::from_parts(parts).map_err(corrupt)?;
        head.version = self.version;
        head.headers = headers;
        head.extensions = self.extensions.clone();
        Ok(head)
    }
}

fn push_len(packed: &mut Vec<u8>, len: usize) {
    packed.extend_from_slice(&len_u32(len).to_le_bytes());
}

/// A length that fits the packing: the `http` crate caps a name at 64 KiB,
/// and a value over 2 GiB cannot reach here (no transport accepts one).
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).map_or(SENSITIVE - 1, |len| len.min(SENSITIVE - 1))
}

/// What it packed came from a valid head, so this is a bug.
fn corrupt(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::new(ErrorKind::Internal, "a packed request head did not unpack").with_source(e.into())
}

/// Reads a packed head front to back.
struct Reader<'p>(&'p [u8]);

impl<'p> Reader<'p> {
    fn take(&mut self, n: usize) -> &'p [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn take_len(&mut self) -> u32 {
        let mut bytes = [0; 4];
        bytes.copy_from_slice(self.take(4));
        u32::from_le_bytes(bytes)
    }

    fn take_part(&mut self) -> &'p [u8] {
        let len = self.take_len() as usize;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(uri: &str) -> Parts {
        let mut sensitive = HeaderValue::from_static("Bearer secret");
        sensitive.set_sensitive(true);
        let (mut head, ()) = http::Request::post(uri)
            .version(Version::HTTP_2)
            .header("x-user-group", "beta")
            .header("accept", "text/plain")
            .header("accept", "application/json")
            .header("x-empty", "")
            .header("authorization", sensitive)
            .header("x-opaque", HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap())
            .body(())
            .unwrap()
            .into_parts();
        head.extensions.insert(7_u32);
        head
    }

    #[test]
    fn a_packed_head_unpacks_equal_to_the_original() {
        for uri in [
            "http://order-service:8080/orders/1?page=2",
            "/orders/1",
            "https://[::1]:443/",
        ] {
            let original = head(uri);
            let packed = ReplayHead::pack(&original);
            for _ in 0..2 {
                let copy = packed.unpack().expect("unpacks");
                assert_eq!(copy.method, original.method);
                assert_eq!(copy.uri, original.uri);
                assert_eq!(copy.version, original.version);
                assert_eq!(copy.headers, original.headers);
                let order = |h: &HeaderMap| {
                    h.iter()
                        .map(|(n, v)| (n.clone(), v.clone()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(order(&copy.headers), order(&original.headers));
                assert!(copy.headers["authorization"].is_sensitive());
                assert!(!copy.headers["x-user-group"].is_sensitive());
                assert_eq!(copy.extensions.get::<u32>(), Some(&7));
            }
        }
    }

    #[test]
    fn packing_takes_one_buffer_of_exactly_the_head_size() {
        let packed = ReplayHead::pack(&head("http://order-service/orders/1"));
        assert_eq!(packed.packed.len(), packed.packed.capacity());
    }

    #[test]
    fn a_large_head_still_packs_whole() {
        let mut original = head("/");
        let long = "v".repeat(10_000);
        original
            .headers
            .insert("x-long", HeaderValue::from_str(&long).unwrap());
        let copy = ReplayHead::pack(&original).unpack().unwrap();
        assert_eq!(copy.headers, original.headers);
    }
}
