//! The one error type of every configuration source.
//!
//! Whatever the input (an Envoy resource, Istio YAML, the policy JSON or an
//! xDS response), a rejection names the *resource* it came from and the
//! *field* path inside it, so an operator can find the line to fix. The
//! previous good configuration keeps serving: a `ConfigError` is returned,
//! never half-applied, and nothing on any input panics.

use std::fmt;

/// Invalid configuration, located by resource and field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The resource that holds the error, e.g. `RouteConfiguration "local"`
    /// or `VirtualService default/order-service-route`.
    pub resource: String,
    /// The field path inside the resource, e.g.
    /// `virtual_hosts[0].routes[2].match.safe_regex`; empty when the whole
    /// resource is at fault (a duplicate name, a syntax error).
    pub field: String,
    /// What is wrong, for people.
    pub reason: String,
}

impl ConfigError {
    /// An error in `field` of `resource`.
    pub fn new(
        resource: impl Into<String>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            resource: resource.into(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An error of a field whose resource is not known yet: the caller that
    /// knows the resource fills it in with [`ConfigError::in_resource`].
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(String::new(), field, reason)
    }

    /// Prepends `parent` to the field path (`parent.field`, or
    /// `parent[index]` style when the child path starts with `[`).
    #[must_use]
    pub fn at(mut self, parent: impl AsRef<str>) -> Self {
        let parent = parent.as_ref();
        self.field = match (parent.is_empty(), self.field.is_empty()) {
            (true, _) => self.field,
            (false, true) => parent.to_owned(),
            (false, false) if self.field.starts_with('[') => format!("{parent}{}", self.field),
            (false, false) => format!("{parent}.{}", self.field),
        };
        self
    }

    /// Sets the resource if none was set yet.
    #[must_use]
    pub fn in_resource(mut self, resource: impl fmt::Display) -> Self {
        if self.resource.is_empty() {
            self.resource = resource.to_string();
        }
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resource = if self.resource.is_empty() {
            "configuration"
        } else {
            &self.resource
        };
        if self.field.is_empty() {
            write!(f, "{resource}: {}", self.reason)
        } else {
            write!(f, "{resource}: field `{}`: {}", self.field, self.reason)
        }
    }
}

/// Extension to locate errors of nested conversions in one call.
pub(crate) trait ResultExt<T> {
    /// Prepends `parent` to the field path of the error, if any.
    fn at(self, parent: impl AsRef<str>) -> Result<T, ConfigError>;
}

impl<T> ResultExt<T> for Result<T, ConfigError> {
    fn at(self, parent: impl AsRef<str>) -> Result<T, ConfigError> {
        self.map_err(|e| e.at(parent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_nest_outward() {
        let e = ConfigError::field("safe_regex", "bad regex")
            .at("match")
            .at("[2]")
            .at("routes")
            .in_resource("RouteConfiguration \"local\"");
        assert_eq!(e.field, "routes[2].match.safe_regex");
        assert_eq!(
            e.to_string(),
            "RouteConfiguration \"local\": field `routes[2].match.safe_regex`: bad regex"
        );
    }
}
