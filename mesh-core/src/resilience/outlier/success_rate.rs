//! The success-rate detector: outliers relative to the cluster.
//!
//! Fixed thresholds fit badly when a whole cluster degrades together (a
//! bad dependency makes every endpoint fail 20 %): success rate ejects
//! only endpoints that do markedly worse than their peers. Envoy's rule:
//! over the endpoints with at least `request_volume` calls in the last
//! interval, and only when at least `minimum_hosts` of them qualify, the
//! threshold is `mean - stdev_factor / 1000 * stdev` (population standard
//! deviation of the success rates, in percent) and endpoints strictly
//! below it are outliers. Endpoints already ejected take no part.

use super::tally::Scored;

/// `(stdev_factor, minimum_hosts, request_volume)` as in the config.
pub(super) type Params = (u32, u32, u32);

/// The mean and the ejection threshold over `hosts`, when there are
/// enough of them with enough volume.
pub(super) fn threshold(
    hosts: &[Scored],
    (stdev_factor, minimum_hosts, volume): Params,
) -> Option<(f64, f64)> {
    let rates: Vec<f64> = hosts
        .iter()
        .filter(|h| h.volume >= u64::from(volume))
        .map(|h| h.success_rate)
        .collect();
    if rates.is_empty() || rates.len() < minimum_hosts as usize {
        return None;
    }
    let n = rates.len() as f64;
    let mean = rates.iter().sum::<f64>() / n;
    let variance = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n;
    let factor = f64::from(stdev_factor) / 1000.0;
    Some((mean, mean - factor * variance.sqrt()))
}

/// The endpoints whose success rate is below the threshold, in order.
pub(super) fn outliers(hosts: &[Scored], params: Params) -> Vec<usize> {
    let Some((_, limit)) = threshold(hosts, params) else {
        return Vec::new();
    };
    let volume = u64::from(params.2);
    hosts
        .iter()
        .filter(|h| h.volume >= volume && h.success_rate < limit)
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
    fn envoys_worked_example_gives_a_threshold_of_52() {
        // Envoy's comment: {50, 100, 100, 100, 100}: mean 90, stdev 20,
        // threshold 52 with the default factor 1.9.
        let h = hosts(&[
            (50.0, 100),
            (100.0, 100),
            (100.0, 100),
            (100.0, 100),
            (100.0, 100),
        ]);
        let (mean, limit) = threshold(&h, (1900, 5, 100)).unwrap();
        assert!((mean - 90.0).abs() < 1e-9);
        assert!((limit - 52.0).abs() < 1e-9);
        assert_eq!(outliers(&h, (1900, 5, 100)), vec![0]);
    }

    #[test]
    fn equal_rates_have_no_outlier() {
        let h = hosts(&[(80.0, 10), (80.0, 10), (80.0, 10)]);
        assert!(outliers(&h, (0, 1, 1)).is_empty());
    }

    #[test]
    fn low_volume_hosts_neither_count_nor_get_ejected() {
        let h = hosts(&[(0.0, 9), (100.0, 10), (100.0, 10), (90.0, 10)]);
        assert_eq!(threshold(&h, (1000, 4, 10)), None);
        assert_eq!(outliers(&h, (1000, 3, 10)), vec![3]);
    }
}
