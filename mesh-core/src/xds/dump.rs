//! The config dump: every resource the client knows, with its version,
//! status and error, in the spirit of Envoy's CSDS `ClientConfig`.
//!
//! JSON rather than the CSDS protobuf, because its readers are people and
//! the bindings (which hand it to the host language as a string).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::resource::ResourceType;
use super::state::XdsState;

impl XdsState {
    /// The dump; `now` and `wall` pair the injected clock with wall time
    /// so update times print as Unix seconds.
    pub fn config_dump(&self, now: Instant, wall: SystemTime) -> Value {
        let unix = |at: Instant| {
            let when = wall.checked_sub(now.saturating_duration_since(at))?;
            Some(when.duration_since(UNIX_EPOCH).ok()?.as_secs_f64())
        };
        let resources: Vec<Value> = ResourceType::ALL
            .into_iter()
            .flat_map(|ty| {
                let cache = self.cache(ty);
                cache.entries.iter().map(move |(name, e)| {
                    json!({
                        "type_url": ty.type_url(),
                        "name": name,
                        "status": e.status.as_str(),
                        "version": e.version.as_deref(),
                        "error": e.error.as_deref(),
                        "last_updated": e.updated.and_then(unix),
                        "has_value": e.value.is_some(),
                    })
                })
            })
            .collect();
        let versions: serde_json::Map<String, Value> = ResourceType::ALL
            .into_iter()
            .map(|ty| {
                let cache = self.cache(ty);
                let nack = cache
                    .last_nack
                    .as_ref()
                    .map(|(v, m)| json!({"version": v, "error": m}));
                (
                    ty.short_name().to_owned(),
                    json!({
                        "wildcard": cache.wildcard,
                        "version_info": cache.version_info,
                        "last_nack": nack,
                    }),
                )
            })
            .collect();
        let s = self.stats();
        json!({
            "protocol": format!("{:?}", self.protocol()),
            "types": versions,
            "resources": resources,
            "assembly_error": self.assembly_error(),
            "stats": {
                "connected": s.connected,
                "streams_started": s.streams_started,
                "server_failures": s.server_failures,
                "updates_accepted": s.updates_accepted,
                "updates_rejected": s.updates_rejected,
                "nacks_suppressed": s.nacks_suppressed,
                "resources_timed_out": s.resources_timed_out,
                "configs_published": s.configs_published,
            },
        })
    }
}
