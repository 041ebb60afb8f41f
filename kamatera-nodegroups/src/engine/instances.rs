//! The instances of every group, and which groups had an instance added, removed or
//! changed since the snapshot was last built.
//!
//! A snapshot shares every group that did not change with the previous one. Comparing
//! each instance with its view to find the changed groups cost more than the rest of a
//! quiet pass at 10,000 instances, so the changes are recorded where they happen
//! instead: an instance can only be changed through [`Instances::get_mut`],
//! [`Instances::insert`] or [`Instances::remove`], and each of them records the group
//! (an instance keeps the group it was made for).
//!
//! The same three ways drop the [`Summary`], what every pass asks of all instances
//! (which are being created, which commands are outstanding): a quiet pass then walks
//! the instances only once, to find those to advance.

use std::cell::OnceCell;
use std::collections::BTreeSet;
use std::collections::btree_map::{self, BTreeMap};
use std::ops::Index;
use std::sync::Arc;

use kamatera_api::CommandId;

use super::model::{Instance, InstanceKey};

/// What every pass asks of all instances, worked out once until an instance changes.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// Name and group of every instance whose server is not known yet.
    pub(crate) creating: Vec<(String, Arc<str>)>,
    /// Every command some instance waits for.
    pub(crate) commands: Vec<CommandId>,
}

/// The instances by key, recording the groups of the ones changed.
#[derive(Debug, Default)]
pub(crate) struct Instances {
    map: BTreeMap<InstanceKey, Instance>,
    /// Groups whose instances may have changed since [`Instances::take_changed`].
    changed: BTreeSet<Arc<str>>,
    /// Dropped whenever an instance changes.
    summary: OnceCell<Summary>,
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
        self.summary.take();
        if !self.changed.contains(&instance.group) {
            self.changed.insert(instance.group.clone());
        }
        Some(instance)
    }

    pub(crate) fn insert(&mut self, key: InstanceKey, instance: Instance) {
        self.summary.take();
        self.changed.insert(instance.group.clone());
        if let Some(replaced) = self.map.insert(key, instance) {
            self.changed.insert(replaced.group);
        }
    }

    pub(crate) fn remove(&mut self, key: &InstanceKey) -> Option<Instance> {
        let instance = self.map.remove(key)?;
        self.summary.take();
        self.changed.insert(instance.group.clone());
        Some(instance)
    }

    /// What every pass asks of all instances (one walk, then kept until one changes).
    pub(crate) fn summary(&self) -> &Summary {
        self.summary.get_or_init(|| {
            let mut summary = Summary::default();
            for instance in self.map.values() {
                if instance.server_id.is_none() {
                    summary
                        .creating
                        .push((instance.name.clone(), instance.group.clone()));
                }
                if let Some(command) = instance.phase.command() {
                    summary.commands.push(command.clone());
                }
            }
            summary
        })
    }

    /// True when an instance was added, removed or changed since
    /// [`Instances::take_changed`].
    pub(crate) fn has_changes(&self) -> bool {
        !self.changed.is_empty()
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

    #[test]
    fn the_summary_is_kept_until_an_instance_changes() {
        let mut instances = Instances::default();
        let mut creating = instance(1, "a");
        creating.server_id = None;
        creating.phase = Phase::CreateRunning {
            command: CommandId::new("7"),
        };
        instances.insert(1, creating);
        let mut running = instance(2, "b");
        running.server_id = Some(kamatera_api::ServerId::new("s2"));
        instances.insert(2, running);
        let summary = instances.summary();
        assert_eq!(summary.creating, [("n1".to_owned(), Arc::from("a"))]);
        assert_eq!(summary.commands, [CommandId::new("7")]);

        if let Some(one) = instances.get_mut(&1) {
            one.server_id = Some(kamatera_api::ServerId::new("s1"));
            one.phase = Phase::Running;
        }
        let summary = instances.summary();
        assert!(summary.creating.is_empty());
        assert!(summary.commands.is_empty());
    }
}
