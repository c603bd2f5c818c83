//! Priority levels: how much of a group's traffic each level takes.
//!
//! EDS ranks endpoints by priority (0 first). Envoy sends everything to
//! the best level while enough of it is in service, and spills the rest
//! over to the next levels as it degrades: a level's *health* is the share
//! of its endpoints in service times the overprovisioning factor (1.4),
//! capped at 100 %; level 0 takes its health, level 1 what level 0 left up
//! to its own health, and so on. When all levels together are under
//! 100 %, the loads are scaled up so they still add up to all traffic.
//! With 1.4, a level keeps all its traffic until more than ~29 % of it is
//! out (unhealthy by EDS or ejected as an outlier).
//!
//! Loads are in parts per million.

/// Envoy's default overprovisioning factor, in percent.
pub const OVERPROVISIONING_PERCENT: u64 = 140;

const ALL: u64 = 1_000_000;

/// The load of each level given `(in service, total)` endpoints per level,
/// best level first. With nothing in service anywhere, level 0 takes all
/// (and balances over whatever it has: Envoy's panic mode).
pub fn priority_loads(levels: &[(u32, u32)]) -> Vec<u32> {
    let health: Vec<u64> = levels
        .iter()
        .map(|&(in_service, total)| availability(in_service, total))
        .collect();
    let total_health = health.iter().sum::<u64>().min(ALL);
    let mut loads = vec![0u32; levels.len()];
    if total_health == 0 {
        if let Some(first) = loads.first_mut() {
            *first = ALL as u32;
        }
        return loads;
    }
    let mut remaining = ALL;
    for (load, h) in loads.iter_mut().zip(&health) {
        let share = (h * ALL / total_health).min(remaining);
        *load = share as u32;
        remaining -= share;
    }
    // Rounding leaves a few parts per million: to the best loaded level.
    if remaining > 0
        && let Some(first) = loads.iter_mut().find(|l| **l > 0)
    {
        *first += remaining as u32;
    }
    loads
}

/// A level's health, per million: its share in service times the
/// overprovisioning factor, capped at all traffic.
pub fn availability(in_service: u32, total: u32) -> u64 {
    match total {
        0 => 0,
        _ => (OVERPROVISIONING_PERCENT * (ALL / 100) * u64::from(in_service) / u64::from(total))
            .min(ALL),
    }
}

/// The level a draw in `0..1_000_000` falls in under `loads`.
pub fn level_for(loads: &[u32], draw: u64) -> usize {
    let mut upto = 0u64;
    for (i, &load) in loads.iter().enumerate() {
        upto += u64::from(load);
        if draw < upto {
            return i;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_first_level_takes_everything() {
        assert_eq!(priority_loads(&[(3, 3), (3, 3)]), [1_000_000, 0]);
        assert_eq!(priority_loads(&[(3, 3)]), [1_000_000]);
    }

    #[test]
    fn overprovisioning_keeps_traffic_until_a_level_is_under_72_percent() {
        // 3 of 4 in service: 1.4 × 75 % = 105 % → still all of it.
        assert_eq!(priority_loads(&[(3, 4), (2, 2)]), [1_000_000, 0]);
        // 1 of 2: 70 % stays, 30 % spills to the next level.
        assert_eq!(priority_loads(&[(1, 2), (2, 2)]), [700_000, 300_000]);
        // None left: all to the next level.
        assert_eq!(priority_loads(&[(0, 2), (2, 2)]), [0, 1_000_000]);
    }

    #[test]
    fn degraded_levels_together_are_scaled_up_to_all_traffic() {
        // 1.4 × 1/4 = 35 % and 1.4 × 1/4 = 35 %: half each.
        assert_eq!(priority_loads(&[(1, 4), (1, 4)]), [500_000, 500_000]);
        // Three levels: 70 %, then 30 % of the remaining from the second.
        assert_eq!(
            priority_loads(&[(1, 2), (1, 2), (2, 2)]),
            [700_000, 300_000, 0]
        );
    }

    #[test]
    fn nothing_in_service_means_the_first_level_panics() {
        assert_eq!(priority_loads(&[(0, 2), (0, 3)]), [1_000_000, 0]);
        assert_eq!(priority_loads(&[]), Vec::<u32>::new());
    }

    #[test]
    fn draws_fall_in_their_level() {
        let loads = [700_000, 300_000, 0];
        assert_eq!(level_for(&loads, 0), 0);
        assert_eq!(level_for(&loads, 699_999), 0);
        assert_eq!(level_for(&loads, 700_000), 1);
        assert_eq!(level_for(&loads, 999_999), 1);
    }
}
