//! Scalar fields shared by the resources: ports, counts, durations and
//! percentages, each checked the way Istio's validation checks it.
//!
//! Errors carry an empty field path: the caller locates them with
//! [`ConfigError::at`] (or [`crate::config::ResultExt::at`]).

use std::time::Duration;

use super::duration;
use super::spec::PercentSpec;
use crate::config::{ConfigError, Fraction};

/// A port number from an Istio integer field, within `1..=65535`.
pub(crate) fn port(number: i64) -> Result<u16, ConfigError> {
    u16::try_from(number)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| ConfigError::field("", format!("port {number} is not within 1..=65535")))
}

/// A non-negative count that fits in `u32`.
pub(crate) fn count(number: i64) -> Result<u32, ConfigError> {
    u32::try_from(number)
        .map_err(|_| ConfigError::field("", format!("{number} is not within 0..=4294967295")))
}

/// A duration that Istio requires to be at least one millisecond.
pub(crate) fn duration(text: &str) -> Result<Duration, ConfigError> {
    let d = duration::parse(text)?;
    if d < Duration::from_millis(1) {
        return Err(ConfigError::field(
            "",
            format!("{text:?} must be at least 1ms"),
        ));
    }
    Ok(d)
}

/// An Istio `Percent` (`{value: 10.0}`); errors name `value`.
pub(crate) fn percent(spec: PercentSpec) -> Result<Fraction, ConfigError> {
    Fraction::from_percent(spec.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(port(80).unwrap(), 80);
        assert!(port(0).is_err());
        assert!(port(70_000).is_err());
        assert!(port(-1).is_err());
        assert_eq!(count(0).unwrap(), 0);
        assert!(count(-1).is_err());
        assert!(count(1 << 40).is_err());
        assert!(duration("0s").is_err());
        assert_eq!(duration("1ms").unwrap(), Duration::from_millis(1));
        assert_eq!(
            percent(PercentSpec { value: 10.0 }).unwrap().per_million(),
            100_000
        );
        assert_eq!(
            percent(PercentSpec { value: 101.0 }).unwrap_err().field,
            "value"
        );
    }
}
