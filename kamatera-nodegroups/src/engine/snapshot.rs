//! The read side: an immutable picture of every group, rebuilt after each change and
//! shared with readers, so reads never wait for the reconciler or the API.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::time::Instant;

use super::model::{Instance, InstanceState, InstanceView, Phase};
use super::name_index::NameIndex;
use super::state::{GroupFacts, State};
use crate::cost::{BilledMember, GroupCost};
use crate::naming::provider_id;
use crate::pricing::{PriceRates, PriceSource};

/// One node group as the snapshot shows it.
#[derive(Debug, Clone, PartialEq)]
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
    /// What the provider found done to the group's servers outside it, and what it did,
    /// oldest first (the last [`FINDINGS_KEPT`] of them).
    pub findings: Arc<[Finding]>,
    /// What one node of the group costs, where that price came from, and what the
    /// members cost.
    pub cost: GroupCost,
}

/// How many findings each group keeps.
pub const FINDINGS_KEPT: usize = 20;

/// A change made to a server outside the provider (in the console or through the API by
/// someone else), as the provider found it (docs/engine-robustness.md, "Human hands").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was found.
    pub kind: FindingKind,
    /// The server's name when it was found (after a rename: the new name).
    pub server: String,
    /// The server's Kamatera id.
    pub server_id: String,
    /// What was found and what the provider did, in words.
    pub detail: String,
    /// When it was found.
    pub at: Instant,
}

/// The kinds of [`Finding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A member no longer exists (terminated outside the provider).
    Gone,
    /// A member lost the node group tags.
    TagsRemoved,
    /// A member was renamed.
    Renamed,
    /// A running member was powered off.
    PoweredOff,
    /// A server the provider did not create was given the node group tags.
    Adopted,
}

impl FindingKind {
    /// A stable label (`gone`, `tags_removed`, `renamed`, `powered_off`, `adopted`).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Gone => "gone",
            FindingKind::TagsRemoved => "tags_removed",
            FindingKind::Renamed => "renamed",
            FindingKind::PoweredOff => "powered_off",
            FindingKind::Adopted => "adopted",
        }
    }
}

/// Everything readers need, consistent at one moment.
///
/// A snapshot is rebuilt after every change of the state, and at every reconcile pass even
/// when nothing changed, so building one must cost little: a group none of whose
/// instances changed since the previous snapshot (see [`Instances`]) is shared with that
/// snapshot, and when no group changed the name index is shared too. A steady pass then
/// builds nothing per instance.
///
/// [`Instances`]: super::instances::Instances
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) groups: BTreeMap<String, GroupView>,
    /// Server (node) name → group, for every reported instance. An instance's id is
    /// `<provider-id-prefix><name>`, so this index answers look-ups by id as well.
    pub(crate) by_name: Arc<NameIndex>,
    /// Per group (indexed like `State::groups`), what the totals below add up.
    group_counts: Vec<GroupCounts>,
    pub(crate) last_list_ok: Option<Instant>,
    pub(crate) last_list_error: Option<String>,
    /// What the lists have been failing with since the last good one.
    pub(crate) api_trouble: Option<super::ApiTrouble>,
    pub(crate) commands_in_flight: usize,
    pub(crate) deletions_retrying: usize,
    pub(crate) counters: super::listing::RobustnessCounters,
}

/// One group's share of the snapshot's totals.
#[derive(Debug, Default, Clone, Copy)]
struct GroupCounts {
    commands_in_flight: usize,
    deletions_retrying: usize,
}

/// One changed group while a snapshot is built.
#[derive(Default)]
struct GroupBuild {
    counts: GroupCounts,
    target_size: u32,
    parked_servers: Vec<String>,
    instances: Vec<InstanceView>,
    billed: Vec<BilledMember>,
    hourly: f64,
    /// The first member's own on-price, for the group's node price.
    member_price: Option<f64>,
}

impl Snapshot {
    /// The snapshot of `state`, sharing with `previous` every group not in `changed`.
    pub(crate) fn build(state: &State, previous: &Snapshot, changed: &BTreeSet<Arc<str>>) -> Self {
        let prefix = state.config.provider_id_prefix.as_str();
        let positions = GroupPositions::new(state);
        // A group is built anew when it changed, or when the previous snapshot lacks it
        // (the first snapshot).
        let shared: Vec<Option<(&GroupView, GroupCounts)>> = state
            .groups
            .keys()
            .enumerate()
            .map(|(index, name)| {
                if changed.contains(name.as_str()) {
                    return None;
                }
                let view = previous.groups.get(name)?;
                let counts = previous.group_counts.get(index)?;
                Some((view, *counts))
            })
            .collect();
        let all_shared = shared.iter().all(Option::is_some);
        let mut builds: Vec<GroupBuild> = shared.iter().map(|_| GroupBuild::default()).collect();
        if !all_shared {
            for instance in state.instances.values() {
                let Some(index) = positions.of(&instance.group) else {
                    continue;
                };
                if shared[index].is_some() {
                    continue;
                }
                let build = &mut builds[index];
                build.counts.commands_in_flight += usize::from(instance.phase.command().is_some());
                build.counts.deletions_retrying += usize::from(instance.delete_attempts > 0);
                if instance.phase == Phase::Parked {
                    build.parked_servers.push(instance.name.clone());
                }
                if let Some(facts) = state.groups.get(&*instance.group) {
                    bill(state, facts, instance, build);
                }
                let Some(reported) = instance.reported_state() else {
                    continue;
                };
                if reported != InstanceState::Deleting {
                    build.target_size += 1;
                }
                build.instances.push(InstanceView {
                    provider_id: provider_id(prefix, &instance.name),
                    name: instance.name.clone(),
                    state: reported,
                    error: instance.error.clone(),
                    since: instance.creating_since,
                    waiting: instance.waiting.clone(),
                    hourly_price: instance.prices.hourly_on,
                });
            }
        }
        let mut groups = BTreeMap::new();
        let mut group_counts = Vec::with_capacity(builds.len());
        for (((name, facts), build), shared) in state.groups.iter().zip(builds).zip(shared) {
            let (mut view, counts) = match shared {
                Some((view, counts)) => (view.clone(), counts),
                None => {
                    let mut parked_servers = build.parked_servers;
                    parked_servers.sort_unstable();
                    let rates = &state.config.price_rates;
                    let (node_hourly, source) = match build.member_price {
                        Some(price) => (price, PriceSource::Api),
                        None => (
                            rates.group_hourly(&facts.config),
                            PriceRates::group_source(&facts.config),
                        ),
                    };
                    let cost = GroupCost {
                        node_hourly,
                        source,
                        hourly: build.hourly,
                        members: build.billed.into(),
                    };
                    let view = GroupView {
                        name: name.clone(),
                        min_size: facts.config.min_size,
                        max_size: facts.config.max_size,
                        target_size: build.target_size,
                        instances: build.instances.into(),
                        parked: parked_servers.len() as u32,
                        parked_servers,
                        findings: Arc::default(),
                        cost,
                    };
                    (view, build.counts)
                }
            };
            // Findings change without any instance changing: always the current ones.
            view.findings = state
                .findings
                .get(name.as_str())
                .cloned()
                .unwrap_or_default();
            group_counts.push(counts);
            groups.insert(name.clone(), view);
        }
        let by_name = if all_shared {
            previous.by_name.clone()
        } else {
            let group_names = state.groups.values().map(|g| g.name.clone()).collect();
            let mut by_name = NameIndex::with_capacity(state.instances.len(), group_names);
            for instance in state.instances.values() {
                if let Some(position) = positions.of(&instance.group)
                    && instance.reported_state().is_some()
                {
                    by_name.insert(&instance.name, position);
                }
            }
            Arc::new(by_name)
        };
        Self {
            groups,
            by_name,
            commands_in_flight: group_counts.iter().map(|c| c.commands_in_flight).sum(),
            deletions_retrying: group_counts.iter().map(|c| c.deletions_retrying).sum(),
            group_counts,
            last_list_ok: state.last_list_ok,
            last_list_error: state.last_list_error.clone(),
            api_trouble: state.trouble.current().cloned(),
            counters: state.counters.clone(),
        }
    }

    /// The group of the reported instance whose id is `provider_id`.
    pub(crate) fn group_by_provider_id(&self, prefix: &str, provider_id: &str) -> Option<&str> {
        let name = provider_id.strip_prefix(prefix)?;
        self.by_name.get(name)
    }
}

/// Adds what `instance` costs to its group's build: a member with a server is billed at
/// its own price when the API told one, else at the group's configured or rate-derived
/// price; powered on at the on-price, off (parked) at the off-price (crate::cost).
fn bill(state: &State, facts: &GroupFacts, instance: &Instance, build: &mut GroupBuild) {
    let Some(id) = &instance.server_id else {
        return;
    };
    let rates = &state.config.price_rates;
    let on = match state.servers.get(id) {
        Some(server) => server.power_on,
        None => instance.phase != Phase::Parked,
    };
    let own = if on {
        instance.prices.hourly_on
    } else {
        instance.prices.hourly_off
    };
    let hourly = own.unwrap_or_else(|| {
        if on {
            rates.group_hourly(&facts.config)
        } else {
            rates.group_off_hourly(&facts.config)
        }
    });
    if build.member_price.is_none() {
        build.member_price = instance.prices.hourly_on;
    }
    build.hourly += hourly;
    build.billed.push(BilledMember {
        hourly,
        from_api: own.is_some(),
        since: instance.created_at,
    });
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

    /// Builds the snapshot as the engine does, with the groups changed since the last.
    fn build(state: &mut State, previous: &Snapshot) -> Snapshot {
        let changed = state.instances.take_changed();
        Snapshot::build(state, previous, &changed)
    }

    #[test]
    fn an_unchanged_state_shares_every_list_and_the_name_index() {
        let mut state = state();
        let first = build(&mut state, &Snapshot::default());
        let second = build(&mut state, &first);
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
        let first = build(&mut state, &Snapshot::default());
        let key = state
            .instances
            .values()
            .find(|i| i.name == "k8s-a-2")
            .unwrap()
            .key;
        state.instances.get_mut(&key).unwrap().phase =
            Phase::Deleting(crate::engine::model::DeleteStep::Mark);
        let second = build(&mut state, &first);
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
        assert_eq!(second.by_name.get("k8s-a-2"), Some("a"));
        // A new instance with an old name is another instance: rebuilt.
        state.instances.remove(&key);
        state.add_instance("a", "k8s-a-2".to_owned(), Phase::Running, Instant::now());
        let third = build(&mut state, &second);
        assert!(!Arc::ptr_eq(
            &third.groups["a"].instances,
            &second.groups["a"].instances
        ));
        assert_eq!(third.groups["a"].target_size, 2);
    }

    #[test]
    fn totals_add_the_rebuilt_groups_to_the_shared_ones() {
        let mut state = state();
        let keys: Vec<_> = state.instances.keys().copied().collect();
        // One retrying deletion in "b", then one command in flight in "a".
        state.instances.get_mut(&keys[1]).unwrap().delete_attempts = 1;
        let first = build(&mut state, &Snapshot::default());
        assert_eq!((first.commands_in_flight, first.deletions_retrying), (0, 1));
        state.instances.get_mut(&keys[0]).unwrap().phase = Phase::CreateRunning {
            command: kamatera_api::CommandId::new("7"),
        };
        let second = build(&mut state, &first);
        assert!(Arc::ptr_eq(
            &second.groups["b"].instances,
            &first.groups["b"].instances
        ));
        assert_eq!(
            (second.commands_in_flight, second.deletions_retrying),
            (1, 1)
        );
    }
}
