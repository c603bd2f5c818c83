//! The failure-percentage detector: a fixed bar, checked per interval.
//!
//! Success rate cannot catch an endpoint when most of the cluster is bad
//! (the mean drops with it) or when the cluster is small (the stdev is
//! noisy). Failure percentage is the absolute counterpart Envoy added:
//! over the endpoints with at least `request_volume` calls in the last
//! interval, and only when at least `minimum_hosts` qualify, every one
//! whose failure percentage is at or above `threshold` is an outlier.

use super::tally::Scored;

/// `(threshold %, minimum_hosts, request_volume)` as in the config.
pub(super) type Params = (u32, u32, u32);

/// The endpoints failing at least `threshold` percent of their calls, in
/// order.
pub(super) fn outliers(hosts: &[Scored], (threshold, minimum_hosts, volume): Params) -> Vec<usize> {
    let volume = u64::from(volume);
    let qualified: Vec<&Scored> = hosts.iter().filter(|h| h.volume >= volume).collect();
    if qualified.is_empty() || qualified.len() < minimum_hosts as usize {
        return Vec::new();
    }
    let threshold = f64::from(threshold);
    qualified
        .into_iter()
        .filter(|h| 100.0 - h.success_rate >= threshold)
        .map(|h| h.endpoint)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(rates: &[(f64, u64)]) -> Vec<Scored> {
        rates
            .iter()
            .enumerate()
            .map(|(endpoint, &(success_rate, volume))| Scored {
                endpoint,
                volume,
                success_rate,
            })
            .collect()
    }

    #[test]
    fn ejects_at_or_above_the_threshold() {
        let h = hosts(&[(15.0, 50), (16.0, 50), (0.0, 50)]);
        assert_eq!(outliers(&h, (85, 3, 50)), vec![0, 2]);
    }

    #[test]
    fn needs_minimum_hosts_with_volume() {
        let h = hosts(&[(0.0, 50), (100.0, 49), (100.0, 50)]);
        assert!(outliers(&h, (85, 3, 50)).is_empty());
        assert_eq!(outliers(&h, (85, 2, 50)), vec![0]);
    }
}
