//! The on-disk last-good snapshot: start and serve while the control
//! plane is down.
//!
//! None of the proxyless peers has this: a gRPC client restarted during a
//! control-plane outage cannot route at all. With a snapshot path set,
//! the client writes every accepted resource after each published
//! update, and at start-up restores them before the first stream opens.
//! The restored resources serve until the server answers; their versions
//! are not claimed on the wire, so the server sends everything afresh.
//!
//! Format: the magic `MESHXDS1`, then one length-delimited
//! `DiscoveryResponse` per resource type (protobuf), so the file is read
//! with the same decoding and validation as the wire.

use std::time::Instant;

use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
use prost::Message;

use super::resource::ResourceType;
use super::sotw::decode_all;
use super::state::XdsState;

const MAGIC: &[u8] = b"MESHXDS1";

/// Why a snapshot file could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Not a snapshot this version wrote.
    #[error("not an xDS snapshot file (bad magic)")]
    BadMagic,
    /// The protobuf inside is malformed (a truncated file).
    #[error("malformed xDS snapshot file: {0}")]
    Malformed(#[from] prost::DecodeError),
}

impl XdsState {
    /// The accepted resources, encoded for the snapshot file; `None`
    /// unless the options keep raw resources.
    pub fn persisted(&self) -> Option<Vec<u8>> {
        if !self.options.keep_raw {
            return None;
        }
        let mut out = MAGIC.to_vec();
        for ty in ResourceType::ALL {
            let response = DiscoveryResponse {
                type_url: ty.type_url().to_owned(),
                resources: self.caches[ty.index()]
                    .entries
                    .values()
                    .filter_map(|e| e.raw.as_deref().cloned())
                    .collect(),
                ..Default::default()
            };
            response
                .encode_length_delimited(&mut out)
                .expect("a Vec grows as needed");
        }
        Some(out)
    }

    /// Restores resources from a snapshot file written by
    /// [`Self::persisted`]; returns how many were restored. Resources the
    /// current validation refuses are skipped.
    pub fn restore(&mut self, bytes: &[u8], now: Instant) -> Result<usize, PersistError> {
        let mut rest = bytes.strip_prefix(MAGIC).ok_or(PersistError::BadMagic)?;
        let mut responses = Vec::new();
        while !rest.is_empty() {
            responses.push(DiscoveryResponse::decode_length_delimited(&mut rest)?);
        }
        let mut restored = 0;
        for ty in ResourceType::ALL {
            for response in responses.iter().filter(|r| r.type_url == ty.type_url()) {
                let (valid, _) = decode_all(ty, response, self.options.keep_raw);
                let wanted: Vec<_> = valid
                    .into_iter()
                    .filter(|d| self.caches[ty.index()].wants(&d.name))
                    .collect();
                restored += wanted.len();
                self.apply_restored(ty, wanted, now);
            }
            self.settle(now);
        }
        Ok(restored)
    }
}
