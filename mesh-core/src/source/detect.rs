//! Loading a document whose format is not known in advance.
//!
//! The bindings and the examples take "a config file" from users; this
//! tells Istio YAML (documents with `apiVersion`/`kind`) from Envoy
//! resources (`resources` or `static_resources`) by their top-level keys,
//! so one entry point accepts both.

use std::path::Path;

use crate::config::{ConfigError, MeshConfigBuilder};

/// The formats a whole configuration may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Envoy v3 resources, JSON or YAML.
    Envoy,
    /// Istio networking YAML.
    Istio,
}

impl Format {
    /// Tells the format of `text` by the top-level keys of its first
    /// non-empty document.
    pub fn detect(text: &str) -> Result<Self, ConfigError> {
        let unknown = |reason: String| ConfigError::new("configuration", "", reason);
        for document in serde_yaml::Deserializer::from_str(text) {
            let value = serde::Deserialize::deserialize(document)
                .map_err(|e| unknown(format!("not YAML or JSON: {e}")))?;
            let serde_yaml::Value::Mapping(map) = value else {
                continue;
            };
            let has = |key: &str| map.contains_key(key);
            if has("apiVersion") || has("kind") {
                return Ok(Self::Istio);
            }
            if has("resources") || has("static_resources") || has("staticResources") {
                return Ok(Self::Envoy);
            }
            return Err(unknown(
                "neither Istio (apiVersion, kind) nor Envoy (resources, static_resources)".into(),
            ));
        }
        Err(unknown("the document is empty".into()))
    }
}

/// Loads Envoy or Istio configuration, whichever `text` holds.
pub fn load(text: &str) -> Result<MeshConfigBuilder, ConfigError> {
    match Format::detect(text)? {
        Format::Envoy => super::envoy::load(text),
        Format::Istio => super::istio::load(text),
    }
}

/// Loads the file at `path` with [`load`].
pub fn load_file(path: impl AsRef<Path>) -> Result<MeshConfigBuilder, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            format!("file {:?}", path.display().to_string()),
            "",
            e.to_string(),
        )
    })?;
    load(&text).map_err(|e| e.in_resource(format!("file {:?}", path.display().to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart() {
        let istio = "# comment\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n";
        assert_eq!(Format::detect(istio).unwrap(), Format::Istio);
        assert_eq!(
            Format::detect("{\"resources\": []}").unwrap(),
            Format::Envoy
        );
        assert_eq!(
            Format::detect("static_resources: {}").unwrap(),
            Format::Envoy
        );
        assert!(Format::detect("").is_err());
        assert!(
            Format::detect("a: 1")
                .unwrap_err()
                .reason
                .contains("neither")
        );
        assert!(Format::detect("[: nope").is_err());
    }

    #[test]
    fn the_fixture_loads_through_detection() {
        let yaml = include_str!("../../../examples/fixtures/order-service.yaml");
        let config = load(yaml).unwrap().build().unwrap();
        assert!(config.listener("order-service:80").is_some());
    }

    #[test]
    fn a_missing_file_names_itself() {
        let e = load_file("/nonexistent/mesh.yaml").unwrap_err();
        assert!(e.resource.contains("/nonexistent/mesh.yaml"), "{e}");
    }
}
