//! A fast hash for the maps the request path looks names up in.
//!
//! Every request looks its authority up among the listeners and its host
//! among a route table's exact domains. std's SipHash costs about 190
//! instructions per lookup of a short name; this multiply-rotate hash
//! (in the spirit of rustc's FxHash, eight bytes at a time) costs a tenth
//! of that. It resists no flooding, and needs not to: these maps are
//! built from configuration and only *looked up* with request input, so a
//! crafted name can land in a bucket but cannot make one longer. The
//! transport's pools use it too, keyed by endpoint address.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed by configuration (or addresses), looked up per
/// request.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The hasher of [`FastMap`].
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        // The length first, so zero padding cannot make two inputs equal.
        self.add(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_hash_equal_and_near_names_apart() {
        let hash = |s: &str| {
            let mut h = FastHasher::default();
            std::hash::Hash::hash(s, &mut h);
            h.finish()
        };
        assert_eq!(hash("orders:80"), hash("orders:80"));
        assert_ne!(hash("orders:80"), hash("orders:81"));
        // A shorter name padded with zeros is another key.
        assert_ne!(hash("a"), hash("a\0"));
        let mut map: FastMap<Box<str>, u32> = FastMap::default();
        map.insert("orders:80".into(), 1);
        map.insert("payments:80".into(), 2);
        assert_eq!(map.get("orders:80"), Some(&1));
        assert_eq!(map.get("payments:80"), Some(&2));
        assert_eq!(map.get("orders:8"), None);
    }
}
