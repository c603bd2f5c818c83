//! Ring hash: consistent hashing on a Ketama ring, as Envoy builds it.
//!
//! Each endpoint is placed on a ring of 64-bit hashes many times, in
//! proportion to its weight; a request with hash `h` goes to the owner of
//! the first entry at or after `h`, wrapping around to the start. The same
//! hash always reaches the same endpoint, and when an endpoint leaves only
//! the keys that landed on its entries move. The ring is immutable once
//! built, so a pick is a lock-free binary search.
//!
//! # Building the ring (as Envoy)
//!
//! With weights normalized to sum to 1, the ring holds
//!
//! ```text
//! scale = min(ceil(lightest * min_ring_size) / lightest, max_ring_size)
//! ```
//!
//! entries in all, so the lightest endpoint gets a whole number of entries
//! and the ring has at least `min_ring_size` of them. Endpoint `i` gets
//! about `weight_i * scale` entries (running totals are rounded down, so
//! the counts add up to `floor(scale)`), whose hashes are
//! `xxHash64("{authority}_{k}", seed 0)` for `k = 0, 1, ...`: Envoy's
//! key format, so an endpoint given by IP sits where Envoy would put it
//! (entry counts may differ by one where Envoy rounds up; Envoy hashes the
//! resolved IP of a DNS endpoint where this ring hashes its name).
//! `scale` is computed with exact integer arithmetic rather than floats.
//!
//! Because the scale depends on the weights of *all* endpoints, removing
//! one can also change how many entries the others have (with Envoy's
//! defaults, 10 equal endpoints have 103 entries each, 9 have 114), which
//! moves a few keys between the remaining endpoints, in Envoy too.
//!
//! # Deviations from Envoy
//!
//! - Every endpoint gets at least one entry, even where a small
//!   `max_ring_size` would leave it none (Envoy would then never pick it);
//!   the ring then exceeds `max_ring_size` by those few entries.
//! - Sizes are clamped to Envoy's own limit of 8 Mi entries, so an
//!   unvalidated config cannot allocate without bound.
//! - The ring is stored as two parallel arrays (hashes and owner indices,
//!   12 bytes an entry) so the binary search only touches hashes.
//!
//! A request without a hash (no hash policy produced one) uses a random
//! hash, as Envoy does: a random point on the ring, which respects weights.

use std::fmt::Write as _;
use std::sync::Arc;

use xxhash_rust::xxh64::xxh64;

use super::random::weight_of;
use super::{EndpointSlot, Picker};
use crate::rng::MeshRng;

/// Envoy's upper bound on `maximum_ring_size`.
const RING_SIZE_LIMIT: u64 = 8 * 1024 * 1024;

/// Consistent hashing over a fixed list of endpoints.
#[derive(Debug)]
pub struct RingHash {
    /// Entry hashes, ascending.
    hashes: Box<[u64]>,
    /// `owners[k]`: the endpoint index of entry `k`.
    owners: Box<[u32]>,
}

impl RingHash {
    /// Builds the ring of `endpoints` with between `min_ring_size` and
    /// `max_ring_size` entries.
    pub fn new(endpoints: &[Arc<EndpointSlot>], min_ring_size: u64, max_ring_size: u64) -> Self {
        let weights: Vec<u64> = endpoints.iter().map(|s| weight_of(s)).collect();
        let counts = entry_counts(&weights, min_ring_size, max_ring_size);
        let mut entries = Vec::with_capacity(counts.iter().sum::<u64>() as usize);
        for ((index, slot), count) in endpoints.iter().enumerate().zip(counts) {
            let owner = u32::try_from(index).expect("more than u32::MAX endpoints");
            push_entries(&mut entries, slot.endpoint().authority(), owner, count);
        }
        entries.sort_unstable();
        let (hashes, owners) = entries.into_iter().unzip::<_, _, Vec<_>, Vec<_>>();
        Self {
            hashes: hashes.into(),
            owners: owners.into(),
        }
    }

    /// How many entries the ring has.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the ring has no entry (no endpoint).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The owner of the first entry at or after `hash`, wrapping around.
    fn owner_at_or_after(&self, hash: u64) -> Option<usize> {
        let position = self.hashes.partition_point(|&entry| entry < hash);
        let position = if position == self.hashes.len() {
            0
        } else {
            position
        };
        self.owners.get(position).map(|&owner| owner as usize)
    }
}

impl Picker for RingHash {
    fn pick(&self, hash: Option<u64>, rng: &mut dyn MeshRng) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let hash = hash.unwrap_or_else(|| rng.next_u64());
        self.owner_at_or_after(hash)
    }
}

/// Appends the `count` entries of one endpoint: hashes of
/// `"{authority}_{k}"`.
fn push_entries(entries: &mut Vec<(u64, u32)>, authority: &str, owner: u32, count: u64) {
    let mut key = String::with_capacity(authority.len() + 8);
    for k in 0..count {
        key.clear();
        // Writing to a String cannot fail.
        let _ = write!(key, "{authority}_{k}");
        entries.push((xxh64(key.as_bytes(), 0), owner));
    }
}

/// How many ring entries each weight gets (see the module documentation).
fn entry_counts(weights: &[u64], min_ring_size: u64, max_ring_size: u64) -> Vec<u64> {
    let Some(rate) = EntriesPerWeight::new(weights, min_ring_size, max_ring_size) else {
        return Vec::new();
    };
    let mut running_weight = 0u128;
    let mut entries_so_far = 0u64;
    weights
        .iter()
        .map(|&weight| {
            running_weight += u128::from(weight);
            let target = rate.entries_for(running_weight);
            let count = target - entries_so_far;
            entries_so_far = target;
            count.max(1)
        })
        .collect()
}

/// Ring entries per unit of weight, `numerator / denominator`: `scale /
/// total_weight` in the module documentation's terms, kept as a fraction.
#[derive(Debug, Clone, Copy)]
struct EntriesPerWeight {
    numerator: u128,
    denominator: u128,
}

impl EntriesPerWeight {
    /// The rate for `weights`, or `None` without weights.
    fn new(weights: &[u64], min_ring_size: u64, max_ring_size: u64) -> Option<Self> {
        let lightest = u128::from(*weights.iter().min()?);
        let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        let max_ring = u128::from(max_ring_size.clamp(1, RING_SIZE_LIMIT));
        let min_ring = u128::from(min_ring_size).clamp(1, max_ring);
        // The lightest endpoint's whole number of entries at `min_ring`:
        // ceil(lightest / total * min_ring).
        let lightest_entries = (lightest * min_ring).div_ceil(total);
        // scale = lightest_entries * total / lightest, unless above max_ring.
        let rate = if lightest_entries * total <= max_ring * lightest {
            Self {
                numerator: lightest_entries,
                denominator: lightest,
            }
        } else {
            Self {
                numerator: max_ring,
                denominator: total,
            }
        };
        Some(rate)
    }

    /// The entries owed to the first endpoints, of total weight `weight`,
    /// rounded down.
    fn entries_for(self, weight: u128) -> u64 {
        // At most `scale` <= RING_SIZE_LIMIT, so it fits.
        (weight * self.numerator / self.denominator) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Endpoint;
    use crate::rng::SeededRng;

    const DEFAULT_MIN: u64 = 1024;
    const DEFAULT_MAX: u64 = 8 * 1024 * 1024;

    fn slot(i: usize, weight: u32) -> Arc<EndpointSlot> {
        let endpoint = Endpoint::new(&format!("10.0.{}.{}", i / 256, i % 256), 8080)
            .unwrap()
            .with_weight(weight)
            .unwrap();
        EndpointSlot::new(endpoint)
    }

    fn slots(weights: &[u32]) -> Vec<Arc<EndpointSlot>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| slot(i, w))
            .collect()
    }

    fn key_hashes(count: u64) -> Vec<u64> {
        (0..count)
            .map(|k| xxh64(format!("user-{k}").as_bytes(), 0))
            .collect()
    }

    /// The authority each key lands on.
    fn placement(endpoints: &[Arc<EndpointSlot>], min: u64, max: u64, keys: &[u64]) -> Vec<String> {
        let ring = RingHash::new(endpoints, min, max);
        let mut rng = SeededRng::new(1);
        keys.iter()
            .map(|&h| {
                let index = ring.pick(Some(h), &mut rng).unwrap();
                endpoints[index].endpoint().authority().to_owned()
            })
            .collect()
    }

    #[test]
    fn empty_picks_nothing() {
        let ring = RingHash::new(&[], DEFAULT_MIN, DEFAULT_MAX);
        assert!(ring.is_empty());
        assert_eq!(ring.pick(Some(7), &mut SeededRng::new(1)), None);
        assert_eq!(ring.pick(None, &mut SeededRng::new(1)), None);
    }

    #[test]
    fn the_same_hash_reaches_the_same_endpoint() {
        let endpoints = slots(&[1; 5]);
        let ring = RingHash::new(&endpoints, DEFAULT_MIN, DEFAULT_MAX);
        let rebuilt = RingHash::new(&endpoints, DEFAULT_MIN, DEFAULT_MAX);
        let mut rng = SeededRng::new(3);
        for hash in key_hashes(200) {
            let first = ring.pick(Some(hash), &mut rng);
            assert_eq!(ring.pick(Some(hash), &mut rng), first);
            assert_eq!(rebuilt.pick(Some(hash), &mut rng), first);
        }
    }

    #[test]
    fn lookup_takes_the_first_entry_at_or_after_the_hash_and_wraps() {
        let ring = RingHash {
            hashes: vec![10, 20, 30].into(),
            owners: vec![2, 0, 1].into(),
        };
        assert_eq!(ring.owner_at_or_after(0), Some(2));
        assert_eq!(ring.owner_at_or_after(10), Some(2));
        assert_eq!(ring.owner_at_or_after(11), Some(0));
        assert_eq!(ring.owner_at_or_after(30), Some(1));
        assert_eq!(ring.owner_at_or_after(31), Some(2));
        assert_eq!(ring.owner_at_or_after(u64::MAX), Some(2));
    }

    #[test]
    fn removing_an_endpoint_only_remaps_its_own_keys() {
        // 200 endpoints, min 19 900: 100 entries each, and still 100 each
        // (ceil(19 900 / 199)) once one is gone, so the survivors keep
        // exactly their entries and only the removed one's keys move.
        let all = slots(&[1; 200]);
        let min = 19_900;
        assert_eq!(entry_counts(&[1; 200], min, DEFAULT_MAX), vec![100; 200]);
        assert_eq!(entry_counts(&[1; 199], min, DEFAULT_MAX), vec![100; 199]);
        let removed = all[7].endpoint().authority().to_owned();
        let fewer: Vec<_> = all
            .iter()
            .filter(|s| s.endpoint().authority() != removed)
            .cloned()
            .collect();

        let keys = key_hashes(1_000);
        let before = placement(&all, min, DEFAULT_MAX, &keys);
        let after = placement(&fewer, min, DEFAULT_MAX, &keys);
        let mut moved = 0;
        for (b, a) in before.iter().zip(&after) {
            if *b == removed {
                assert_ne!(*a, removed);
                moved += 1;
            } else {
                assert_eq!(a, b, "a key left a surviving endpoint");
            }
        }
        assert!(moved > 0, "no key was on the removed endpoint");
    }

    #[test]
    fn with_envoy_defaults_removal_moves_few_other_keys() {
        // 10 -> 9 endpoints: 103 -> 114 entries each; the survivors' new
        // entries take a few keys from each other (as in Envoy).
        let all = slots(&[1; 10]);
        let fewer = &all[1..];
        let keys = key_hashes(1_000);
        let before = placement(&all, DEFAULT_MIN, DEFAULT_MAX, &keys);
        let after = placement(fewer, DEFAULT_MIN, DEFAULT_MAX, &keys);
        let removed = all[0].endpoint().authority();
        let survivors = before.iter().filter(|b| *b != removed).count();
        let moved = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| *b != removed && a != b)
            .count();
        assert!(
            moved * 100 <= survivors * 15,
            "{moved} of {survivors} moved"
        );
    }

    #[test]
    fn ring_size_stays_within_bounds() {
        for (count, min, max) in [
            (3, DEFAULT_MIN, DEFAULT_MAX),
            (100, DEFAULT_MIN, DEFAULT_MAX),
            (1_000, DEFAULT_MIN, DEFAULT_MAX),
            (7, 64, 100),
        ] {
            let weights: Vec<u32> = (0..count).map(|i| i % 5 + 1).collect();
            let len = RingHash::new(&slots(&weights), min, max).len() as u64;
            assert!(
                (min..=max).contains(&len),
                "{count} endpoints, [{min}, {max}]: {len}"
            );
        }
    }

    #[test]
    fn a_ring_too_small_for_every_endpoint_still_holds_each_once() {
        // Weights 1..=5 twice, at most 8 entries: the light endpoints would
        // get none, so they get one each on top of the 8.
        let weights: Vec<u32> = (0..10).map(|i| i % 5 + 1).collect();
        let ring = RingHash::new(&slots(&weights), 5, 8);
        assert_eq!(ring.len(), 12);
        let mut owners = ring.owners.to_vec();
        owners.sort_unstable();
        owners.dedup();
        assert_eq!(owners, (0..10).collect::<Vec<u32>>());
    }

    #[test]
    fn sizes_follow_envoys_scale() {
        // Equal weights: ceil(min / n) each.
        assert_eq!(entry_counts(&[1; 10], 1024, DEFAULT_MAX), vec![103; 10]);
        // 1:3, lightest 1/4: ceil(256) / (1/4) = 1024 entries.
        assert_eq!(entry_counts(&[1, 3], 1024, DEFAULT_MAX), vec![256, 768]);
        // 1:2 at min 1000: ceil(333.3) = 334 for the lightest, 1002 in all.
        assert_eq!(entry_counts(&[1, 2], 1000, DEFAULT_MAX), vec![334, 668]);
        // Capped by max: 100 entries in proportion.
        assert_eq!(entry_counts(&[1, 3], 1024, 100), vec![25, 75]);
        // Too small a cap still leaves each endpoint one entry.
        assert_eq!(entry_counts(&[1, 1, 1], 1, 2), vec![1, 1, 1]);
        // Out-of-range sizes are clamped.
        assert_eq!(entry_counts(&[1], 0, 0), vec![1]);
        assert_eq!(
            entry_counts(&[1], u64::MAX, u64::MAX),
            vec![RING_SIZE_LIMIT]
        );
    }

    #[test]
    fn weights_are_roughly_respected() {
        let weights: [u32; 4] = [1, 2, 3, 4];
        let endpoints = slots(&weights);
        let ring = RingHash::new(&endpoints, 64 * 1024, DEFAULT_MAX);
        let mut rng = SeededRng::new(5);
        let mut counts = [0usize; 4];
        for _ in 0..20_000 {
            let hash = rng.next_u64();
            counts[ring.pick(Some(hash), &mut rng).unwrap()] += 1;
        }
        for (i, (&w, &c)) in weights.iter().zip(&counts).enumerate() {
            let expected = 20_000 * w as usize / 10;
            assert!(c.abs_diff(expected) <= 600, "endpoint {i}: {counts:?}");
        }
    }

    #[test]
    fn without_a_hash_a_random_endpoint_is_picked() {
        let ring = RingHash::new(&slots(&[1; 4]), DEFAULT_MIN, DEFAULT_MAX);
        let mut rng = SeededRng::new(9);
        let mut seen = [false; 4];
        for _ in 0..200 {
            seen[ring.pick(None, &mut rng).unwrap()] = true;
        }
        assert_eq!(seen, [true; 4]);
    }
}
