//! Scale requests from cluster-autoscaler: recorded at once, carried out by the reconciler.

use tokio::time::Instant;

use super::error::Error;
use super::model::{DeleteStep, InstanceKey, InstanceState, Phase};
use super::state::State;
use crate::naming::{new_server_name, provider_id};

/// A node cluster-autoscaler asks to delete: its provider id and name (for a FakeNode
/// both are the instance id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRef {
    /// `spec.providerID` (may be empty for nodes that lack one).
    pub provider_id: String,
    /// Node name.
    pub name: String,
}

impl State {
    fn group_or_err(&self, group: &str) -> Result<(), Error> {
        if self.groups.contains_key(group) {
            Ok(())
        } else {
            Err(Error::UnknownNodeGroup {
                group: group.to_owned(),
            })
        }
    }

    /// Instances reported as Creating or Running: the group's target size.
    pub(crate) fn target_size(&self, group: &str) -> u32 {
        let count = self
            .instances
            .values()
            .filter(|i| &*i.group == group)
            .filter(|i| {
                matches!(
                    i.reported_state(),
                    Some(InstanceState::Creating | InstanceState::Running)
                )
            })
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Records `delta` new instances (powering parked ones on first when the group reuses
    /// them). Nothing is sent here.
    pub(crate) fn increase_size(
        &mut self,
        group: &str,
        delta: i64,
        now: Instant,
    ) -> Result<(), Error> {
        self.group_or_err(group)?;
        if delta <= 0 {
            return Err(Error::InvalidDelta {
                group: group.to_owned(),
                delta,
                reason: "an increase must be positive",
            });
        }
        let facts = &self.groups[group];
        let max = facts.config.max_size;
        let reuse = facts.config.poweron_on_scale_up;
        let name_prefix = facts.config.server.name_prefix.clone();
        let target = self.target_size(group);
        if i64::from(target).saturating_add(delta) > i64::from(max) {
            return Err(Error::MaxSizeExceeded {
                group: group.to_owned(),
                target,
                delta,
                max,
            });
        }
        let mut remaining = usize::try_from(delta).unwrap_or(usize::MAX);
        if reuse {
            let mut parked: Vec<(Option<Instant>, String, InstanceKey)> = self
                .instances
                .values()
                .filter(|i| &*i.group == group && i.phase == Phase::Parked && i.server_id.is_some())
                .map(|i| (i.parked_at, i.name.clone(), i.key))
                .collect();
            // Most recently parked first: its disk is the freshest.
            parked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            for (_, name, key) in parked.into_iter().take(remaining) {
                if let Some(instance) = self.instances.get_mut(&key) {
                    instance.phase = Phase::PowerOnQueued;
                    instance.boot_pending = true;
                    instance.creating_since = now;
                    instance.error = None;
                    remaining -= 1;
                    tracing::info!(group, server = %name, "scale-up: reusing parked server");
                }
            }
        }
        for _ in 0..remaining {
            let name = loop {
                let candidate = new_server_name(&name_prefix, &mut self.rng);
                if !self.instances.values().any(|i| i.name == candidate) {
                    break candidate;
                }
            };
            tracing::info!(group, server = %name, "scale-up: new server queued");
            self.add_instance(group, name, Phase::CreateQueued, now);
        }
        tracing::info!(
            group,
            from = target,
            to = i64::from(target).saturating_add(delta),
            "increasing node group size"
        );
        Ok(())
    }

    /// Marks the instances behind `nodes` for deletion, after checking every one of them.
    /// Either all are accepted or nothing changes.
    pub(crate) fn delete_nodes(
        &mut self,
        group: &str,
        nodes: &[NodeRef],
        now: Instant,
    ) -> Result<(), Error> {
        self.group_or_err(group)?;
        let prefix = self.config.provider_id_prefix.clone();
        let mut keys = Vec::with_capacity(nodes.len());
        for node in nodes {
            let found = self.instances.values().find(|i| {
                &*i.group == group
                    && i.reported_state().is_some()
                    && if node.provider_id.is_empty() {
                        i.name == node.name
                    } else {
                        provider_id(&prefix, &i.name) == node.provider_id
                    }
            });
            match found {
                Some(instance) => {
                    if !keys.contains(&instance.key) {
                        keys.push(instance.key);
                    }
                }
                None => {
                    return Err(Error::NodeNotInGroup {
                        group: group.to_owned(),
                        node: node.name.clone(),
                        provider_id: node.provider_id.clone(),
                    });
                }
            }
        }
        let healthy = |phase: &Phase, failed: bool| *phase == Phase::Running && !failed;
        let running = self
            .instances
            .values()
            .filter(|i| &*i.group == group && healthy(&i.phase, i.error.is_some()))
            .count();
        let running_to_delete = keys
            .iter()
            .filter_map(|k| self.instances.get(k))
            .filter(|i| healthy(&i.phase, i.error.is_some()))
            .count();
        let min = self.groups[group].config.min_size;
        if running_to_delete > 0 && (running - running_to_delete) < min as usize {
            return Err(Error::MinSizeViolated {
                group: group.to_owned(),
                running: u32::try_from(running).unwrap_or(u32::MAX),
                deleting: u32::try_from(running_to_delete).unwrap_or(u32::MAX),
                min,
            });
        }
        for key in keys {
            self.mark_for_deletion(key, now);
        }
        Ok(())
    }

    fn mark_for_deletion(&mut self, key: InstanceKey, now: Instant) {
        let Some(instance) = self.instances.get_mut(&key) else {
            return;
        };
        let group = instance.group.clone();
        let name = instance.name.clone();
        let next = match (&instance.phase, instance.server_id.is_some()) {
            (Phase::Deleting(_), _) => None,
            (Phase::CreateQueued, _) => {
                self.instances.remove(&key);
                tracing::info!(group = &*group, server = %name, "scale-down: dropped a create that was not sent yet");
                return;
            }
            (Phase::PowerOnQueued, _) => Some(Phase::Parked),
            (Phase::CreateRunning { command } | Phase::PowerOnRunning { command }, _) => {
                Some(Phase::Deleting(DeleteStep::AfterCommand {
                    command: command.clone(),
                }))
            }
            (Phase::Running | Phase::CreateFailed | Phase::AwaitRunning, true) => {
                // A server left by a failed create is terminated, never parked for reuse.
                instance.terminate_only |= instance.phase == Phase::CreateFailed
                    && instance.search_after_request.is_some();
                Some(Phase::Deleting(DeleteStep::Mark))
            }
            (Phase::CreateFailed, false)
                if instance
                    .search_after_request
                    .is_some_and(|request| self.applied_request <= request) =>
            {
                // Its create may have left a half-created server that is not listed yet.
                instance.terminate_only = true;
                Some(Phase::Deleting(DeleteStep::Mark))
            }
            (Phase::CreateFailed, false) => {
                self.instances.remove(&key);
                tracing::info!(group = &*group, server = %name, "scale-down: forgot a failed create that left no server");
                return;
            }
            // A request in flight, or a server that may still appear: decide once known.
            _ => {
                instance.delete_requested = true;
                None
            }
        };
        if let Some(phase) = next {
            instance.phase = phase;
            instance.retry_at = None;
            instance.delete_attempts = 0;
            instance.command_since = instance.command_since.or(Some(now));
        }
        tracing::info!(group = &*group, server = %name, "scale-down: node marked for deletion");
    }

    /// Drops `-delta` requested instances whose create was not sent yet.
    pub(crate) fn decrease_target_size(&mut self, group: &str, delta: i64) -> Result<(), Error> {
        self.group_or_err(group)?;
        if delta >= 0 {
            return Err(Error::InvalidDelta {
                group: group.to_owned(),
                delta,
                reason: "a decrease must be negative",
            });
        }
        let mut queued: Vec<InstanceKey> = self
            .instances
            .values()
            .filter(|i| &*i.group == group && i.phase == Phase::CreateQueued)
            .map(|i| i.key)
            .collect();
        let wanted = usize::try_from(delta.unsigned_abs()).unwrap_or(usize::MAX);
        if wanted > queued.len() {
            return Err(Error::DecreaseTooLarge {
                group: group.to_owned(),
                delta,
                unsent: u32::try_from(queued.len()).unwrap_or(u32::MAX),
            });
        }
        // Newest first: they are the least likely to be picked up by a running pass.
        queued.sort_unstable_by(|a, b| b.cmp(a));
        for key in queued.into_iter().take(wanted) {
            self.instances.remove(&key);
        }
        tracing::info!(
            group,
            delta,
            "decreased target size by dropping unsent creates"
        );
        Ok(())
    }
}
