//! The read side: an immutable picture of every group, rebuilt after each change and
//! shared with readers, so reads never wait for the reconciler or the API.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::time::Instant;

use super::fast_hash::FastIndexMap;
use super::model::{Instance, InstanceKey, InstanceState, InstanceView, Phase};
use super::state::State;
use crate::naming::provider_id;

/// One node group as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    /// Group name (its id for cluster-autoscaler).
    pub name: String,
    /// Configured minimum size.
    pub min_size: u32,
    /// Configured maximum size.
    pub max_size: u32,
    /// Instances that are Creating or Running.
    pub target_size: u32,
    /// Every reported instance (parked servers are not reported). Shared, so handing out
    /// a view does not copy the instances.
    pub instances: Arc<[InstanceView]>,
    /// Servers kept powered off for reuse.
    pub parked: u32,
    /// Names of the parked servers, sorted.
    pub parked_servers: Vec<String>,
}

/// Everything readers need, consistent at one moment.
///
/// A snapshot is rebuilt after every change of the state, and at every reconcile pass even
/// when nothing changed, so building one must cost little: a group whose reported
/// instances are the same as in the previous snapshot shares that snapshot's instance list,
/// and when no group changed the name index is shared too. A steady pass then builds no
/// per-server data at all.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) groups: BTreeMap<String, GroupView>,
    /// Server (node) name → group, for every reported instance. An instance's id is
    /// `<provider-id-prefix><name>`, so this map answers look-ups by id as well. In
    /// instance order: a caller going through the nodes in that order reads it in
    /// sequence.
    pub(crate) by_name: Arc<FastIndexMap<String, Arc<str>>>,
    /// The keys of each group's reported instances, in the order of its `instances`
    /// (indexed like `State::groups`): two snapshots whose lists hold the same instances
    /// in the same order index the same names to the same groups.
    keys: Vec<Arc<[InstanceKey]>>,
    pub(crate) last_list_ok: Option<Instant>,
    pub(crate) last_list_error: Option<String>,
    pub(crate) commands_in_flight: usize,
    pub(crate) deletions_retrying: usize,
    pub(crate) counters: super::listing::RobustnessCounters,
}

/// A group's instance list in a snapshot, with the keys of its instances.
type SharedList<'a> = (&'a Arc<[InstanceView]>, &'a Arc<[InstanceKey]>);

/// One group while a snapshot is built.
struct GroupBuild<'a> {
    /// The previous snapshot's instances and their keys, when it had the group.
    previous: Option<SharedList<'a>>,
    /// Reported instances seen so far.
    seen: usize,
    /// Every instance seen so far equals the previous snapshot's at its position.
    same: bool,
    target_size: u32,
    parked_servers: Vec<String>,
    /// Filled only for a group whose instances changed.
    instances: Vec<InstanceView>,
    keys: Vec<InstanceKey>,
}

impl Snapshot {
    /// The snapshot of `state`, sharing what did not change with `previous`.
    pub(crate) fn build(state: &State, previous: &Snapshot) -> Self {
        let prefix = state.config.provider_id_prefix.as_str();
        let names: Vec<&str> = state.groups.keys().map(String::as_str).collect();
        let positions = GroupPositions::new(state);
        let (mut commands_in_flight, mut deletions_retrying) = (0, 0);
        let mut builds: Vec<GroupBuild<'_>> = names
            .iter()
            .enumerate()
            .map(|(index, name)| GroupBuild {
                previous: previous
                    .groups
                    .get(*name)
                    .zip(previous.keys.get(index))
                    .map(|(view, keys)| (&view.instances, keys)),
                seen: 0,
                same: true,
                target_size: 0,
                parked_servers: Vec::new(),
                instances: Vec::new(),
                keys: Vec::new(),
            })
            .collect();
        // First pass: counts, parked servers, and whether each group's list is unchanged.
        for instance in state.instances.values() {
            commands_in_flight += usize::from(instance.phase.command().is_some());
            deletions_retrying += usize::from(instance.delete_attempts > 0);
            let Some(index) = positions.of(&instance.group) else {
                continue;
            };
            let build = &mut builds[index];
            if instance.phase == Phase::Parked {
                build.parked_servers.push(instance.name.clone());
            }
            let Some(reported) = instance.reported_state() else {
                continue;
            };
            if reported != InstanceState::Deleting {
                build.target_size += 1;
            }
            if build.same {
                build.same = build.previous.is_some_and(|(views, keys)| {
                    keys.get(build.seen) == Some(&instance.key)
                        && views
                            .get(build.seen)
                            .is_some_and(|view| shows(view, instance, reported, prefix))
                });
            }
            build.seen += 1;
        }
        for build in &mut builds {
            build.same = build.same
                && build
                    .previous
                    .is_some_and(|(views, _)| views.len() == build.seen);
        }
        let all_same = builds.iter().all(|b| b.same);
        // Second pass, only for groups whose list changed.
        if !all_same {
            for instance in state.instances.values() {
                let Some(index) = positions.of(&instance.group) else {
                    continue;
                };
                let build = &mut builds[index];
                if build.same {
                    continue;
                }
                let Some(reported) = instance.reported_state() else {
                    continue;
                };
                build.keys.push(instance.key);
                build.instances.push(InstanceView {
                    provider_id: provider_id(prefix, &instance.name),
                    name: instance.name.clone(),
                    state: reported,
                    error: instance.error.clone(),
                    since: instance.creating_since,
                });
            }
        }
        let mut groups = BTreeMap::new();
        let mut keys = Vec::with_capacity(builds.len());
        for ((name, facts), build) in state.groups.iter().zip(builds) {
            let (instances, instance_keys) = match build.previous {
                Some((views, previous_keys)) if build.same => {
                    (views.clone(), previous_keys.clone())
                }
                _ => (build.instances.into(), build.keys.into()),
            };
            let mut parked_servers = build.parked_servers;
            parked_servers.sort_unstable();
            keys.push(instance_keys);
            groups.insert(
                name.clone(),
                GroupView {
                    name: name.clone(),
                    min_size: facts.config.min_size,
                    max_size: facts.config.max_size,
                    target_size: build.target_size,
                    instances,
                    parked: parked_servers.len() as u32,
                    parked_servers,
                },
            );
        }
        let by_name = if all_same && previous.keys.len() == keys.len() {
            previous.by_name.clone()
        } else {
            let mut by_name =
                FastIndexMap::with_capacity_and_hasher(state.instances.len(), Default::default());
            for instance in state.instances.values() {
                if positions.of(&instance.group).is_some() && instance.reported_state().is_some() {
                    by_name.insert(instance.name.clone(), instance.group.clone());
                }
            }
            Arc::new(by_name)
        };
        Self {
            groups,
            by_name,
            keys,
            last_list_ok: state.last_list_ok,
            last_list_error: state.last_list_error.clone(),
            commands_in_flight,
            deletions_retrying,
            counters: state.counters.clone(),
        }
    }

    /// The group of the reported instance whose id is `provider_id`.
    pub(crate) fn group_by_provider_id(&self, prefix: &str, provider_id: &str) -> Option<&str> {
        let name = provider_id.strip_prefix(prefix)?;
        self.by_name.get(name).map(|group| &**group)
    }
}

/// Finds a group's position in `State::groups` by the address of its interned name
/// ([`GroupFacts::name`](super::state::GroupFacts::name)): every instance shares its
/// group's `Arc<str>`, so a few integer comparisons replace comparing names as text at
/// every instance of every snapshot.
struct GroupPositions<'a> {
    /// Name addresses with the group's position, sorted by address.
    by_address: Vec<(*const u8, usize)>,
    /// Names in position order, for a name that is not interned.
    names: Vec<&'a str>,
}

impl<'a> GroupPositions<'a> {
    fn new(state: &'a State) -> Self {
        let mut by_address: Vec<(*const u8, usize)> = state
            .groups
            .values()
            .enumerate()
            .map(|(position, facts)| (facts.name.as_ptr(), position))
            .collect();
        by_address.sort_unstable();
        Self {
            by_address,
            names: state.groups.keys().map(String::as_str).collect(),
        }
    }

    fn of(&self, group: &Arc<str>) -> Option<usize> {
        match self
            .by_address
            .binary_search_by_key(&group.as_ptr(), |(address, _)| *address)
        {
            Ok(found) => Some(self.by_address[found].1),
            Err(_) => self.names.binary_search(&&**group).ok(),
        }
    }
}

/// True when `view` is what `instance`, reported as `reported`, would be shown as.
fn shows(view: &InstanceView, instance: &Instance, reported: InstanceState, prefix: &str) -> bool {
    // Every field of the view: one not compared here would keep a stale value.
    let InstanceView {
        provider_id,
        name,
        state,
        error,
        since,
    } = view;
    // The provider id is made of the fixed prefix and the name: equal names make it
    // equal, and comparing it again would cost a string comparison per instance.
    debug_assert!(*name != instance.name || provider_id.strip_prefix(prefix) == Some(name));
    *state == reported
        && *since == instance.creating_since
        && *name == instance.name
        && *error == instance.error
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::time::Instant;

    use super::*;
    use crate::engine::test_fixture::state_with_groups;

    const GROUPS: &str = "[nodegroup \"a\"]
min-size = 0
max-size = 5
name-prefix = k8s-a
[nodegroup \"b\"]
min-size = 0
max-size = 5
name-prefix = k8s-b
";

    fn state() -> State {
        let mut state = state_with_groups(GROUPS);
        let now = Instant::now();
        for (group, name) in [("a", "k8s-a-1"), ("b", "k8s-b-1"), ("a", "k8s-a-2")] {
            state.add_instance(group, name.to_owned(), Phase::Running, now);
        }
        state.add_instance("b", "k8s-b-p".to_owned(), Phase::Parked, now);
        state
    }

    #[test]
    fn an_unchanged_state_shares_every_list_and_the_name_index() {
        let state = state();
        let first = Snapshot::build(&state, &Snapshot::default());
        let second = Snapshot::build(&state, &first);
        for (name, view) in &second.groups {
            assert!(Arc::ptr_eq(&view.instances, &first.groups[name].instances));
        }
        assert!(Arc::ptr_eq(&second.by_name, &first.by_name));
        assert_eq!(second.groups["a"].instances.len(), 2);
        assert_eq!(second.groups["b"].parked_servers, ["k8s-b-p"]);
        let prefix = state.config.provider_id_prefix.clone();
        assert!(!prefix.is_empty());
        let id = |name: &str| format!("{prefix}{name}");
        assert_eq!(
            second.group_by_provider_id(&prefix, &id("k8s-b-1")),
            Some("b")
        );
        assert_eq!(second.group_by_provider_id(&prefix, "k8s-b-1"), None);
        // Parked servers are not reported, so they have no group.
        assert_eq!(second.group_by_provider_id(&prefix, &id("k8s-b-p")), None);
    }

    #[test]
    fn a_group_is_found_by_its_interned_name_or_else_by_text() {
        let state = state();
        let positions = GroupPositions::new(&state);
        let b = state.groups["b"].name.clone();
        assert_eq!(positions.of(&b), Some(1));
        assert_eq!(
            positions.of(&Arc::from("b")),
            Some(1),
            "same text, not interned"
        );
        assert_eq!(positions.of(&Arc::from("c")), None);
    }

    #[test]
    fn a_changed_group_is_rebuilt_and_the_others_shared() {
        let mut state = state();
        let first = Snapshot::build(&state, &Snapshot::default());
        let key = state
            .instances
            .values()
            .find(|i| i.name == "k8s-a-2")
            .unwrap()
            .key;
        state.instances.get_mut(&key).unwrap().phase =
            Phase::Deleting(crate::engine::model::DeleteStep::Mark);
        let second = Snapshot::build(&state, &first);
        assert!(!Arc::ptr_eq(
            &second.groups["a"].instances,
            &first.groups["a"].instances
        ));
        assert!(Arc::ptr_eq(
            &second.groups["b"].instances,
            &first.groups["b"].instances
        ));
        assert_eq!(second.groups["a"].target_size, 1);
        assert_eq!(
            second.groups["a"].instances[1].state,
            InstanceState::Deleting
        );
        // The same instances with another state index the same names: a fresh index is
        // built all the same, and it answers like the old one.
        assert_eq!(second.by_name.len(), 3);
        assert_eq!(second.by_name.get("k8s-a-2").map(|g| &**g), Some("a"));
        // A new instance with an old name is another instance: rebuilt.
        state.instances.remove(&key);
        state.add_instance("a", "k8s-a-2".to_owned(), Phase::Running, Instant::now());
        let third = Snapshot::build(&state, &second);
        assert!(!Arc::ptr_eq(
            &third.groups["a"].instances,
            &second.groups["a"].instances
        ));
        assert_eq!(third.groups["a"].target_size, 2);
    }
}
