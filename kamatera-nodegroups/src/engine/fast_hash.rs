//! The hasher of the engine's maps keyed by server ids and names: every reconcile pass
//! looks up each listed server a few times, and the standard library's SipHash, built to
//! resist keys chosen by an attacker, costs more than the rest of such a look-up. The keys
//! come from the Kamatera API the account owner uses, not from untrusted parties, so
//! `foldhash`'s fast hash (the one hashbrown uses by default) is enough. Its fixed seed
//! keeps iteration orders the same from run to run, as the engine's logs and tests expect.

use std::collections::{HashMap, HashSet};

/// Builds the engine's hashers.
pub(crate) type FastBuildHasher = foldhash::fast::FixedState;
/// A `HashMap` with the engine's hasher.
pub(crate) type FastMap<K, V> = HashMap<K, V, FastBuildHasher>;
/// An `IndexMap` with the engine's hasher: entries stay in one vector in insertion order,
/// so a walk over them reads memory in sequence and the random part of a look-up is
/// only the small table of indexes.
pub(crate) type FastIndexMap<K, V> = indexmap::IndexMap<K, V, FastBuildHasher>;
/// A `HashSet` with the engine's hasher.
pub(crate) type FastSet<K> = HashSet<K, FastBuildHasher>;

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn many_ids_spread_over_the_buckets() {
        let mut map: FastMap<String, usize> = FastMap::default();
        for i in 0..10_000 {
            map.insert(format!("{i:08x}-0000-4000-8000-{i:012}"), i);
        }
        assert_eq!(map.len(), 10_000);
        assert!((0..10_000).all(|i| map[&format!("{i:08x}-0000-4000-8000-{i:012}")] == i));
        // The high bits pick the control bytes of the table: they must vary too.
        let build = FastBuildHasher::default();
        let tops: FastSet<u64> = (0..1_000)
            .map(|i| build.hash_one(format!("id-{i}")) >> 57)
            .collect();
        assert!(tops.len() > 64, "{} distinct top-7-bit values", tops.len());
    }
}
