//! Server (node) name → group, for every reported instance, kept compact.
//!
//! cluster-autoscaler asks `NodeGroupForNode` for every node at every loop, in an order of
//! its own. A hash map of `String` keys spreads 10,000 names over as many allocations,
//! and each look-up then misses the cache twice or three times. Here every name lives in
//! one string, and the table holds only positions: the whole index of 10,000 names is
//! about half a megabyte, which stays in a core's cache.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

use super::fast_hash::FastBuildHasher;

/// Names with their groups, searchable by name.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    /// Every name, one after another.
    text: String,
    /// Where each name ends in `text` (it starts where the previous one ends).
    ends: Vec<usize>,
    /// Each name's group, as a position in `group_names`.
    groups: Vec<usize>,
    group_names: Vec<Arc<str>>,
    /// Positions in `ends`, hashed by name.
    table: HashTable<usize>,
    hasher: FastBuildHasher,
}

impl NameIndex {
    /// An empty index for about `names` names of the groups `group_names`.
    pub(crate) fn with_capacity(names: usize, group_names: Vec<Arc<str>>) -> Self {
        Self {
            text: String::with_capacity(names * 24),
            ends: Vec::with_capacity(names),
            groups: Vec::with_capacity(names),
            group_names,
            table: HashTable::with_capacity(names),
            hasher: FastBuildHasher::default(),
        }
    }

    fn name(&self, position: usize) -> &str {
        let start = position
            .checked_sub(1)
            .map_or(0, |before| self.ends[before]);
        &self.text[start..self.ends[position]]
    }

    fn find(&self, name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        self.table
            .find(hash, |&position| self.name(position) == name)
            .copied()
    }

    /// Records that `name` belongs to the group at `group` in the group names; a name
    /// recorded before moves to that group.
    pub(crate) fn insert(&mut self, name: &str, group: usize) {
        if let Some(position) = self.find(name) {
            self.groups[position] = group;
            return;
        }
        self.text.push_str(name);
        self.ends.push(self.text.len());
        self.groups.push(group);
        let position = self.ends.len() - 1;
        let hash = self.hasher.hash_one(name);
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.table.insert_unique(hash, position, |&other| {
            let start = other.checked_sub(1).map_or(0, |before| ends[before]);
            hasher.hash_one(&text[start..ends[other]])
        });
    }

    /// The group of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let position = self.find(name)?;
        self.group_names
            .get(self.groups[position])
            .map(|group| &**group)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Number of names.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> Vec<Arc<str>> {
        vec![Arc::from("a"), Arc::from("b")]
    }

    #[test]
    fn names_find_their_group_and_others_none() {
        let mut index = NameIndex::with_capacity(2, groups());
        index.insert("k8s-a-1", 0);
        index.insert("k8s-b-1", 1);
        index.insert("", 1);
        assert_eq!(index.get("k8s-a-1"), Some("a"));
        assert_eq!(index.get("k8s-b-1"), Some("b"));
        assert_eq!(index.get(""), Some("b"));
        assert_eq!(index.get("k8s-a-2"), None);
        assert_eq!(
            index.get("k8s-a-"),
            None,
            "a prefix of a name is not the name"
        );
        assert!(index.contains("k8s-a-1"));
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn a_name_recorded_again_moves_and_many_names_stay_findable() {
        let mut index = NameIndex::with_capacity(0, groups());
        for i in 0..5_000 {
            index.insert(&format!("k8s-{i:06}"), i % 2);
        }
        index.insert("k8s-000000", 1);
        assert_eq!(index.len(), 5_000);
        assert_eq!(index.get("k8s-000000"), Some("b"));
        assert!((1..5_000).all(|i| index.get(&format!("k8s-{i:06}")) == Some(["a", "b"][i % 2])));
    }
}
