//! A fast hasher for the engine's maps keyed by server ids: every reconcile pass looks up
//! each listed server a few times, and the standard library's SipHash, built to resist
//! keys chosen by an attacker, costs more than the rest of such a look-up. The keys here
//! come from the Kamatera API the account owner uses, not from untrusted parties, so a
//! multiply-rotate hash (the scheme rustc uses for its own maps) is enough.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate hasher over 8-byte words.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

/// An odd constant with well-mixed bits (the one of the Fx hash).
const K: u64 = 0xf135_7aea_2e62_a9c5;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash ^ word).wrapping_mul(K).rotate_left(26);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`FastHasher`]s.
pub(crate) type FastBuildHasher = BuildHasherDefault<FastHasher>;
/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
/// An `IndexMap` with [`FastHasher`]: entries stay in one vector in insertion order,
/// so a walk over them reads memory in sequence and the random part of a look-up is
/// only the small table of indexes.
pub(crate) type FastIndexMap<K, V> = indexmap::IndexMap<K, V, BuildHasherDefault<FastHasher>>;
/// A `HashSet` with [`FastHasher`].
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn equal_keys_hash_alike_and_near_keys_differ() {
        let build = BuildHasherDefault::<FastHasher>::default();
        let a = build.hash_one("3f0c1a2b-0000-4000-8000-000000000001");
        assert_eq!(a, build.hash_one("3f0c1a2b-0000-4000-8000-000000000001"));
        assert_ne!(a, build.hash_one("3f0c1a2b-0000-4000-8000-000000000002"));
        // A length-prefixed tail of fewer than 8 bytes still counts.
        assert_ne!(build.hash_one("k8s-a"), build.hash_one("k8s-b"));
    }

    #[test]
    fn many_ids_spread_over_the_buckets() {
        let mut map: FastMap<String, usize> = FastMap::default();
        for i in 0..10_000 {
            map.insert(format!("{i:08x}-0000-4000-8000-{i:012}"), i);
        }
        assert_eq!(map.len(), 10_000);
        assert!((0..10_000).all(|i| map[&format!("{i:08x}-0000-4000-8000-{i:012}")] == i));
        // The high bits pick the control bytes of the table: they must vary too.
        let build = BuildHasherDefault::<FastHasher>::default();
        let tops: FastSet<u64> = (0..1_000)
            .map(|i| build.hash_one(format!("id-{i}")) >> 57)
            .collect();
        assert!(tops.len() > 64, "{} distinct top-7-bit values", tops.len());
    }
}
