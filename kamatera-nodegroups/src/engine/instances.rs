//! The instances of every group, and which groups had an instance added, removed or
//! changed since the snapshot was last built.
//!
//! A snapshot shares every group that did not change with the previous one. Comparing
//! each instance with its view to find the changed groups cost more than the rest of a
//! quiet pass at 10,000 instances, so the changes are recorded where they happen
//! instead: an instance can only be changed through [`Instances::get_mut`],
//! [`Instances::insert`] or [`Instances::remove`], and each of them records the group
//! (an instance keeps the group it was made for).

use std::collections::BTreeSet;
use std::collections::btree_map::{self, BTreeMap};
use std::ops::Index;
use std::sync::Arc;

use super::model::{Instance, InstanceKey};

/// The instances by key, recording the groups of the ones changed.
#[derive(Debug, Default)]
pub(crate) struct Instances {
    map: BTreeMap<InstanceKey, Instance>,
    /// Groups whose instances may have changed since [`Instances::take_changed`].
    changed: BTreeSet<Arc<str>>,
}

impl Instances {
    pub(crate) fn get(&self, key: &InstanceKey) -> Option<&Instance> {
        self.map.get(key)
    }

    pub(crate) fn contains_key(&self, key: &InstanceKey) -> bool {
        self.map.contains_key(key)
    }

    pub(crate) fn values(&self) -> btree_map::Values<'_, InstanceKey, Instance> {
        self.map.values()
    }

    pub(crate) fn keys(&self) -> btree_map::Keys<'_, InstanceKey, Instance> {
        self.map.keys()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The instance `key`, to change: its group is recorded as changed. An instance
    /// never moves to another group (its group is set when it is made).
    pub(crate) fn get_mut(&mut self, key: &InstanceKey) -> Option<&mut Instance> {
        let instance = self.map.get_mut(key)?;
        if !self.changed.contains(&instance.group) {
            self.changed.insert(instance.group.clone());
        }
        Some(instance)
    }

    pub(crate) fn insert(&mut self, key: InstanceKey, instance: Instance) {
        self.changed.insert(instance.group.clone());
        if let Some(replaced) = self.map.insert(key, instance) {
            self.changed.insert(replaced.group);
        }
    }

    pub(crate) fn remove(&mut self, key: &InstanceKey) -> Option<Instance> {
        let instance = self.map.remove(key)?;
        self.changed.insert(instance.group.clone());
        Some(instance)
    }

    /// The groups changed since the last call, and a fresh start.
    pub(crate) fn take_changed(&mut self) -> BTreeSet<Arc<str>> {
        std::mem::take(&mut self.changed)
    }
}

impl<'a> IntoIterator for &'a Instances {
    type Item = (&'a InstanceKey, &'a Instance);
    type IntoIter = btree_map::Iter<'a, InstanceKey, Instance>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

impl Index<&InstanceKey> for Instances {
    type Output = Instance;

    fn index(&self, key: &InstanceKey) -> &Instance {
        &self.map[key]
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;
    use crate::engine::model::Phase;

    fn instance(key: InstanceKey, group: &str) -> Instance {
        Instance::new(
            key,
            Arc::from(group),
            format!("n{key}"),
            Phase::Running,
            Instant::now(),
        )
    }

    fn names(changed: BTreeSet<Arc<str>>) -> Vec<String> {
        changed.iter().map(|g| g.to_string()).collect()
    }

    #[test]
    fn every_way_of_changing_an_instance_records_its_group() {
        let mut instances = Instances::default();
        instances.insert(1, instance(1, "a"));
        instances.insert(2, instance(2, "b"));
        assert_eq!(names(instances.take_changed()), ["a", "b"]);
        assert!(
            instances.take_changed().is_empty(),
            "reading changes nothing"
        );
        let _ = instances.get(&1).map(|i| i.name.clone());
        assert!(instances.take_changed().is_empty());

        if let Some(one) = instances.get_mut(&1) {
            one.phase = Phase::Parked;
        }
        assert_eq!(names(instances.take_changed()), ["a"]);
        instances.remove(&2);
        assert_eq!(names(instances.take_changed()), ["b"]);
    }
}
