//! The read side: an immutable picture of every group, rebuilt after each change and
//! shared with readers, so reads never wait for the reconciler or the API.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::time::Instant;

use super::model::{InstanceView, Phase};
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
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) groups: BTreeMap<String, GroupView>,
    /// Instance id → group.
    pub(crate) by_provider_id: HashMap<String, String>,
    /// Server (node) name → group.
    pub(crate) by_name: HashMap<String, String>,
    pub(crate) last_list_ok: Option<Instant>,
    pub(crate) last_list_error: Option<String>,
    pub(crate) commands_in_flight: usize,
    pub(crate) deletions_retrying: usize,
    pub(crate) counters: super::listing::RobustnessCounters,
}

impl Snapshot {
    pub(crate) fn build(state: &State) -> Self {
        let prefix = state.config.provider_id_prefix.as_str();
        let mut groups: BTreeMap<String, GroupView> = state
            .groups
            .iter()
            .map(|(name, facts)| {
                (
                    name.clone(),
                    GroupView {
                        name: name.clone(),
                        min_size: facts.config.min_size,
                        max_size: facts.config.max_size,
                        target_size: 0,
                        instances: Arc::from([]),
                        parked: 0,
                        parked_servers: Vec::new(),
                    },
                )
            })
            .collect();
        let mut by_provider_id = HashMap::with_capacity(state.instances.len());
        let mut by_name = HashMap::with_capacity(state.instances.len());
        let mut instances: HashMap<&str, Vec<InstanceView>> = HashMap::new();
        for instance in state.instances.values() {
            let Some(view) = groups.get_mut(&instance.group) else {
                continue;
            };
            if instance.phase == Phase::Parked {
                view.parked += 1;
                view.parked_servers.push(instance.name.clone());
            }
            let Some(reported) = instance.reported_state() else {
                continue;
            };
            let id = provider_id(prefix, &instance.name);
            if reported != super::model::InstanceState::Deleting {
                view.target_size += 1;
            }
            by_provider_id.insert(id.clone(), instance.group.clone());
            by_name.insert(instance.name.clone(), instance.group.clone());
            instances
                .entry(instance.group.as_str())
                .or_default()
                .push(InstanceView {
                    provider_id: id,
                    name: instance.name.clone(),
                    state: reported,
                    error: instance.error.clone(),
                    since: instance.creating_since,
                });
        }
        for (name, view) in &mut groups {
            view.parked_servers.sort_unstable();
            if let Some(list) = instances.remove(name.as_str()) {
                view.instances = list.into();
            }
        }
        Self {
            groups,
            by_provider_id,
            by_name,
            last_list_ok: state.last_list_ok,
            last_list_error: state.last_list_error.clone(),
            commands_in_flight: state.outstanding_commands().len(),
            deletions_retrying: state
                .instances
                .values()
                .filter(|i| i.delete_attempts > 0)
                .count(),
            counters: state.counters.clone(),
        }
    }
}
