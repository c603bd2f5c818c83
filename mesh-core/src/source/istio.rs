//! Istio networking YAML.
